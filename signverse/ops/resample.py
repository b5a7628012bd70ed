"""Time-preserving resampling to another frame rate."""
from __future__ import annotations

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq

# Positions closer than this to a source frame use that frame alone (float noise of k * ratio).
_SNAP = 1e-6


def resample(pose: PoseSeq, fps: float) -> PoseSeq:
    """Resample to ``fps`` keeping the duration: output frame k shows time ``k / fps``.

    The output has ``round(duration * fps)`` frames (at least one). Each point is linearly
    interpolated between the two source frames around its time; when either of them lacks the
    point, the output point is missing (nothing is invented across gaps). A time that falls on a
    source frame takes that frame as is; times after the last source frame (its display interval)
    hold the last frame. Confidence is interpolated like the coordinates.

    >>> import numpy as np
    >>> xy = np.arange(30, dtype=np.float32).reshape(30, 1, 1, 1).repeat(2, -1)
    >>> pose = PoseSeq(xy, np.ones((30, 1, 1), np.float32), 30, 64, 64, "custom")
    >>> out = resample(pose, 24)
    >>> out.n_frames, out.duration, out.xy[1, 0, 0, 0].item()
    (24, 1.0, 1.25)
    """
    if not (fps > 0 and np.isfinite(fps)):
        raise SignverseError(f"target fps must be positive, got {fps}")
    if pose.n_frames == 0 or np.isclose(fps, pose.fps, rtol=0, atol=1e-9):
        return pose.replace(fps=float(fps))
    n_out = max(1, int(round(pose.duration * fps)))
    pos = np.arange(n_out, dtype=np.float64) * (pose.fps / fps)       # in source frames
    pos = np.minimum(pos, pose.n_frames - 1)
    nearest = np.rint(pos)
    pos = np.where(np.abs(pos - nearest) < _SNAP, nearest, pos)
    left = np.floor(pos).astype(np.int64)
    right = np.minimum(left + 1, pose.n_frames - 1)
    frac = (pos - left)[:, None, None]                                  # [T', 1, 1]
    exact = frac == 0

    valid = pose.valid
    ok = valid[left] & (exact | valid[right])
    xy_l, xy_r = pose.xy[left].astype(np.float64), pose.xy[right].astype(np.float64)
    xy = np.where(exact[..., None], xy_l, xy_l + (xy_r - xy_l) * frac[..., None])
    conf = np.where(exact, pose.conf[left], pose.conf[left] + (pose.conf[right] - pose.conf[left]) * frac)
    xy = np.where(ok[..., None], xy, np.nan).astype(np.float32)
    conf = np.where(ok, conf, 0.0).astype(np.float32)
    z = None
    if pose.z is not None:   # depth is interpolated like the coordinates
        z_l, z_r = pose.z[left].astype(np.float64), pose.z[right].astype(np.float64)
        z = np.where(ok, np.where(exact, z_l, z_l + (z_r - z_l) * frac), np.nan).astype(np.float32)
    return pose.replace(xy=xy, conf=conf, fps=float(fps), z=z)

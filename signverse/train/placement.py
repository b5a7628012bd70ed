"""Where generated poses go in a frame: text->pose models work in body-relative units
(neck-centred, shoulder-width-scaled); a ``.pose`` file a user opens needs pixels of a real frame.

At training time ``measure_placement`` records the training data's typical frame size, neck
position and shoulder width in pixels (medians over the clips); ``place_frames`` maps generated
frames back into that frame (or into a frame of a size the user asks for, scaled to fit).
"""
from __future__ import annotations

import logging

import numpy as np

from signverse.core.pose import PoseSeq

log = logging.getLogger(__name__)

# Runs trained before placement was recorded: a centred upper-body shot, shoulders a third of
# the frame's smaller side apart, neck 40% down (what a typical signing video looks like).
DEFAULT_SIZE = (640, 480)
_DEFAULT_NECK = (0.5, 0.4)
_DEFAULT_SHOULDER = 1 / 3
_MAX_MEASURED = 200     # clips measured (evenly spaced): medians settle long before that


def measure_placement(poses: list[PoseSeq]) -> dict | None:
    """Typical ``width``, ``height``, ``neck_x``, ``neck_y``, ``shoulder_width`` (pixels) of ``poses``."""
    from signverse.layouts import convert, get_layout
    from signverse.ops.normalize import normalize
    poses = [p for p in poses if p is not None and p.n_persons and p.width > 1 and p.height > 1]
    if len(poses) > _MAX_MEASURED:
        poses = [poses[i] for i in np.linspace(0, len(poses) - 1, _MAX_MEASURED).astype(int)]
    rows = []
    for pose in poses:
        try:
            dw = pose if get_layout(pose.layout).name == "dwpose" else convert(pose, "dwpose")
            _, tf = normalize(dw.persons(0), "neck_shoulder")
        except Exception as exc:   # a clip without shoulders says nothing about placement
            log.debug("placement: skipping a clip (%s)", exc)
            continue
        center, scale = tf.center[0, 0], tf.scale[0, 0, 0]
        if np.isfinite(center).all() and np.isfinite(scale) and scale > 0:
            rows.append((pose.width, pose.height, center[0], center[1], scale))
    if not rows:
        return None
    w, h, nx, ny, s = np.median(np.asarray(rows, np.float64), axis=0)
    return {"width": int(round(w)), "height": int(round(h)), "neck_x": round(float(nx), 2),
            "neck_y": round(float(ny), 2), "shoulder_width": round(float(s), 2)}


def place_frames(frames: np.ndarray, placement: dict | None, *, size: tuple[int, int] | None = None,
                 fps: float = 24.0, min_conf: float = 0.5) -> PoseSeq:
    """Generated ``[T, 384]`` normalised DWPose frames -> a one-person ``PoseSeq`` in pixels.

    ``placement`` is what ``measure_placement`` recorded (``None``: a default upper-body shot of
    ``DEFAULT_SIZE``); ``size`` (width, height) rescales it into another frame, keeping the body's
    proportions and its relative position.
    """
    if placement is None:
        base_w, base_h = size or DEFAULT_SIZE
        placement = {"width": base_w, "height": base_h, "neck_x": _DEFAULT_NECK[0] * base_w,
                     "neck_y": _DEFAULT_NECK[1] * base_h,
                     "shoulder_width": _DEFAULT_SHOULDER * min(base_w, base_h)}
    width, height = size or (placement["width"], placement["height"])
    sx, sy = width / placement["width"], height / placement["height"]
    center = np.array([placement["neck_x"] * sx, placement["neck_y"] * sy], np.float32)
    scale = np.float32(placement["shoulder_width"] * min(sx, sy))
    f = np.asarray(frames, np.float32).reshape(len(frames), -1, 3)
    conf = np.where(f[..., 2] > min_conf, f[..., 2], 0.0).astype(np.float32)
    xy = f[..., :2] * scale + center
    return PoseSeq(xy[:, None], conf[:, None], fps=fps, width=int(width), height=int(height), layout="dwpose")

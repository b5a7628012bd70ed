"""The pose sequence type every reader returns and every model consumes."""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from signverse.core.errors import SignverseError


@dataclass(frozen=True, eq=False)
class PoseSeq:
    """2D keypoints of ``P`` people over ``T`` frames in one skeleton layout.

    ``xy`` is ``[T, P, K, 2]`` float32 in pixels of a ``width`` x ``height`` frame, NaN where a point
    is missing; ``conf`` is ``[T, P, K]`` float32, 0 where a point is missing. ``layout`` names a
    layout of ``signverse.layouts``. Operations return new objects; arrays are never changed in place.

    ``z`` is the optional depth ``[T, P, K]`` float32 (NaN where missing) of sources that have one
    (a ``.pose`` file in XYZC, MediaPipe's relative depth or world landmarks in metres). Slicing
    frames or people keeps it, layout conversion maps it and resampling interpolates it like
    ``xy``; an operation that replaces ``xy`` without giving ``z`` drops it (it would no longer
    line up).

    >>> import numpy as np
    >>> xy = np.zeros((3, 1, 2, 2), np.float32)
    >>> pose = PoseSeq(xy, np.ones((3, 1, 2), np.float32), fps=24.0, width=640, height=480, layout="custom")
    >>> pose.n_frames, pose.n_persons, pose.n_points, round(pose.duration, 3)
    (3, 1, 2, 0.125)
    """

    xy: np.ndarray
    conf: np.ndarray
    fps: float
    width: int
    height: int
    layout: str
    z: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float32)
        conf = np.asarray(self.conf, dtype=np.float32)
        if xy.ndim != 4 or xy.shape[-1] != 2:
            raise SignverseError(f"xy must be [T, P, K, 2], got shape {xy.shape}")
        if conf.shape != xy.shape[:3]:
            raise SignverseError(f"conf must be [T, P, K] = {xy.shape[:3]}, got shape {conf.shape}")
        if not (self.fps > 0 and np.isfinite(self.fps)):
            raise SignverseError(f"fps must be positive, got {self.fps}")
        # One invariant for "missing": conf 0 and xy NaN, whichever way the caller said it.
        # Checked per coordinate plane (contiguous work) and copied only where it changes anything.
        present = (conf > 0) & np.isfinite(xy[..., 0]) & np.isfinite(xy[..., 1])
        if not present.all():
            missing = ~present
            inconsistent = missing & ((conf != 0) | ~np.isnan(xy[..., 0]) | ~np.isnan(xy[..., 1]))
            if inconsistent.any():
                xy = xy.copy()
                conf = conf.copy()
                xy[missing] = np.nan
                conf[missing] = 0.0
        if self.z is not None:
            z = np.asarray(self.z, dtype=np.float32)
            if z.shape != xy.shape[:3]:
                raise SignverseError(f"z must be [T, P, K] = {xy.shape[:3]}, got shape {z.shape}")
            absent = ~((conf > 0) & np.isfinite(xy[..., 0]))
            if absent.any() and np.isfinite(z[absent]).any():
                z = z.copy()
                z[absent] = np.nan
            object.__setattr__(self, "z", z)
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "conf", conf)
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # -- shape -------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.xy.shape[0]

    @property
    def n_persons(self) -> int:
        return self.xy.shape[1]

    @property
    def n_points(self) -> int:
        return self.xy.shape[2]

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    @property
    def valid(self) -> np.ndarray:
        """``[T, P, K]`` bool: the point was detected."""
        return self.conf > 0

    def times(self) -> np.ndarray:
        """Start time in seconds of each frame (frame k is at k / fps)."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def persons_per_frame(self) -> np.ndarray:
        """``[T]`` number of people with at least one detected point."""
        return self.valid.any(-1).sum(-1)

    # -- derived sequences -------------------------------------------------------------------
    @property
    def has_depth(self) -> bool:
        return self.z is not None

    def replace(self, **changes) -> "PoseSeq":
        if "xy" in changes and "z" not in changes and self.z is not None:
            # the new xy may be moved, resampled or re-ordered: the old depth would not line up
            logging.getLogger(__name__).debug("depth dropped by an operation that does not carry it")
            changes["z"] = None
        return dataclasses.replace(self, **changes)

    def frames(self, start: int, stop: int | None = None) -> "PoseSeq":
        """Frames ``start:stop`` (time origin moves with them)."""
        return self.replace(xy=self.xy[start:stop], conf=self.conf[start:stop],
                            z=None if self.z is None else self.z[start:stop])

    def persons(self, index) -> "PoseSeq":
        """Keep the people at ``index`` (an int keeps the person axis)."""
        index = [index] if isinstance(index, (int, np.integer)) else index
        return self.replace(xy=self.xy[:, index], conf=self.conf[:, index],
                            z=None if self.z is None else self.z[:, index])

    @classmethod
    def empty(cls, n_frames: int, n_persons: int, n_points: int, *, fps: float, width: int,
              height: int, layout: str) -> "PoseSeq":
        """A sequence with every point missing."""
        return cls(np.full((n_frames, n_persons, n_points, 2), np.nan, np.float32),
                   np.zeros((n_frames, n_persons, n_points), np.float32),
                   fps=fps, width=width, height=height, layout=layout)

    def __repr__(self) -> str:
        return (f"PoseSeq(layout={self.layout!r}, frames={self.n_frames}, persons={self.n_persons}, "
                f"points={self.n_points}, fps={self.fps:g}, size={self.width}x{self.height})")


_DEPTH_WARNED: set[str] = set()


def warn_depth_dropped(pose: PoseSeq, target: str) -> None:
    """Say once per kind of target (a 2D-only format) that ``pose``'s depth is not written."""
    if pose.z is None or target in _DEPTH_WARNED:
        return
    _DEPTH_WARNED.add(target)
    logging.getLogger(__name__).warning(
        "%s stores 2D coordinates only: the depth (z) of the source is not written "
        "(a .pose file keeps it)", target)

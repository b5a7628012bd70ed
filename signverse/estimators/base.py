"""The estimator contract: a batch of RGB frames in, per-frame multi-person keypoints out.

An estimator is a callable object made by a factory registered in ``ESTIMATORS``::

    est = get_estimator("mediapipe")            # config fields as keyword arguments
    poses = est(frames)                         # frames: list of HxWx3 uint8 RGB arrays
    xy, conf = poses[0]                         # [P, K, 2] pixels (NaN missing), [P, K]
    seq = stack_frames(poses, fps=24, width=W, height=H, layout=est.layout)   # -> PoseSeq

Batches are lists so that backends can run their networks on many frames/crops at once; the number
of people ``P`` may differ per frame, which is why the result is a list and ``stack_frames`` pads.
Estimators that track over time (MediaPipe) keep state between calls: call ``reset()`` before the
frames of a new video. ``close()`` frees native resources (also done on garbage collection).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from signverse.core.pose import PoseSeq

FramePoses = tuple[np.ndarray, np.ndarray]
"""One frame's result: ``xy`` ``[P, K, 2]`` float32 pixels (NaN = missing), ``conf`` ``[P, K]``."""


@runtime_checkable
class PoseEstimator(Protocol):
    """What the pipeline needs from a pose estimator backend."""

    name: str          # registry name, e.g. "mediapipe"
    config: Any        # the backend's config dataclass instance
    layout: str        # layout name of the output points (a signverse.layouts name)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[FramePoses]:
        """Estimate poses on a batch of RGB frames (``HxWx3`` uint8), one result per frame."""
        ...

    def reset(self) -> None:
        """Forget temporal state (start of a new video)."""
        ...

    def close(self) -> None:
        """Free native resources; the object may not be used afterwards."""
        ...


@dataclass(frozen=True)
class BackendInfo:
    """Description of a registered backend for listings (``signverse extract --backend list``)."""

    name: str
    layout: str
    description: str
    requirements: tuple[str, ...] = ()
    available: bool = False
    reason: str = ""            # why it is unavailable (missing package, weights not found...)
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layout": self.layout, "description": self.description,
                "requirements": list(self.requirements), "available": self.available,
                "reason": self.reason, "options": dict(self.options)}


class EstimatorFactory(Protocol):
    """What a registry entry is: usually the estimator class itself."""

    name: ClassVar[str]

    def __call__(self, **config: Any) -> PoseEstimator: ...

    @classmethod
    def describe(cls) -> BackendInfo: ...


def missing_modules(*modules: str) -> list[str]:
    """Which of ``modules`` are not installed (checked without importing them: listing stays fast)."""
    import importlib.util
    out = []
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                out.append(module)
        except (ImportError, ValueError):
            out.append(module)
    return out


def empty_frame(n_points: int) -> FramePoses:
    """A frame where nobody was found."""
    return np.zeros((0, n_points, 2), np.float32), np.zeros((0, n_points), np.float32)


def stack_frames(poses: Sequence[FramePoses], *, fps: float, width: int, height: int, layout: str,
                 n_points: int | None = None, max_persons: int | None = None) -> PoseSeq:
    """Pad per-frame results to ``[T, P, K]`` (P = most people in a frame, or ``max_persons``)."""
    if n_points is None:
        if not poses:
            from signverse.layouts import get_layout
            n_points = get_layout(layout).num_points
        else:
            n_points = poses[0][0].shape[1]
    people = max((xy.shape[0] for xy, _ in poses), default=0)
    if max_persons is not None:
        people = min(people, max_persons)
    people = max(people, 1)  # a PoseSeq always has a person axis; empty frames stay missing
    xy = np.full((len(poses), people, n_points, 2), np.nan, np.float32)
    conf = np.zeros((len(poses), people, n_points), np.float32)
    for t, (fxy, fconf) in enumerate(poses):
        n = min(fxy.shape[0], people)
        xy[t, :n] = fxy[:n]
        conf[t, :n] = fconf[:n]
    return PoseSeq(xy, conf, fps=fps, width=width, height=height, layout=layout)


def convert_frames(poses: Sequence[FramePoses], src: str, dst: str) -> list[FramePoses]:
    """Convert per-frame results between layouts with ``signverse.layouts.convert``."""
    from signverse.layouts import get_layout
    from signverse.layouts.convert import conversion
    if get_layout(src).name == get_layout(dst).name:
        return list(poses)
    point_map = conversion(get_layout(src).name, get_layout(dst).name)
    out = []
    for xy, conf in poses:
        if xy.shape[0] == 0:
            out.append(empty_frame(get_layout(dst).num_points))
            continue
        seq = PoseSeq(xy[None], conf[None], fps=1.0, width=1, height=1, layout=src)
        res = point_map.apply(seq)
        out.append((res.xy[0], res.conf[0]))
    return out


def estimate_video(estimator: PoseEstimator, path, *, fps: float | None = 24.0, batch_size: int = 8,
                   max_persons: int | None = None) -> PoseSeq:
    """Decode ``path`` (``signverse.video.decode``) and run ``estimator`` in batches -> ``PoseSeq``.

    Memory holds one batch of frames plus the keypoints. ``estimator.reset()`` is called first, so
    tracking state never leaks between videos. With ``fps=None`` the sequence's fps is the
    container's average rate. Raises ``InputError`` for unreadable videos.
    """
    from signverse.video import decode, probe
    info = probe(path)
    estimator.reset()
    poses: list[FramePoses] = []
    batch: list[np.ndarray] = []
    width, height = info.width, info.height
    for _, _, rgb in decode(path, fps=fps):
        height, width = rgb.shape[:2]
        batch.append(rgb)
        if len(batch) >= batch_size:
            poses.extend(estimator(batch))
            batch = []
    if batch:
        poses.extend(estimator(batch))
    from signverse.layouts import get_layout
    return stack_frames(poses, fps=fps or info.fps or 25.0, width=width, height=height,
                        layout=estimator.layout, n_points=get_layout(estimator.layout).num_points,
                        max_persons=max_persons)


def format_backends(infos: Sequence[BackendInfo]) -> str:
    """A plain-text table of backends for ``signverse extract --backend list``."""
    lines = [f"{'name':12s} {'layout':20s} {'available':9s} requirements / reason"]
    for i in infos:
        lines.append(f"{i.name:12s} {i.layout:20s} {'yes' if i.available else 'no':9s} "
                     f"{', '.join(i.requirements)}")
        lines.append(f"{'':12s} {i.description}")
        if not i.available and i.reason:
            lines.append(f"{'':12s} unavailable: {i.reason}")
    return "\n".join(lines)

"""Normalisation: move poses into a body-relative frame and back.

Frame-size semantics: a normalised PoseSeq keeps ``width``/``height`` of the frame it came from
(they describe the source video, so ``denormalize`` and renderers know where it lives), but its
``xy`` are no longer pixels: with ``neck_shoulder`` they are in shoulder widths around the neck
(or the shoulder midpoint when the layout has no neck anchor), with ``frame`` they are fractions of
the frame in [0, 1] (the SignVerse-2M ``poses.npz`` convention). The returned ``NormTransform``
holds what is needed to undo the mapping: ``pixels = normalised * scale + center``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.registry import Registry
from signverse.layouts import get_layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NormTransform:
    """``pixels = xy * scale + center``; ``center`` is ``[T or 1, P, 2]``, ``scale`` ``[T or 1, P, 2]``.

    A leading axis of 1 (sequence-level normalisation) broadcasts over any number of frames, so a
    transform still applies after resampling or cropping the normalised sequence.
    """

    method: str
    center: np.ndarray
    scale: np.ndarray

    def apply(self, xy: np.ndarray) -> np.ndarray:
        """Pixels -> normalised coordinates for ``xy [T, P, K, 2]``."""
        return ((xy - self.center[:, :, None]) / self.scale[:, :, None]).astype(np.float32)

    def invert(self, xy: np.ndarray) -> np.ndarray:
        """Normalised coordinates -> pixels."""
        return (xy * self.scale[:, :, None] + self.center[:, :, None]).astype(np.float32)


# method name -> function(pose, per_frame) -> (center [T|1, P, 2], scale [T|1, P, 2])
NORMALIZERS: Registry[Callable[[PoseSeq, bool], tuple[np.ndarray, np.ndarray]]] = Registry(
    "normalisation method")


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """NaN-median that returns NaN (without a warning) where every value is NaN."""
    out = np.full(np.delete(values.shape, axis), np.nan, np.float64)
    has = np.isfinite(values).any(axis)
    if has.any():
        moved = np.moveaxis(values, axis, -1)[has]
        out[has] = np.nanmedian(moved, axis=-1)
    return out


def _fill_frames(per_frame: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Replace NaN frames of ``per_frame [T, P, ...]`` by the per-person ``fallback [P, ...]``."""
    return np.where(np.isfinite(per_frame), per_frame, fallback[None])


@NORMALIZERS.decorator("neck_shoulder")
def _neck_shoulder(pose: PoseSeq, per_frame: bool) -> tuple[np.ndarray, np.ndarray]:
    layout = get_layout(pose.layout)
    for name in ("left_shoulder", "right_shoulder"):
        if not layout.has_anchor(name):
            raise SignverseError(f"layout {layout.name} has no '{name}' anchor to normalise by")
    left = pose.xy[:, :, layout.anchor("left_shoulder")].astype(np.float64)
    right = pose.xy[:, :, layout.anchor("right_shoulder")].astype(np.float64)
    # The neck is the body's centre where the skeleton has one; else the shoulder midpoint
    # (which is how DWPose synthesises its neck, so both give comparable centres).
    center = (pose.xy[:, :, layout.anchor("neck")].astype(np.float64) if layout.has_anchor("neck")
              else (left + right) / 2)
    width = np.linalg.norm(left - right, axis=-1)                       # [T, P]
    width = np.where(width > 1e-6, width, np.nan)
    seq_center = _nanmedian(center, 0)                                  # [P, 2]
    seq_width = _nanmedian(width, 0)                                    # [P]
    missing = ~np.isfinite(seq_width) | ~np.isfinite(seq_center).all(-1)
    if missing.any():
        log.info("normalize: %d person(s) have no shoulders in any frame; left unscaled",
                 int(missing.sum()))
        seq_center[missing] = 0.0
        seq_width[missing] = 1.0
    if per_frame:
        c = _fill_frames(center, seq_center)
        w = _fill_frames(width, seq_width)
    else:
        c, w = seq_center[None], seq_width[None]
    return c, np.repeat(w[..., None], 2, axis=-1)


@NORMALIZERS.decorator("frame")
def _frame(pose: PoseSeq, per_frame: bool) -> tuple[np.ndarray, np.ndarray]:
    scale = np.broadcast_to(np.array([pose.width, pose.height], np.float64), (1, pose.n_persons, 2))
    return np.zeros((1, pose.n_persons, 2)), np.array(scale)


def normalize(pose: PoseSeq, method: str = "neck_shoulder", *,
              per_frame: bool = False) -> tuple[PoseSeq, NormTransform]:
    """Return the pose in body-relative coordinates and the transform that undoes it.

    ``neck_shoulder``: centre on the neck (shoulder midpoint if the layout has no neck anchor),
    divide by the shoulder width. By default one centre and one scale per person for the whole
    sequence (the median over frames, robust to bad frames), so body motion is kept; with
    ``per_frame=True`` each frame gets its own (frames without shoulders use the sequence median).
    ``frame``: divide x by width and y by height (values in [0, 1]).

    >>> import numpy as np
    >>> from signverse.core import PoseSeq
    >>> from signverse.layouts import get_layout
    >>> dw = get_layout("dwpose")
    >>> xy = np.full((1, 1, dw.num_points, 2), np.nan, np.float32)
    >>> xy[0, 0, dw.anchor("neck")] = (100, 50)
    >>> xy[0, 0, dw.anchor("left_shoulder")] = (120, 50)
    >>> xy[0, 0, dw.anchor("right_shoulder")] = (80, 50)
    >>> pose = PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 24, 200, 100, "dwpose")
    >>> norm, tf = normalize(pose)
    >>> norm.xy[0, 0, dw.anchor("left_shoulder")].tolist()
    [0.5, 0.0]
    >>> bool(np.allclose(denormalize(norm, tf).xy, pose.xy, equal_nan=True))
    True
    """
    center, scale = NORMALIZERS[method](pose, per_frame)
    transform = NormTransform(method, np.asarray(center, np.float64), np.asarray(scale, np.float64))
    return pose.replace(xy=transform.apply(pose.xy)), transform


def denormalize(pose: PoseSeq, transform: NormTransform) -> PoseSeq:
    """Map normalised coordinates back to pixels of the original frame."""
    frames = transform.center.shape[0]
    if frames not in (1, pose.n_frames):
        raise SignverseError(f"a per-frame transform of {frames} frames cannot undo a pose of "
                             f"{pose.n_frames} frames")
    if transform.center.shape[1] != pose.n_persons:
        raise SignverseError(f"transform is for {transform.center.shape[1]} person(s), pose has "
                             f"{pose.n_persons}")
    return pose.replace(xy=transform.invert(pose.xy))

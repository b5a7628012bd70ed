"""Geometric and temporal augmentation; random variants draw from a ``numpy.random.Generator``.

Geometry acts on image-space components (those a layout draws). Components a layout does not draw
hold non-pixel coordinates (MediaPipe's world points, metres around the hips); they receive the
linear part of the same map about their own origin, so a flip negates their x and a rotation
turns them alike. MediaPipe face-mesh vertices have no left/right names, so a flip moves them
but keeps their order (the layout's mirror permutation leaves them in place).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout

Augmentation = Callable[[PoseSeq, np.random.Generator], PoseSeq]


def _image_mask(pose: PoseSeq) -> np.ndarray:
    """``[K]`` True for points in image coordinates."""
    try:
        layout = get_layout(pose.layout)
    except SignverseError:   # an unregistered layout: treat everything as pixels
        return np.ones(pose.n_points, bool)
    mask = np.zeros(pose.n_points, bool)
    for comp in layout.components:
        mask[layout.slice(comp.name)] = comp.drawn
    return mask


def _frame_center(pose: PoseSeq) -> tuple[float, float]:
    return pose.width / 2.0, pose.height / 2.0


def affine(pose: PoseSeq, matrix: np.ndarray, center: tuple[float, float] | None = None) -> PoseSeq:
    """Apply the 2x2 linear map ``matrix`` about ``center`` (default: the frame centre)."""
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 2):
        raise SignverseError(f"affine matrix must be 2x2, got {m.shape}")
    cx, cy = _frame_center(pose) if center is None else center
    c = np.array([cx, cy])
    xy = pose.xy.astype(np.float64)
    image = _image_mask(pose)
    out = xy @ m.T                                     # non-image points: linear part only
    out[:, :, image] = (xy[:, :, image] - c) @ m.T + c
    return pose.replace(xy=out.astype(np.float32))


def rotate(pose: PoseSeq, degrees: float, center: tuple[float, float] | None = None) -> PoseSeq:
    """Rotate counter-clockwise as seen on screen (y points down) by ``degrees``.

    >>> import numpy as np
    >>> pose = PoseSeq(np.array([[[[60.0, 50.0]]]]), np.ones((1, 1, 1)), 24, 100, 100, "custom")
    >>> np.round(rotate(pose, 90).xy[0, 0, 0], 4).tolist()   # right of centre -> above it
    [50.0, 40.0]
    """
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    return affine(pose, np.array([[cos, sin], [-sin, cos]]), center)


def scale(pose: PoseSeq, factor: float | tuple[float, float],
          center: tuple[float, float] | None = None) -> PoseSeq:
    """Scale by ``factor`` (or ``(sx, sy)``) about ``center`` (default: the frame centre)."""
    sx, sy = (factor, factor) if np.isscalar(factor) else factor
    return affine(pose, np.array([[sx, 0.0], [0.0, sy]]), center)


def shear(pose: PoseSeq, x: float = 0.0, y: float = 0.0,
          center: tuple[float, float] | None = None) -> PoseSeq:
    """Shear: ``x' = x + sx * y``, ``y' = y + sy * x`` (relative to ``center``)."""
    return affine(pose, np.array([[1.0, x], [y, 1.0]]), center)


def flip(pose: PoseSeq) -> PoseSeq:
    """Mirror horizontally: ``x' = width - x`` (pixel edges at 0 and width, the convention of
    coordinates normalised by the frame width), and left/right points trade places through the
    layout's ``mirror_permutation`` so a left hand stays in the left-hand slots."""
    mirrored = affine(pose, np.array([[-1.0, 0.0], [0.0, 1.0]]))
    perm = get_layout(pose.layout).mirror_permutation
    # perm is an involution (twins swap), so gathering with it is the same as scattering.
    return mirrored.replace(xy=mirrored.xy[:, :, perm], conf=mirrored.conf[:, :, perm])


def drop_frames(pose: PoseSeq, rng: np.random.Generator, rate: float, *,
                remove: bool = False) -> PoseSeq:
    """Drop each frame with probability ``rate``.

    By default dropped frames become all-missing, so time stays aligned with captions and the
    frame count is unchanged; ``remove=True`` deletes them instead (the sequence gets shorter and
    faster, as with frame skipping). At least one frame is always kept.
    """
    if not 0.0 <= rate <= 1.0:
        raise SignverseError(f"drop rate must be in [0, 1], got {rate}")
    drop = rng.random(pose.n_frames) < rate
    if drop.all() and pose.n_frames:
        drop[rng.integers(pose.n_frames)] = False
    if remove:
        return pose.replace(xy=pose.xy[~drop], conf=pose.conf[~drop])
    conf = pose.conf.copy()
    conf[drop] = 0.0
    return pose.replace(conf=conf)


# -- random, composable augmentations ---------------------------------------------------------
def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


@dataclass(frozen=True)
class RandomRotate:
    """Rotate by an angle drawn uniformly from ``degrees`` (one angle per sequence)."""

    degrees: tuple[float, float] = (-15.0, 15.0)

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        return rotate(pose, _uniform(rng, self.degrees))


@dataclass(frozen=True)
class RandomScale:
    """Scale by a factor from ``factor``; ``aspect`` (if not (1, 1)) multiplies y additionally."""

    factor: tuple[float, float] = (0.9, 1.1)
    aspect: tuple[float, float] = (1.0, 1.0)

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        s = _uniform(rng, self.factor)
        return scale(pose, (s, s * _uniform(rng, self.aspect)))


@dataclass(frozen=True)
class RandomShear:
    """Shear with ``x`` and ``y`` factors drawn from the given ranges."""

    x: tuple[float, float] = (-0.1, 0.1)
    y: tuple[float, float] = (0.0, 0.0)

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        return shear(pose, _uniform(rng, self.x), _uniform(rng, self.y))


@dataclass(frozen=True)
class RandomFlip:
    """Flip with probability ``p`` (note: mirrors the signer's handedness)."""

    p: float = 0.5

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        return flip(pose) if rng.random() < self.p else pose


@dataclass(frozen=True)
class RandomFrameDrop:
    """``drop_frames`` with a rate drawn from ``rate``."""

    rate: tuple[float, float] = (0.0, 0.1)
    remove: bool = False

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        return drop_frames(pose, rng, _uniform(rng, self.rate), remove=self.remove)


@dataclass(frozen=True)
class Compose:
    """Apply augmentations in order, each with the same generator.

    >>> import numpy as np
    >>> aug = Compose([RandomRotate((-10, 10)), RandomScale((0.9, 1.1))])
    >>> pose = PoseSeq(np.zeros((2, 1, 1, 2)), np.ones((2, 1, 1)), 24, 8, 8, "custom")
    >>> aug(pose, np.random.default_rng(0)).n_frames
    2
    """

    steps: Sequence[Augmentation]

    def __call__(self, pose: PoseSeq, rng: np.random.Generator) -> PoseSeq:
        for step in self.steps:
            pose = step(pose, rng)
        return pose


def random_augment(*, rotate: tuple[float, float] | None = (-10.0, 10.0),
                   scale: tuple[float, float] | None = (0.9, 1.1),
                   shear: tuple[float, float] | None = (-0.1, 0.1),
                   flip: float = 0.0, drop: tuple[float, float] | None = None) -> Compose:
    """A typical pipeline from ranges (``None`` / 0 leaves a step out). Flip is off by default
    because mirroring changes which hand is dominant, which matters for sign language."""
    steps: list[Augmentation] = []
    if flip > 0:
        steps.append(RandomFlip(flip))
    if rotate is not None:
        steps.append(RandomRotate(rotate))
    if scale is not None:
        steps.append(RandomScale(scale))
    if shear is not None:
        steps.append(RandomShear(shear))
    if drop is not None:
        steps.append(RandomFrameDrop(drop))
    return Compose(steps)

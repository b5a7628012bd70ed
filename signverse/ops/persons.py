"""Choosing one person per sequence: a simple scored choice (the full signer tracker lives in the
pipeline). Every criterion maps a sequence to one score in [0, 1] per person; higher is better."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.registry import Registry
from signverse.layouts import get_layout

Criterion = Callable[[PoseSeq], np.ndarray]
CRITERIA: Registry[Criterion] = Registry("person criterion")


def _image_points(pose: PoseSeq) -> np.ndarray:
    """``[T, P, K, 2]`` coordinates of drawn (pixel) components, NaN elsewhere."""
    layout = get_layout(pose.layout)
    keep = np.zeros(pose.n_points, bool)
    for comp in layout.components:
        keep[layout.slice(comp.name)] = comp.drawn
    return np.where(keep[None, None, :, None], pose.xy, np.nan)


def _bbox(pose: PoseSeq) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame and person: bbox min ``[T, P, 2]``, max, and presence ``[T, P]``."""
    xy = _image_points(pose)
    present = np.isfinite(xy).all(-1).any(-1)
    filled = np.where(present[..., None, None], xy, 0.0)   # avoids all-NaN warnings
    return np.nanmin(filled, axis=2), np.nanmax(filled, axis=2), present


@CRITERIA.decorator("size")
def size_score(pose: PoseSeq) -> np.ndarray:
    """Mean over frames of the bbox diagonal / frame diagonal (absent frames count 0)."""
    lo, hi, present = _bbox(pose)
    diag = np.linalg.norm(hi - lo, axis=-1) / np.hypot(pose.width, pose.height)
    return np.clip(np.where(present, diag, 0.0).mean(0), 0.0, 1.0)


@CRITERIA.decorator("centrality")
def centrality_score(pose: PoseSeq) -> np.ndarray:
    """Mean over frames of 1 - distance(bbox centre, frame centre) / half diagonal."""
    lo, hi, present = _bbox(pose)
    centre = np.array([pose.width, pose.height]) / 2.0
    dist = np.linalg.norm((lo + hi) / 2 - centre, axis=-1) / np.hypot(*centre)
    return np.clip(np.where(present, 1.0 - dist, 0.0).mean(0), 0.0, 1.0)


@CRITERIA.decorator("hands")
def hand_activity_score(pose: PoseSeq) -> np.ndarray:
    """How much the wrists move relative to the shoulder width, squashed to [0, 1) by x/(1+x).

    Motion = mean over frame steps of the summed displacement of both wrists, in shoulder widths; frames where a wrist is missing on either side count as no motion.
    """
    layout = get_layout(pose.layout)
    wrists = [layout.anchor(a) for a in ("left_wrist", "right_wrist") if layout.has_anchor(a)]
    if not wrists or pose.n_frames < 2 or not all(layout.has_anchor(a) for a in
                                                    ("left_shoulder", "right_shoulder")):
        return np.zeros(pose.n_persons)
    width = np.linalg.norm(pose.xy[:, :, layout.anchor("left_shoulder")]
                           - pose.xy[:, :, layout.anchor("right_shoulder")], axis=-1)
    has_width = np.isfinite(width).any(0)
    width = np.where(has_width, np.nanmedian(np.where(has_width[None], width, 1.0), 0), np.nan)
    step = np.linalg.norm(np.diff(pose.xy[:, :, wrists].astype(np.float64), axis=0), axis=-1)
    motion = np.nan_to_num(step, nan=0.0).sum(-1).mean(0) / width       # [P]
    motion = np.nan_to_num(motion, nan=0.0)
    return motion / (1.0 + motion)


DEFAULT_WEIGHTS = {"size": 1.0, "centrality": 1.0, "hands": 1.0}


def person_scores(pose: PoseSeq, weights: Mapping[str, float] | None = None) -> np.ndarray:
    """``[P]`` weighted sum of criterion scores (default: size + centrality + hand activity)."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    total = np.zeros(pose.n_persons)
    for name, weight in weights.items():
        if weight:
            total += weight * CRITERIA[name](pose)
    return total


def select_person(pose: PoseSeq, by: str | Mapping[str, float] | None = None) -> tuple[PoseSeq, int]:
    """Keep the best-scoring person (``by`` is one criterion name or a weight map).

    Returns the one-person sequence and the chosen index; ties go to the lower index.
    """
    if pose.n_persons == 0:
        raise SignverseError("the sequence has no person to select")
    weights = {by: 1.0} if isinstance(by, str) else by
    best = int(np.argmax(person_scores(pose, weights)))
    return pose.persons(best), best


def first_person(pose: PoseSeq) -> PoseSeq:
    """Person slot 0 (what the SignVerse-2M baseline trains on)."""
    if pose.n_persons == 0:
        raise SignverseError("the sequence has no person to select")
    return pose.persons(0)

"""Word -> pose baselines built from training clips (``[T, 384]`` DWPose frames, see
``signverse.train.recipes.pose_to_frames``): what a text->pose model has to beat.

* ``mean_sequence``: the word's clips, each linearly time-normalised to their median length,
  averaged frame by frame over present points;
* ``medoid``: the word's most typical real clip (smallest mean DTW-MJE to the word's other clips),
  i.e. retrieval of the nearest training example.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def resample(frames: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear time-normalisation of ``[T, 384]``: ``[n, 128, 2]`` xy and ``[n, 128]`` presence
    (a point is present where both neighbouring frames have it)."""
    f = frames.reshape(len(frames), -1, 3)
    pos = np.linspace(0, len(f) - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(f) - 1)
    w = (pos - lo)[:, None, None]
    return f[lo, :, :2] * (1 - w) + f[hi, :, :2] * w, (f[lo, :, 2] > 0) & (f[hi, :, 2] > 0)


def mean_sequence(clips: Sequence[np.ndarray]) -> np.ndarray:
    """``[n, 384]`` frame-by-frame mean of the clips at their median length (conf = share of
    clips showing the point)."""
    n = int(np.median([len(c) for c in clips]))
    xy, present = map(np.stack, zip(*(resample(c, n) for c in clips)))     # [N, n, 128, 2], [N, n, 128]
    w = present[..., None].astype(np.float32)
    mean = (xy * w).sum(0) / np.maximum(w.sum(0), 1)
    # a point no clip shows at some time step takes that point's mean over all time steps
    overall = (xy * w).sum((0, 1)) / np.maximum(w.sum((0, 1)), 1)
    mean = np.where(w.sum(0) > 0, mean, overall[None])
    conf = present.mean(0)
    return np.concatenate([mean, conf[..., None]], -1).reshape(n, -1).astype(np.float32)


def medoid(clips: Sequence[np.ndarray], limit: int = 12) -> np.ndarray:
    """The clip (among the first ``limit``) with the smallest mean DTW-MJE to the others."""
    from signverse.metrics import dtw_mje
    from signverse.train.recipes import frames_to_points
    cand = list(clips[:limit])
    pts = [frames_to_points(c) for c in cand]
    cost = np.zeros((len(cand), len(cand)))
    for i in range(len(cand)):
        for j in range(i + 1, len(cand)):
            cost[i, j] = cost[j, i] = dtw_mje(pts[i], pts[j])
    with np.errstate(all="ignore"):
        mean_cost = np.nanmean(np.where(np.isfinite(cost), cost, np.nan), 1) if len(cand) > 1 else np.zeros(1)
    return cand[int(np.nanargmin(mean_cost))] if np.isfinite(mean_cost).any() else cand[0]


def word_baselines(texts: Sequence[str], clips: Sequence[np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """``{"mean_sequence": {word: frames}, "nearest_example": {word: frames}}`` from training
    clips and their texts."""
    per_word: dict[str, list[np.ndarray]] = {}
    for t, c in zip(texts, clips):
        per_word.setdefault(t, []).append(c)
    return {"mean_sequence": {w: mean_sequence(c) for w, c in per_word.items()},
            "nearest_example": {w: medoid(c) for w, c in per_word.items()}}

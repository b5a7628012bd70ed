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


def median_sequence(clips: Sequence[np.ndarray], n_iter: int = 20) -> np.ndarray:
    """``[n, 384]`` like ``mean_sequence`` but each point is the geometric median (Weiszfeld) of the
    clips' points instead of their mean: DTW-MJE scores the plain (not squared) distance, which the
    median minimises, and a few signers far off the others move it less."""
    n = int(np.median([len(c) for c in clips]))
    xy, present = map(np.stack, zip(*(resample(c, n) for c in clips)))     # [N, n, 128, 2], [N, n, 128]
    base = mean_sequence(clips).reshape(n, -1, 3)
    z = base[..., :2].astype(np.float64)
    w0 = present.astype(np.float64)
    for _ in range(n_iter):
        w = w0 / np.maximum(np.linalg.norm(xy - z[None], axis=-1), 1e-4)
        total = w.sum(0)
        z = np.where(total[..., None] > 0, (xy * w[..., None]).sum(0) / np.maximum(total, 1e-12)[..., None], z)
    return np.concatenate([z, base[..., 2:]], -1).reshape(n, -1).astype(np.float32)


def dba(clips: Sequence[np.ndarray], n_iter: int = 5, length: int | None = None) -> np.ndarray:
    """``[n, 384]`` DTW barycenter (DBA, Petitjean et al. 2011) of the clips: starting from their
    frame-by-frame mean at the median length (or ``length``), each template frame becomes the mean
    of the clip frames DTW aligns to it, ``n_iter`` times. Unlike the linear mean, clips whose timing
    differs are averaged after alignment, so the word's motion is kept instead of blurred
    (conf = share of aligned clip frames showing the point)."""
    from signverse.metrics.pose import dtw_path, frame_cost_matrix
    clips = [np.asarray(c, np.float32).reshape(len(c), -1, 3) for c in clips if len(c)]
    template = mean_sequence([c.reshape(len(c), -1) for c in clips]).reshape(-1, clips[0].shape[1], 3)
    if length is not None and length != len(template):
        xy, _ = resample(template.reshape(len(template), -1), length)
        conf = resample(np.concatenate([template[..., 2:], template[..., 2:]], -1).reshape(len(template), -1),
                        length)[0][..., 0]
        template = np.concatenate([xy, conf[..., None]], -1).astype(np.float32)
    n, k = template.shape[:2]
    for _ in range(n_iter):
        sums = np.zeros((n, k, 2))
        hits = np.zeros((n, k))
        visits = np.zeros(n)
        for c in clips:
            present = c[..., 2] > 0
            cost = frame_cost_matrix(template[..., :2], c[..., :2], None, present)
            finite = np.isfinite(cost)
            if not finite.any():
                continue
            _, path = dtw_path(np.where(finite, cost, cost[finite].mean()))
            pi, pj = np.asarray(path).T
            np.add.at(sums, pi, c[pj, :, :2] * present[pj, :, None])
            np.add.at(hits, pi, present[pj])
            np.add.at(visits, pi, 1)
        new_xy = np.where(hits[..., None] > 0, sums / np.maximum(hits, 1)[..., None], template[..., :2])
        conf = hits / np.maximum(visits, 1)[:, None]
        template = np.concatenate([new_xy, conf[..., None]], -1).astype(np.float32)
    return template.reshape(n, -1)


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

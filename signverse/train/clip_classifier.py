"""A classical clip classifier that the ISLR network is averaged with.

Each clip becomes one vector: the mean and standard deviation over time of its frame features
(``signverse.data.features.encoder.frame_features``, "base" set) plus, per hand, the mean and standard
deviation of its rotation-free handshape distances (``hand_distances``, over the frames that show
the hand) and the fraction of frames that show it. A class-balanced multinomial logistic regression
(L2, full-batch L-BFGS; seconds on a CPU) maps it to class log-probabilities.

It sees the clip as a whole, the network sees its time course: they err on different clips, and
on unseen signers the average of their probabilities beats each (``benchmarks/islr.py`` ablation).
The weights are plain lists, saved in the run's config.json.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signverse.data.features.encoder import LH, N_SHAPE, RH, frame_features, hand_distances


def clip_vector(points: np.ndarray) -> np.ndarray:
    """One ``[2 * FEATURE_DIM + 2 * (2 * N_SHAPE + 1)]`` float32 vector of normalised ``[T, 54, 2]`` points."""
    f = frame_features(points, "base")
    parts = [f.mean(0), f.std(0)]
    for sl in (LH, RH):
        hand = points[:, sl]
        seen = np.isfinite(hand).all(-1).all(-1)
        if seen.any():
            d = hand_distances(hand[seen])
            parts += [d.mean(0), d.std(0), [seen.mean()]]
        else:
            parts += [np.zeros(2 * N_SHAPE, np.float32), [0.0]]
    return np.concatenate(parts).astype(np.float32)


@dataclass
class ClipClassifier:
    """Standardisation + linear map ``[n_features] -> [n_classes]`` log-probabilities."""

    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray        # [n_features, n_classes]
    bias: np.ndarray          # [n_classes]

    @classmethod
    def fit(cls, vectors: np.ndarray, targets: np.ndarray, n_classes: int, *, l2: float = 0.01,
            class_balance: float = 0.5, max_iter: int = 200, seed: int = 0) -> "ClipClassifier":
        import torch
        x = np.asarray(vectors, np.float64)
        mean, std = x.mean(0), x.std(0) + 1e-6
        a = torch.tensor((x - mean) / std, dtype=torch.float32)
        t = torch.as_tensor(np.asarray(targets), dtype=torch.long)
        counts = np.bincount(targets, minlength=n_classes).astype(float)
        w = np.maximum(counts, 1) ** -class_balance
        w = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32)
        torch.manual_seed(seed)
        weight = torch.zeros(a.shape[1], n_classes, requires_grad=True)
        bias = torch.zeros(n_classes, requires_grad=True)
        opt = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(a @ weight + bias, t, weight=w) + l2 * (weight ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return cls(mean.astype(np.float32), std.astype(np.float32), weight.detach().numpy().astype(np.float32),
                   bias.detach().numpy().astype(np.float32))

    def log_probs(self, vectors: np.ndarray) -> np.ndarray:
        z = ((np.asarray(vectors, np.float32) - self.mean) / self.std) @ self.weight + self.bias
        z = z - z.max(1, keepdims=True)
        return (z - np.log(np.exp(z).sum(1, keepdims=True))).astype(np.float32)

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("mean", "std", "weight", "bias")}

    @classmethod
    def from_dict(cls, d: dict) -> "ClipClassifier":
        return cls(*(np.asarray(d[k], np.float32) for k in ("mean", "std", "weight", "bias")))

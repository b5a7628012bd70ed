"""Per-feature standardisation statistics of a training set, saved with every checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class FeatureStats:
    """Per-feature mean and std (``count``: the sequences they were measured on).

    ``fit`` measures dense features (every value valid: the encoder's features, whose missing
    values are 0 and flagged by presence channels); ``FeatureExtractor.fit`` measures over valid
    values only, as its features hold NaN where a point is missing.
    """

    mean: np.ndarray
    std: np.ndarray
    count: int = 0

    @classmethod
    def fit(cls, feature_list: list[np.ndarray]) -> "FeatureStats":
        allf = np.concatenate(feature_list, 0).astype(np.float64)
        # + 1e-3: a feature that never varies in training (a hand never seen) is not blown up
        return cls(allf.mean(0).astype(np.float32), (allf.std(0) + 1e-3).astype(np.float32), len(feature_list))

    def apply(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": np.asarray(self.mean, np.float64).tolist(),
                "std": np.asarray(self.std, np.float64).tolist(), "count": int(self.count)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureStats":
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32),
                   int(data.get("count", 0)))

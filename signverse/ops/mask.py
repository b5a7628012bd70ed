"""Masking points whose detector confidence is too low."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout


def confidence_thresholds(pose: PoseSeq, threshold: float | Mapping[str, float]) -> np.ndarray:
    """``[K]`` threshold per point: one number, or a map ``component -> threshold`` where the key
    ``"*"`` (default 0) covers components the map does not name."""
    if not isinstance(threshold, Mapping):
        return np.full(pose.n_points, float(threshold), np.float32)
    layout = get_layout(pose.layout)
    out = np.full(pose.n_points, float(threshold.get("*", 0.0)), np.float32)
    for name, value in threshold.items():
        if name != "*":
            out[layout.slice(name)] = float(value)   # unknown component names raise here
    return out


def mask_low_confidence(pose: PoseSeq, threshold: float | Mapping[str, float] = 0.3) -> PoseSeq:
    """Mark points with ``conf < threshold`` as missing (xy NaN, conf 0).

    ``threshold`` is one number or per component, e.g. ``{"body": 0.3, "face": 0.5, "*": 0.2}``.

    >>> import numpy as np
    >>> pose = PoseSeq(np.zeros((1, 1, 3, 2)), np.array([[[0.1, 0.3, 0.9]]]), 24, 8, 8, "custom")
    >>> mask_low_confidence(pose, 0.3).valid.tolist()
    [[[False, True, True]]]
    """
    low = pose.conf < confidence_thresholds(pose, threshold)
    if not low.any():
        return pose
    conf = np.where(low, 0.0, pose.conf)
    return pose.replace(conf=conf)   # PoseSeq sets xy to NaN wherever conf is 0

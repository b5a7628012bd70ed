"""Evaluation metrics: pose distances (DTW-MJE), text (BLEU/chrF) and classification (top-k, F1).

numpy only at import time; sacrebleu is imported inside ``bleu``/``chrf``.

>>> import numpy as np
>>> from signverse.metrics import topk_accuracy
>>> topk_accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), [1, 1], k=1)
0.5
"""
from __future__ import annotations

from signverse.metrics.classification import (accuracy, confusion_matrix, macro_f1,
                                               per_class_topk_accuracy, topk_accuracy)
from signverse.metrics.pose import (aligned_l2, dtw_mje, dtw_path, frame_cost_matrix, length_error,
                                    ndtw_mje, normalize_keypoints, pose_metrics)
from signverse.metrics.text import bleu, chrf

__all__ = ["accuracy", "aligned_l2", "bleu", "chrf", "confusion_matrix", "dtw_mje", "dtw_path",
           "frame_cost_matrix", "length_error", "macro_f1", "ndtw_mje", "normalize_keypoints",
           "per_class_topk_accuracy", "pose_metrics", "topk_accuracy"]

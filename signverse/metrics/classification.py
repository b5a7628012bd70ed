"""Classification metrics: top-k accuracy (per instance and per class), accuracy, macro-F1."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from signverse.core.errors import SignverseError


def _scores_labels(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if scores.ndim != 2:
        raise SignverseError(f"scores must be [N, C], got shape {scores.shape}")
    if scores.shape[0] != labels.shape[0]:
        raise SignverseError(f"{scores.shape[0]} score rows but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise SignverseError(f"labels must lie in 0..{scores.shape[1] - 1}")
    return scores, labels


def topk_hits(scores, labels, k: int) -> np.ndarray:
    """``[N]`` bool: the true label is among the ``k`` highest scores.

    Ties are broken against the true label (a label tied with others at the k-th place counts as a
    hit only if fewer than ``k`` other classes score strictly higher), so constant scores do not
    reward a model.
    """
    scores, labels = _scores_labels(scores, labels)
    if k < 1:
        raise SignverseError(f"k must be >= 1, got {k}")
    true = scores[np.arange(len(labels)), labels]
    higher = (scores > true[:, None]).sum(1)
    ties = (scores == true[:, None]).sum(1) - 1      # other classes with exactly the same score
    return (higher + ties) < k


def topk_accuracy(scores, labels, k: int = 1) -> float:
    """Fraction of instances whose true label is among the top ``k`` of ``scores [N, C]``."""
    hits = topk_hits(scores, labels, k)
    return float(hits.mean()) if hits.size else float("nan")


def per_class_topk_accuracy(scores, labels, k: int = 1, *, num_classes: int | None = None
                            ) -> tuple[float, np.ndarray]:
    """Mean over classes of each class's top-``k`` accuracy, and the ``[C]`` per-class values.

    Classes without any instance are NaN in the array and left out of the mean.
    """
    hits = topk_hits(scores, labels, k)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    n_classes = num_classes or np.asarray(scores).shape[1]
    count = np.bincount(labels, minlength=n_classes).astype(np.float64)
    good = np.bincount(labels, weights=hits.astype(np.float64), minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(count > 0, good / np.maximum(count, 1), np.nan)
    present = count > 0
    mean = float(per_class[present].mean()) if present.any() else float("nan")
    return mean, per_class


def _encode(pred: Sequence, ref: Sequence) -> tuple[np.ndarray, np.ndarray, list]:
    pred, ref = list(pred), list(ref)
    if len(pred) != len(ref):
        raise SignverseError(f"{len(pred)} predictions but {len(ref)} references")
    classes = sorted(set(ref) | set(pred), key=lambda c: (str(type(c)), c))
    index = {c: i for i, c in enumerate(classes)}
    return (np.array([index[p] for p in pred], np.int64), np.array([index[r] for r in ref], np.int64),
            classes)


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Fraction of predicted labels (any hashable) equal to the reference labels."""
    p, r, _ = _encode(predictions, references)
    return float((p == r).mean()) if len(r) else float("nan")


def confusion_matrix(predictions: Sequence, references: Sequence) -> tuple[np.ndarray, list]:
    """``[C, C]`` counts (row = reference, column = prediction) and the sorted class list."""
    p, r, classes = _encode(predictions, references)
    cm = np.zeros((len(classes), len(classes)), np.int64)
    np.add.at(cm, (r, p), 1)
    return cm, classes


def macro_f1(predictions: Sequence, references: Sequence) -> float:
    """Unweighted mean of per-class F1 over the classes present in the references.

    A class that is only ever predicted (never a reference) is left out of the mean, but its false
    positives still lower the precision of nothing else: this is the usual "labels = reference
    classes" convention.
    """
    cm, classes = confusion_matrix(predictions, references)
    if cm.sum() == 0:
        return float("nan")
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(1).astype(np.float64)
    predicted = cm.sum(0).astype(np.float64)
    denom = support + predicted
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(f1[support > 0].mean())

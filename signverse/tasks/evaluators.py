"""Evaluators of the built-in tasks (``TaskSpec.evaluator`` points here)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from signverse.core.errors import SignverseError


def _nanmean(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def evaluate_text2pose(predictions: Sequence, references: Sequence, *, layout: str | None = None,
                       parts: Sequence[str] = ("body", "face", "left_hand", "right_hand")
                       ) -> dict[str, float]:
    """Mean of ``pose_metrics`` over pairs of produced / reference poses (PoseSeq or [T, K, 2]),
    NaN values left out of each mean; ``n`` pairs, ``n_undefined`` of them with a NaN
    ``dtw_mje`` or ``ndtw_mje``."""
    from signverse.metrics.pose import pose_metrics
    if len(predictions) != len(references):
        raise SignverseError(f"{len(predictions)} predictions but {len(references)} references")
    rows = [pose_metrics(p, r, layout=layout, parts=parts) for p, r in zip(predictions, references)]
    keys = sorted({k for row in rows for k in row})
    out = {k: _nanmean([row.get(k, np.nan) for row in rows]) for k in keys}
    out["n"] = len(rows)
    # Pairs left out of a mean because the metric is undefined there (nothing shared, or no
    # shoulders to normalise by): reported so that a low mean cannot hide them.
    out["n_undefined"] = sum(1 for row in rows
                             if not np.isfinite([row.get("dtw_mje", np.nan),
                                                 row.get("ndtw_mje", 0.0)]).all())
    return out


def evaluate_pose2text(predictions: Sequence[str], references: Sequence[str], *,
                       tokenize: str = "13a", lowercase: bool = False) -> dict[str, float]:
    """Corpus BLEU-4 and chrF (0-100) of translations against one reference each."""
    from signverse.metrics.text import bleu, chrf
    return {"bleu": bleu(predictions, references, tokenize=tokenize, lowercase=lowercase),
            "chrf": chrf(predictions, references), "n": len(references)}


def evaluate_islr(predictions, references, *, num_classes: int | None = None,
                  ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Isolated sign recognition: ``predictions`` are scores ``[N, C]`` (logits or probabilities),
    ``references`` integer labels ``[N]``. Returns ``top{k}`` and ``top{k}_per_class`` (mean
    per-class accuracy) for each k, ``macro_f1`` of the arg-max and ``n``."""
    from signverse.metrics.classification import macro_f1, per_class_topk_accuracy, topk_accuracy
    scores = np.asarray(predictions, dtype=np.float64)
    labels = np.asarray(references, dtype=np.int64).reshape(-1)
    if scores.ndim != 2:
        raise SignverseError(f"islr predictions must be scores [N, C], got shape {scores.shape}")
    out: dict[str, float] = {}
    for k in ks:
        kk = min(k, scores.shape[1])   # top-5 of a 3-class problem is top-3
        out[f"top{k}"] = topk_accuracy(scores, labels, kk)
        out[f"top{k}_per_class"] = per_class_topk_accuracy(scores, labels, kk,
                                                           num_classes=num_classes)[0]
    out["macro_f1"] = macro_f1(scores.argmax(1).tolist(), labels.tolist())
    out["n"] = int(len(labels))
    return out


def evaluate_langid(predictions, references) -> dict[str, float]:
    """Sign-language identification: predicted labels (strings/ints) or scores ``[N, C]`` with
    integer references. Returns ``accuracy``, ``macro_f1``, ``n``."""
    from signverse.metrics.classification import accuracy, macro_f1
    arr = np.asarray(predictions)
    if arr.ndim == 2 and arr.dtype.kind in "fiu":
        predictions = arr.argmax(1).tolist()
    preds, refs = list(predictions), list(references)
    return {"accuracy": accuracy(preds, refs), "macro_f1": macro_f1(preds, refs), "n": len(refs)}

"""Signer re-identification from poses: features, a probe classifier and the split it uses.

numpy only. The probe is a ridge classifier (one-vs-rest least squares on standardised
features, solved in closed form: fast, deterministic, strong on a few thousand dimensions), with
a cosine nearest-neighbour probe beside it; the audit reports the better of the two, since an
attacker would use the better one.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout


def sequence_features(pose: PoseSeq, *, face_step: int = 4, person: int = 0) -> np.ndarray:
    """One vector per sequence: per drawn point, the mean and standard deviation of x and y over
    time and the fraction of frames it is present (missing: 0), in units of the frame size
    (``x / width``, ``y / height``; a normalised pose is taken as it is). Every ``face_step``-th
    face point is used (dense face meshes are redundant for this)."""
    layout = get_layout(pose.layout)
    keep = np.zeros(pose.n_points, bool)
    for comp in layout.components:
        if not comp.drawn:
            continue
        sl = layout.slice(comp.name)
        idx = np.arange(sl.start, sl.stop)
        keep[idx[::face_step] if comp.name == "face" else idx] = True
    xy = pose.xy[:, person][:, keep].astype(np.float64)
    present = np.isfinite(xy[..., 0])
    frac = present.mean(0)
    with np.errstate(invalid="ignore"):
        count = np.maximum(present.sum(0), 1)[:, None]
        filled = np.where(present[..., None], xy, 0.0)
        mean = filled.sum(0) / count
        var = (np.where(present[..., None], xy - mean, 0.0) ** 2).sum(0) / count
    return np.concatenate([mean.ravel(), np.sqrt(var).ravel(), frac]).astype(np.float32)


# Body points by what they carry, matched on the point's name after "body." (any layout).
_BODY_GROUPS = (
    ("head", ("nose", "eye", "ear", "mouth", "neck")),
    ("shoulders", ("shoulder",)),
    ("arms", ("elbow", "wrist")),
    ("body hand points", ("pinky", "index", "thumb")),
    ("lower body", ("hip", "knee", "ankle", "heel", "foot")),
)


def feature_groups(layout: str, *, face_step: int = 4) -> dict[str, np.ndarray]:
    """Columns of ``sequence_features`` by body part (head, shoulders, arms, body hand points,
    lower body, face, left hand, right hand, each with its mean, spread and presence columns)
    and by kind (``position mean``, ``position spread``, ``presence``), for ablations: which
    part of a pose still identifies people."""
    lay = get_layout(layout)
    points: list[int] = []               # the points sequence_features keeps, in its order
    part: list[str] = []
    for comp in lay.components:
        if not comp.drawn:
            continue
        sl = lay.slice(comp.name)
        idx = np.arange(sl.start, sl.stop)
        for k in (idx[::face_step] if comp.name == "face" else idx):
            points.append(int(k))
            name = lay.point_names[k].split(".", 1)[1]
            if comp.name != "body":
                part.append(comp.name.replace("_", " "))
            else:
                part.append(next((g for g, words in _BODY_GROUPS if any(w in name for w in words)),
                                 "other body points"))
    n = len(points)
    kinds = {"position mean": np.arange(0, 2 * n), "position spread": np.arange(2 * n, 4 * n),
             "presence": np.arange(4 * n, 5 * n)}
    groups: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(part):
        sel = np.array([i for i, p in enumerate(part) if p == name])
        xy = np.ravel(np.stack([2 * sel, 2 * sel + 1], 1))
        groups[name] = np.sort(np.concatenate([xy, 2 * n + xy, 4 * n + sel]))
    groups.update(kinds)
    return groups


def group_ablation(features: np.ndarray, groups: dict[str, np.ndarray], signers: Sequence[str],
                   train: np.ndarray, test: np.ndarray) -> dict[str, dict[str, float]]:
    """Re-identification (best probe) from each group's columns alone (``only``) and from all
    columns but the group's (``without``)."""
    every = np.arange(features.shape[1])
    out = {}
    for name, cols in groups.items():
        out[name] = {"only": reid_top1(features[:, cols], signers, train, test)["best"],
                     "without": reid_top1(features[:, np.setdiff1d(every, cols)], signers, train,
                                          test)["best"]}
    return out


def bone_ratio_fingerprint(pose: PoseSeq, *, person: int = 0) -> np.ndarray:
    """Body and hand bone lengths in shoulder widths (median over frames; NaN where unmeasured):
    the proportions of a person. They are medians of 2D projections, so the sequence's usual
    posture enters too (a forearm held towards the camera looks short): on the shared ISLR data
    they tell the sign of an unseen signer at 0.61 top-1 (``benchmarks/privacy.py``)."""
    from signverse.ops.retarget import kinematic_tree, measure
    sk = kinematic_tree(get_layout(pose.layout).name)
    try:
        target = measure(pose, person=person)
    except Exception:       # no shoulders anywhere: no proportions to give
        return np.full(len(sk.order), np.nan, np.float32)
    return np.array([target.lengths[k] for k in sk.order], np.float32)


def split_per_signer(signers: Sequence[str], labels: Sequence[str | None] | None = None, *,
                     test_every: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Train / test indices with every signer on both sides: within each (signer, label) group,
    in order, every ``test_every``-th sequence goes to test (so test holds the same signs as
    train). Signers with a single sequence are left out."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(signers):
        groups[(s, labels[i] if labels is not None else None)].append(i)
    per_signer: dict[str, list[int]] = defaultdict(list)
    for (s, _), idx in groups.items():
        per_signer[s].extend(idx)
    train, test = [], []
    for (s, _), idx in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        if len(per_signer[s]) < 2:
            continue
        if len(idx) == 1:       # a lone sequence of a sign: train side (the signer has others)
            train.extend(idx)
            continue
        for k, i in enumerate(idx):
            (test if k % test_every == test_every - 1 else train).append(i)
    return np.array(sorted(train), np.int64), np.array(sorted(test), np.int64)


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    train = np.nan_to_num(train.astype(np.float64))
    test = np.nan_to_num(test.astype(np.float64))
    mu, sd = train.mean(0), train.std(0)
    # A feature varying less than 1e-5 (of a frame, of a shoulder width) is float rounding, not
    # signal: it is dropped rather than blown up by the standardisation.
    live = sd > 1e-5
    sd = np.where(live, sd, 1.0)
    return (train - mu) / sd * live, (test - mu) / sd * live


def ridge_predict(x_train: np.ndarray, y_train: Sequence, x_test: np.ndarray, *,
                  alpha: float = 10.0) -> np.ndarray:
    """Ridge classifier: least squares onto one-hot targets (closed form, dual when the
    dimension exceeds the sample count); returns the predicted labels of ``x_test``."""
    classes, y = np.unique(np.asarray(y_train), return_inverse=True)
    a, b = _standardise(x_train, x_test)
    onehot = np.eye(len(classes))[y] * 2 - 1
    n, d = a.shape
    if d > n:
        kernel = a @ a.T
        coef = a.T @ np.linalg.solve(kernel + alpha * np.eye(n), onehot)
    else:
        coef = np.linalg.solve(a.T @ a + alpha * np.eye(d), a.T @ onehot)
    return classes[np.argmax(b @ coef, 1)]


def nearest_predict(x_train: np.ndarray, y_train: Sequence, x_test: np.ndarray) -> np.ndarray:
    """1-nearest neighbour by cosine similarity of standardised features."""
    a, b = _standardise(x_train, x_test)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.asarray(y_train)[np.argmax(b @ a.T, 1)]


def ridge_light_predict(x_train: np.ndarray, y_train: Sequence, x_test: np.ndarray) -> np.ndarray:
    """The ridge classifier with ten times less regularisation: on the shared ISLR data it
    re-identifies more on every version (0.99 normalised), so the audit runs it too."""
    return ridge_predict(x_train, y_train, x_test, alpha=1.0)


PROBES = {"ridge": ridge_predict, "ridge_a1": ridge_light_predict, "nearest": nearest_predict}


def reid_top1(features: np.ndarray, signers: Sequence[str], train: np.ndarray,
              test: np.ndarray) -> dict[str, float]:
    """Top-1 signer re-identification of each probe (and ``best``, the better of them)."""
    signers = np.asarray(signers)
    out = {}
    for name, probe in PROBES.items():
        pred = probe(features[train], signers[train], features[test])
        out[name] = float(np.mean(pred == signers[test])) if len(test) else float("nan")
    out["best"] = max(out.values())
    return out

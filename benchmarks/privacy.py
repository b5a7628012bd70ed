"""Privacy benchmark: signer re-identification before and after anonymisation, and what the
anonymisation costs sign recognition.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/privacy.py [--data ../shared/data/islr]
        [--method canonical-tempo|canonical] [--jitter 0.05 --rotate 10]
        [--figure fingerprint.png] [--cache DIR] [--json]

Data: the shared ISLR-MP DEV folder (51 real signers, 1940 sequences, MediaPipe Holistic).
Re-identification: ``signverse.tasks.privacy.audit`` (every second sequence of each (signer,
sign) held out; ridge classifiers (alpha 10 and 1) and cosine 1-NN on per-point position
mean/std and presence, the best reported) on raw, normalised and anonymised poses, plus the bone-length fingerprint.
Utility: unseen-signer ISLR top-1, 5 signer-disjoint folds (``kfold_by_signer``), a classical
classifier (ridge, closed form) on normalised arm and hand trajectories (8 time steps, hand
shapes relative to the wrist, presence), trained and tested on the original poses and then on
the anonymised ones (train and test both anonymised).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.metrics.privacy import ridge_predict
from signverse.ops.normalize import normalize
from signverse.tasks.privacy import AuditData, anonymize_all, audit, audit_data_from_samples
from signverse.tasks.splits import kfold_by_signer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STEPS = 8


def sign_features(pose: PoseSeq) -> np.ndarray:
    """Arms and hands of a normalised pose at ``STEPS`` evenly spaced times, hands also relative
    to their wrist (hand shape), with per-point presence; missing points are 0."""
    lay = get_layout(pose.layout)
    arms = [lay.anchor(f"{s}_{j}") for j in ("elbow", "wrist") for s in ("left", "right")]
    left, right = lay.slice("left_hand"), lay.slice("right_hand")
    xy = pose.xy[:, 0].astype(np.float64)
    at = np.linspace(0, len(xy) - 1, STEPS).round().astype(int)
    parts = [xy[at][:, arms]]
    for hand in (left, right):
        points = xy[at][:, hand]
        parts += [points, points - points[:, :1]]
    feats = np.concatenate([p.reshape(STEPS, -1) for p in parts], 1)
    present = np.isfinite(xy[:, np.r_[arms, np.arange(left.start, right.stop)], 0]).mean(0)
    return np.concatenate([np.nan_to_num(feats).ravel(), present]).astype(np.float32)


def islr_top1(poses: list[PoseSeq], data: AuditData, samples, folds: int = 5) -> dict:
    features = np.stack([sign_features(normalize(p)[0]) for p in poses])
    labels = np.asarray(data.labels)
    index = {s.sample_id: i for i, s in enumerate(samples)}
    correct, total, per_fold = 0, 0, []
    for fold in range(folds):
        split = kfold_by_signer(samples, folds, fold)
        train = np.array([index[i] for i in split.train])
        test = np.array([index[i] for i in split.test])
        pred = ridge_predict(features[train], labels[train], features[test], alpha=100.0)
        per_fold.append(float(np.mean(pred == labels[test])))
        correct += int(np.sum(pred == labels[test]))
        total += len(test)
    return {"top1": round(correct / total, 4), "per_fold": [round(v, 4) for v in per_fold]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "islr"))
    parser.add_argument("--method", default="canonical-tempo",
                        choices=("canonical-tempo", "canonical"))
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--rotate", type=float, default=0.0)
    parser.add_argument("--figure", help="write the bone-length fingerprint figure here")
    parser.add_argument("--cache", help="keep decompressed ISLR arrays here between runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from signverse.data.mediapipe import load_islr
    if not Path(args.data).is_dir():
        sys.exit(f"no ISLR folder at {args.data}")
    start = time.perf_counter()
    samples = load_islr(args.data, cache_dir=args.cache, workers=2)
    data = audit_data_from_samples(samples)
    loaded = time.perf_counter()
    anonymized = anonymize_all(data, method=args.method, jitter=args.jitter, rotate=args.rotate)
    anonymised_at = time.perf_counter()
    result = audit(data, method=args.method, jitter=args.jitter, rotate=args.rotate, figure=args.figure,
                   anonymized=anonymized)
    result["islr_unseen_signer"] = {
        "classifier": "ridge on normalised arm/hand trajectories, 5 signer-disjoint folds",
        "original": islr_top1(data.poses, data, samples),
        "anonymized": islr_top1(anonymized, data, samples),
    }
    drop = result["islr_unseen_signer"]["original"]["top1"] - result["islr_unseen_signer"]["anonymized"]["top1"]
    result["islr_unseen_signer"]["drop"] = round(drop, 4)
    ratio = result["reid_top1"]["anonymized"] / result["reid_top1"]["normalized"]
    result["targets"] = {"reid_anonymized_over_normalized": round(ratio, 4),
                         "reid_target_met": ratio <= 0.5, "islr_drop_target_met": drop <= 0.02}
    result["seconds"] = {"load": round(loaded - start, 1),
                         "anonymize": round(anonymised_at - loaded, 1),
                         "audit_and_islr": round(time.perf_counter() - anonymised_at, 1)}
    print(json.dumps(result, indent=1 if args.json else None, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

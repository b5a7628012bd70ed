"""Privacy benchmark: signer re-identification before and after each anonymisation method, what
each costs sign recognition, and which parts of the pose still identify people (an ablation).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/privacy.py [--data ../shared/data/islr]
        [--rows canonical-space,canonical-dominant,canonical-space:0:10:0.2:0.2:0]
        [--no-ablation] [--figure fingerprint.png] [--cache DIR] [--json] [--signdw-folds 0,1] [--seed N]
        [--signdw-seed N]

Data: the shared ISLR-MP DEV folder (51 real signers, 1940 sequences, MediaPipe Holistic).
Re-identification: ``signverse.tasks.privacy.audit`` (every second sequence of each (signer,
sign) held out; ridge classifiers (alpha 10 and 1) and cosine 1-NN on per-point position
mean/std and presence, the best reported) on raw, normalised and each row's anonymised poses,
plus the bone-length fingerprint, plus the same probes on the recogniser's own input (below).
Utility: unseen-signer ISLR top-1, 5 signer-disjoint folds (``kfold_by_signer``), a classical
classifier (ridge, closed form) on normalised arm and hand trajectories (8 time steps, hand
shapes relative to the wrist, presence), trained and tested on the original poses and then on
each row's anonymised ones (train and test both anonymised); a second classical yardstick reads
hand shapes the way SignDW does: the class-balanced logistic regression of ``islr.py`` on clip
mean/std of the SignDW frame features plus the rotation-free handshape distances (``clip_vector``),
same folds, train and test both anonymised. Also printed: the sign told from the bone-length
fingerprint alone (ridge, same folds, original poses): how much of the sign a sequence's 2D bone
lengths hold, which canonical lengths take away. With ``--signdw-folds``, also the
toolkit's own recogniser (SignDW, ``signverse train islr`` with the settings pinned below) on
those folds of the same 5, trained and tested on original, then on each row's anonymised poses
(about 2.5 CPU minutes per fold and version). One SignDW training seed moves a fold by a few
points (as much as the drops measured), so ``--signdw-seed`` repeats the yardstick with another
initialisation and batch order (the anonymisation draws stay those of ``--seed``).
A row is ``METHOD[:JITTER:ROTATE_DEG[:SHIFT:AMPLITUDE:HAND_TURN_DEG[:EXPRESSION:REST_MOTION]]]``; the first row that is the default method gets the
targets and the ablation (re-identification from each part of the pose alone and without it).
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
from signverse.metrics.privacy import (bone_ratio_fingerprint, feature_groups, group_ablation,
                                       reid_top1, ridge_predict, split_per_signer)
from signverse.ops.anonymize import DEFAULT_METHOD
from signverse.ops.normalize import normalize
from signverse.tasks.privacy import (AuditData, anonymize_all, audit, audit_data_from_samples,
                                     version_features)
from signverse.tasks.splits import kfold_by_signer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STEPS = 8
ROWS = f"{DEFAULT_METHOD},canonical-dominant,canonical-tempo"


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


def recogniser_features(poses: list[PoseSeq]) -> np.ndarray:
    return np.stack([sign_features(normalize(p)[0]) for p in poses])


def fold_top1(samples, labels: np.ndarray, predict, folds: int = 5) -> dict:
    """Top-1 pooled over the ``folds`` signer-disjoint folds (``kfold_by_signer``) and per fold;
    ``predict(train, test)`` gives the predicted labels of the ``test`` indices."""
    index = {s.sample_id: i for i, s in enumerate(samples)}
    correct, total, per_fold = 0, 0, []
    for fold in range(folds):
        split = kfold_by_signer(samples, folds, fold)
        train = np.array([index[i] for i in split.train])
        test = np.array([index[i] for i in split.test])
        hits = predict(train, test) == labels[test]
        per_fold.append(float(hits.mean()))
        correct += int(hits.sum())
        total += len(test)
    return {"top1": round(correct / total, 4), "per_fold": [round(v, 4) for v in per_fold]}


def islr_top1(features: np.ndarray, data: AuditData, samples, folds: int = 5,
              alpha: float = 100.0) -> dict:
    labels = np.asarray(data.labels)
    return fold_top1(samples, labels, lambda train, test: ridge_predict(
        features[train], labels[train], features[test], alpha=alpha), folds)


def fingerprint_features(poses: list[PoseSeq]) -> np.ndarray:
    """Each sequence's bone-length fingerprint, unmeasured bones 0 (the ridge needs numbers)."""
    return np.nan_to_num(np.stack([bone_ratio_fingerprint(p) for p in poses]))


def shape_features(poses: list[PoseSeq]) -> np.ndarray:
    """The handshape yardstick's clip vectors (``signverse.train.clip_classifier.clip_vector``)."""
    from signverse.data.features.encoder import prepare_points
    from signverse.train.clip_classifier import clip_vector
    return np.stack([clip_vector(prepare_points(p)) for p in poses])


def shape_top1(features: np.ndarray, data: AuditData, samples, folds: int = 5) -> dict:
    """Unseen-signer top-1 of the handshape yardstick (logistic regression, ``ClipClassifier``)
    on the ridge yardstick's folds."""
    from signverse.train.clip_classifier import ClipClassifier
    names = sorted(set(data.labels))
    labels = np.array([names.index(v) for v in data.labels])

    def predict(train, test):
        model = ClipClassifier.fit(features[train], labels[train], len(names))
        return model.log_probs(features[test]).argmax(1)
    return fold_top1(samples, labels, predict, folds)


# The SignDW yardstick's settings, pinned here (the islr defaults may change elsewhere): the
# `signverse train islr` default of this version, every training signer, 20 epochs, one thread.
SIGNDW_MODEL = "signdw-islr"
SIGNDW_TRAIN = dict(epochs=20, batch_size=32, lr=1e-3, weight_decay=0.05, dev_part=False,
                    refit_all=False, time_budget_s=0, threads=1)
SIGNDW_RECIPE = dict(features="shape", canonical=True, tta=0, clip_weight=0.0)


def signdw_top1(samples, poses: list[PoseSeq], folds: list[int], data_path: str,
                n_folds: int = 5, seed: int = 0) -> dict:
    """Unseen-signer ISLR top-1 of the toolkit's own recogniser (SignDW, ``signverse train
    islr`` with the pinned settings above) on signer-disjoint folds ``folds`` of ``n_folds``
    (the ridge yardstick's folds), trained (training seed ``seed``) and tested on ``poses`` (one
    per sample)."""
    import tempfile

    import torch

    from signverse.data.sample import Sample
    from signverse.train.run import evaluate_run, train_task
    torch.set_num_threads(1)
    swapped = [Sample(s.sample_id, p, label=s.label, signer=s.signer, video_id=s.video_id,
                      n_frames=p.n_frames) for s, p in zip(samples, poses)]
    by_id = {s.sample_id: s for s in swapped}
    correct, total, per_fold = 0, 0, {}
    for fold in folds:
        split = kfold_by_signer(samples, n_folds, fold)
        test = [by_id[i] for i in split.test]
        with tempfile.TemporaryDirectory(prefix="privacy_signdw_") as run:
            train_task("islr", data_path, run, model=SIGNDW_MODEL, seed=seed, progress=False,
                       samples=[by_id[i] for i in split.train], train_overrides=dict(SIGNDW_TRAIN),
                       recipe_overrides=dict(SIGNDW_RECIPE))
            res = evaluate_run(run, None, samples=test)
        per_fold[fold] = round(float(res["top1"]), 4)
        correct += float(res["top1"]) * len(test)
        total += len(test)
        print(f"  SignDW fold {fold}: top-1 {per_fold[fold]}", file=sys.stderr, flush=True)
    return {"top1": round(correct / total, 4), "per_fold": per_fold}


def parse_row(row: str) -> tuple[str, float, float | None, dict]:
    """``METHOD`` (the method's own randomisation), ``METHOD:JITTER:ROTATE``,
    ``METHOD:JITTER:ROTATE:SHIFT:AMPLITUDE:HAND_TURN`` (the signing-space randomisation) or
    ``...:HAND_TURN:EXPRESSION:REST_MOTION`` (what is kept of the face's and rest bones' movement)."""
    method, *rest = row.split(":")
    jitter, rotate = (float(rest[0]), float(rest[1])) if rest else (0.0, None)
    space = dict(zip(("shift", "amplitude", "hand_turn", "expression", "rest_motion"),
                     (float(v) for v in rest[2:7])))
    return method, jitter, rotate, space


def _round(d: dict) -> dict:
    return {k: round(float(v), 4) for k, v in d.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "islr"))
    parser.add_argument("--rows", default=ROWS, help="comma-separated "
                        f"METHOD[:JITTER:ROTATE[:SHIFT:AMPLITUDE:HAND_TURN[:EXPRESSION:REST_MOTION]]] (default {ROWS})")
    parser.add_argument("--no-ablation", action="store_true", help="skip the per-part ablation")
    parser.add_argument("--figure", help="write the bone-length fingerprint figure (first row) here")
    parser.add_argument("--cache", help="keep decompressed ISLR arrays here between runs")
    parser.add_argument("--json", action="store_true", help="indented JSON instead of the table")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the per-sequence anonymisation draws (repeat to see their spread)")
    parser.add_argument("--signdw-folds", default="",
                        help="also the SignDW yardstick (signverse train islr, ~2.5 CPU min per fold "
                             "and version) on these of the 5 signer-disjoint folds, e.g. 0,1")
    parser.add_argument("--signdw-seed", type=int, default=0,
                        help="training seed of the SignDW yardstick (initialisation and batch order)")
    args = parser.parse_args()
    from signverse.data.mediapipe import load_islr
    if not Path(args.data).is_dir():
        sys.exit(f"no ISLR folder at {args.data}")
    start = time.perf_counter()
    samples = load_islr(args.data, cache_dir=args.cache, workers=2)
    data = audit_data_from_samples(samples)
    train, test = split_per_signer(data.signers, data.labels)
    original_rec = recogniser_features(data.poses)
    result: dict = {"islr_classifier": "ridge (alpha 100) on normalised arm/hand trajectories, "
                                       "5 signer-disjoint folds",
                    "islr_original": islr_top1(original_rec, data, samples),
                    "islr_shape_original": shape_top1(shape_features(data.poses), data, samples),
                    # the bone-length fingerprint asked for the sign instead of the signer: 2D
                    # lengths are medians of projections, so they also hold the sign's posture
                    "islr_fingerprint_original": islr_top1(fingerprint_features(data.poses), data,
                                                           samples, alpha=10.0),
                    "reid_recogniser_input_original": _round(reid_top1(original_rec, data.signers,
                                                                        train, test)),
                    "rows": {}}
    signdw_folds = [int(f) for f in args.signdw_folds.split(",") if f.strip()]
    if signdw_folds:
        result["islr_signdw_settings"] = {"model": SIGNDW_MODEL, **SIGNDW_TRAIN, **SIGNDW_RECIPE,
                                          "seed": args.signdw_seed}
        result["islr_signdw_original"] = signdw_top1(samples, data.poses, signdw_folds, args.data,
                                                     seed=args.signdw_seed)
    result["seconds"] = {"load": round(time.perf_counter() - start, 1)}
    for row in args.rows.split(","):
        method, jitter, rotate, space = parse_row(row)
        began = time.perf_counter()
        anonymized = anonymize_all(data, method=method, jitter=jitter, rotate=rotate, seed=args.seed,
                                   **space)
        made = time.perf_counter()
        figures = {"anonymize_seconds": round(made - began, 1)}
        if "audit" not in result:
            result["audit"] = audit(data, method=method, jitter=jitter, rotate=rotate, **space,
                                    figure=args.figure, anonymized=anonymized)
            probes = result["audit"]["reid_top1_by_probe"]["anonymized"]
            figures["fingerprint"] = result["audit"]["fingerprint_top1"]["anonymized"]
        else:
            probes = _round(reid_top1(version_features([normalize(p)[0] for p in anonymized]),
                                      data.signers, train, test))
            figures["fingerprint"] = round(reid_top1(np.stack([bone_ratio_fingerprint(p) for p in anonymized]),
                                                     data.signers, train, test)["best"], 4)
        figures["reid_by_probe"] = {k: v for k, v in probes.items() if k != "best"}
        figures["reid"] = max(figures["reid_by_probe"].values())
        rec = recogniser_features(anonymized)
        figures["reid_recogniser_input"] = round(reid_top1(rec, data.signers, train, test)["best"], 4)
        figures["islr"] = islr_top1(rec, data, samples)
        figures["islr_drop"] = round(result["islr_original"]["top1"] - figures["islr"]["top1"], 4)
        figures["islr_shape"] = shape_top1(shape_features(anonymized), data, samples)
        figures["islr_shape_drop"] = round(result["islr_shape_original"]["top1"]
                                           - figures["islr_shape"]["top1"], 4)
        figures["ratio"] = round(figures["reid"] / result["audit"]["reid_top1"]["normalized"], 4)
        if signdw_folds:
            figures["islr_signdw"] = signdw_top1(samples, anonymized, signdw_folds, args.data,
                                                 seed=args.signdw_seed)
            figures["islr_signdw_drop"] = round(result["islr_signdw_original"]["top1"]
                                                - figures["islr_signdw"]["top1"], 4)
        result["rows"][row] = figures
        # progress on stderr: a long run under contention still shows what it has measured
        print(f"{row}: {json.dumps(figures, allow_nan=False)}", file=sys.stderr, flush=True)
        if method == DEFAULT_METHOD and not jitter and rotate is None and not space \
                and "targets" not in result:
            result["targets"] = {"row": row, "reid_anonymized_over_normalized": figures["ratio"],
                                 "reid_target_met": figures["ratio"] <= 0.5,
                                 "islr_drop": figures["islr_drop"],
                                 "islr_drop_target_met": figures["islr_drop"] <= 0.02}
            if not args.no_ablation:
                result["ablation"] = ablation(data, anonymized, train, test)
        result["seconds"][row] = round(time.perf_counter() - began, 1)
    if args.json:
        print(json.dumps(result, indent=1, allow_nan=False))
    else:
        print(table(result))
        print(json.dumps(result, allow_nan=False))
    return 0


def ablation(data: AuditData, anonymized: list[PoseSeq], train, test) -> dict:
    """Re-identification from each part of the pose alone / without it, on normalised original
    and anonymised poses (the best probe each time)."""
    groups = feature_groups(data.poses[0].layout)
    out = {}
    for name, poses in (("normalized", data.poses), ("anonymized", anonymized)):
        features = version_features([normalize(p)[0] for p in poses])
        out[name] = {g: _round(v) for g, v in group_ablation(features, groups, data.signers,
                                                             train, test).items()}
    frames = np.array([[p.n_frames] for p in data.poses], np.float32)
    out["frame_count_alone"] = round(reid_top1(frames, data.signers, train, test)["best"], 4)
    return out


def table(result: dict) -> str:
    audit_ = result["audit"]
    lines = [f"{audit_['n_signers']} signers, {audit_['n_sequences']} sequences, chance "
             f"{audit_['chance']}; re-id raw {audit_['reid_top1']['raw']}, normalized "
             f"{audit_['reid_top1']['normalized']}, fingerprint normalized "
             f"{audit_['fingerprint_top1']['normalized']}; ISLR top-1 original "
             f"{result['islr_original']['top1']}, handshape yardstick "
             f"{result['islr_shape_original']['top1']}, the sign from the bone-length fingerprint alone "
             f"{result['islr_fingerprint_original']['top1']}; re-id from the recogniser's input, original "
             f"{result['reid_recogniser_input_original']['best']}", "",
             "| row | re-id (ridge a10 / a1 / 1-NN) | / normalized | fingerprint | re-id from recogniser input | ISLR top-1 (drop) | handshape yardstick (drop) | anonymise s |",
             "|---|---|---|---|---|---|---|---|"]
    if "islr_signdw_original" in result:
        sd = result["islr_signdw_original"]
        lines.insert(1, f"SignDW yardstick (folds {', '.join(map(str, sd['per_fold']))} of 5): "
                        f"original top-1 {sd['top1']}; per row: "
                        + "; ".join(f"{row} {f['islr_signdw']['top1']} ({-f['islr_signdw_drop']:+.3f})"
                                    for row, f in result["rows"].items()))
    for row, f in result["rows"].items():
        p = f["reid_by_probe"]
        lines.append(f"| {row} | {f['reid']:.3f} ({p['ridge']:.3f} / {p['ridge_a1']:.3f} / "
                     f"{p['nearest']:.3f}) | {f['ratio']:.2f} | {f['fingerprint']:.3f} | "
                     f"{f['reid_recogniser_input']:.3f} | {f['islr']['top1']:.3f} "
                     f"({f['islr_drop']:+.3f}) | {f['islr_shape']['top1']:.3f} ({f['islr_shape_drop']:+.3f}) | "
                     f"{f['anonymize_seconds']:.0f} |")
    if "ablation" in result:
        ab = result["ablation"]
        lines += ["", f"Ablation ({result['targets']['row']}): re-id from each part alone / "
                      f"without it (frame count alone: {ab['frame_count_alone']})", "",
                  "| part | normalized alone | normalized without | anonymized alone | anonymized without |",
                  "|---|---|---|---|---|"]
        for g in ab["anonymized"]:
            n, a = ab["normalized"][g], ab["anonymized"][g]
            lines.append(f"| {g} | {n['only']:.3f} | {n['without']:.3f} | {a['only']:.3f} | "
                         f"{a['without']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

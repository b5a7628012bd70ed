"""SignX benchmark: fusion (held-out track reconstruction), Pose2Gloss diffusion vs a classifier
peer on signer-disjoint ISLR folds, and Video2Pose distillation (leave-videos-out) and speed.

    .venv/bin/python benchmarks/signx.py [fusion] [gloss] [video2pose] [--quick] [--out RUN]
    .venv/bin/python benchmarks/signx.py fusion [--fusion-fold early] [--fusion-smooth 1] [--fusion-steps 0]

Fusion predicts every held-out track of FOOTBALL (the one video with two real estimators) from the
other estimator's tracks, against the layout conversion and the mean pose, on points with a source
and, apart, points with none (``--fusion-steps 0``: conversion + closed-form offsets + fitted
template, no network training).

Everything trains here on CPU at small scale. Timings are wall-clock on whatever machine runs this
(shared CPUs disturb them). ``--out RUN`` writes a SignX run (fusion + gloss + video2pose) that
``signverse recognize VIDEO --model RUN`` can use.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from signverse.layouts import can_convert, convert, get_layout
from signverse.models.signx import (FrameSet, FusionConfig, GlossConfig, Video2PoseConfig, load_targets,
                                    normalise_tracks, predict_scores, save_run, train_fusion, train_gloss,
                                    train_video2pose)
from signverse.models.signx.fusion import to_torch
from signverse.data import load_islr
from signverse.tasks.splits import kfold_by_signer
from signverse.models.signx.paired import load_tracks
from signverse.models.signx.tracks import frame_reference

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VIDEOS = sorted((SHARED / "videos").glob("*.mp4"))


def _px_err(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(pred - gt, axis=-1)
    ok = valid & np.isfinite(d)
    return d[ok]


# -- 1. fusion ------------------------------------------------------------------------------------
FUSION_TRACKS = ("dwpose", "coco-wholebody", "mediapipe-holistic", "openpose-137")
# Held-out track <- the tracks it is predicted from. FOOTBALL is the one video with two real
# estimators (MediaPipe Holistic and an MMPose whole-body model): an MMPose-family target (dwpose and
# OpenPose-137 are converted from the real COCO-WholeBody track) is predicted from MediaPipe tracks
# only, Holistic from MMPose tracks only, so no input is a converted copy of the truth.
FUSION_HELD_OUT = (("coco-wholebody", ("mediapipe-holistic",)),
                   ("dwpose", ("mediapipe-holistic", "openpose-137")),
                   ("openpose-137", ("mediapipe-holistic", "dwpose")),
                   ("mediapipe-holistic", ("coco-wholebody", "openpose-137")))
# Temporal hold-outs of FOOTBALL's 62 frames: (train frames, test frames).
FUSION_FOLDS = {"late": (slice(0, 42), slice(42, 62)), "early": (slice(20, 62), slice(0, 20))}


def _football_views() -> tuple[dict, dict]:
    """FOOTBALL as ``{estimator: {track: PoseSeq}}``: every track of each estimator's output."""
    P = SHARED / "poses"
    real = load_tracks([P / "poses_FOOTBALL.pose", P / "poses_mmposewholebody_FOOTBALL.pose"])
    by = {"mediapipe": real["mediapipe-holistic"], "mmpose": real["coco-wholebody"]}
    return {est: {t: convert(pose, t) for t in FUSION_TRACKS if can_convert(pose.layout, t)}
            for est, pose in by.items()}, by


# The estimator whose output each track stands for (a dwpose track is what DWPose, an MMPose
# whole-body model, gives): only such a track is a prediction target.
NATIVE = {"mediapipe-holistic": "mediapipe", "coco-wholebody": "mmpose", "dwpose": "mmpose",
          "openpose-137": "mmpose"}


def _fusion_training_clips(views: dict, frames: slice) -> tuple[list, list, list]:
    """The training ``frames`` as several paired views: Holistic from MediaPipe, COCO-WholeBody from
    MMPose, and every mix of the two estimators for dwpose / OpenPose-137 (each view tells the
    model which estimator each track came from; a track converted from the other estimator is an
    input only, as at test time)."""
    clips, sources, input_only = [], [], []
    for dw_from in ("mmpose", "mediapipe"):
        for op_from in ("mmpose", "mediapipe"):
            est = {"mediapipe-holistic": "mediapipe", "coco-wholebody": "mmpose",
                   "dwpose": dw_from, "openpose-137": op_from}
            poses = {t: views[e][t] for t, e in est.items()}
            norm, _ = normalise_tracks(poses)
            clips.append({t: (p[frames], v[frames]) for t, (p, v) in norm.items()})
            sources.append(est)
            input_only.append({t for t, e in est.items() if e != NATIVE[t]})
    return clips, sources, input_only


def _fusion_extra_clips() -> list:
    """Unpaired real Holistic tracks (MediaPipe on the shared videos; cached after the first run)."""
    extra = []
    for video in VIDEOS:
        try:
            v = load_targets(video, 96)
        except Exception as exc:  # noqa: BLE001 - no MediaPipe / unreadable video: fewer extra frames
            print(f"  (skipping {video.name}: {exc})")
            continue
        extra.append(normalise_tracks({"mediapipe-holistic": convert(v.pose, "mediapipe-holistic")})[0])
    return extra


def _masks(layout_name: str) -> dict[str, np.ndarray]:
    layout = get_layout(layout_name)
    hands = np.zeros(layout.num_points, bool)
    hands[layout.slice("left_hand")] = hands[layout.slice("right_hand")] = True
    return {"all": np.ones(layout.num_points, bool), "hands": hands}


def fusion_errors(pred: np.ndarray, conv: np.ndarray, mean: np.ndarray, gt: np.ndarray,
                  valid: np.ndarray, layout_name: str) -> dict:
    """Median px errors of fusion / conversion / mean pose, on points WITH a source (the
    conversion gives them in that frame) and, apart, points with NO source (fusion vs mean pose)."""
    sourced = np.isfinite(conv).all(-1)
    out = {}
    for part, mask in _masks(layout_name).items():
        for kind, where in (("with source", sourced), ("no source", ~sourced)):
            ok = valid & where & mask
            row = {"n": int(ok.sum())}
            guesses = (("fusion", pred), ("conversion", conv), ("mean pose", mean))
            for name, guess in guesses:
                if kind == "no source" and name == "conversion":
                    continue
                e = _px_err(guess, gt, ok)
                row[name] = float(np.median(e)) if len(e) else None
            out[f"{part}, {kind}"] = row
    return out


def bench_fusion(args) -> dict:
    views, real = _football_views()
    train_frames, split = FUSION_FOLDS[args.fusion_fold]
    clips, sources, input_only = _fusion_training_clips(views, train_frames)
    extra = [] if args.fusion_no_extra else _fusion_extra_clips()
    cfg = FusionConfig(tracks=FUSION_TRACKS, hidden=256, latent=128)
    frames = FrameSet.from_clips(clips + extra, FUSION_TRACKS, sources + [{}] * len(extra),
                                 input_only + [set()] * len(extra))
    t0 = time.time()
    model, hist = train_fusion(frames, cfg, steps=args.fusion_steps, batch_size=64, log_every=0)
    secs = time.time() - t0
    results = {}
    for held, inputs in FUSION_HELD_OUT:
        truth_from = "mediapipe" if held == "mediapipe-holistic" else "mmpose"
        input_from = "mmpose" if truth_from == "mediapipe" else "mediapipe"
        given = {t: views[input_from][t] for t in inputs}
        truth = views[truth_from][held]
        # The frame reference comes from the inputs only (the held-out track is unseen).
        ref = frame_reference(given)
        norm, _ = normalise_tracks(given, ref)
        test = {t: (p[split], v[split]) for t, (p, v) in norm.items()}
        t1 = time.time()
        with torch.no_grad():
            pred = model.predict_clip(to_torch(test), held, smooth=args.fusion_smooth).numpy()
        ms = 1000 * (time.time() - t1) / len(pred)
        sc, ce = ref.scale[split, None, None], ref.center[split, None]
        gt, valid = truth.xy[split, 0], truth.valid[split, 0]
        # Layout conversion: the mean of every input's conversion to the target, in pixels.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            conv = np.nanmean(np.stack([convert(p, held).xy[split, 0] for p in given.values()]), 0)
        # Mean pose: the target's own training frames, averaged in the normalised frame.
        tr_norm, _ = normalise_tracks({held: truth}, ref)
        tr_p, tr_v = tr_norm[held][0][train_frames], tr_norm[held][1][train_frames]
        mean = (tr_p * tr_v[..., None]).sum(0) / np.maximum(tr_v.sum(0), 1)[:, None]
        row = fusion_errors(pred * sc + ce, conv, mean[None] * sc + ce, gt, valid, held)
        row["ms_per_frame"] = ms
        results[f"{held} <- {' + '.join(inputs)}"] = row
    print(f"\n== 1. Fusion: held-out track from the other estimator's tracks, FOOTBALL frames "
          f"{split.start}-{split.stop - 1} "
          f"(px, median; 640x360) ==")
    ms = np.mean([r["ms_per_frame"] for r in results.values()])
    print(f"   fusion = conversion + learned residual where a source exists, template fitted to it "
          f"elsewhere; {args.fusion_smooth}-frame smoothing; {ms:.2f} ms per frame")
    print(f"   trained {secs:.0f}s ({args.fusion_steps} steps) on frames {train_frames.start}-"
          f"{train_frames.stop - 1} of the paired tracks "
          f"(4 estimator mixes) + {len(extra)} unpaired MediaPipe video tracks; final loss "
          f"{np.mean([h['loss'] for h in hist[-20:]]):.4f}")
    print(f"  {'held-out <- inputs':48s} {'points':22s} {'n':>5s} {'fusion':>7s} {'convert':>7s} {'mean':>7s}")
    met = True
    for key, row in results.items():
        for part, r in row.items():
            if part == "ms_per_frame":
                continue
            f = r["fusion"]
            c = r.get("conversion")
            m = r["mean pose"]
            wins = f is None or ((c is None or f < c) and (m is None or f < m))
            if "with source" in part:
                met &= wins
            if r["n"] == 0:        # e.g. every hand point has a source
                continue
            fmt = lambda x: f"{x:7.2f}" if x is not None else "      -"  # noqa: E731
            print(f"  {key:48s} {part:22s} {r['n']:5d} {fmt(f)} {fmt(c)} {fmt(m)}"
                  f"{'' if wins else '  (fusion not best)'}")
    print("  target (fusion below conversion and mean pose on every held-out track, all points and "
          f"hands, points with a source): {'met' if met else 'NOT met'}; points with no source are "
          "compared with the mean pose only")
    return results


# -- 2. Pose2Gloss vs classifier peers --------------------------------------------------------------
def _folds(items, k):
    rows = [{"id": str(i), "signer": it.signer} for i, it in enumerate(items)]
    out = []
    for f in range(k):
        sp = kfold_by_signer(rows, k, f)
        out.append((np.array(sorted(int(i) for i in sp.train)), np.array(sorted(int(i) for i in sp.test))))
    return out, "signverse.tasks.kfold_by_signer"


def _topk(scores: np.ndarray, y: np.ndarray, k: int) -> float:
    return float(np.mean([y[i] in np.argsort(-scores[i])[:k] for i in range(len(y))]))


def _signdw_fold(train_ids, test_ids, samples, epochs) -> dict | None:
    """The models engineer's SignDW pose-encoder classifier on the same fold (None if unavailable)."""
    try:
        from signverse.train.run import evaluate_run, train_task
    except ImportError as exc:
        print(f"  (SignDW peer unavailable: {exc})")
        return None
    by_signer = set(train_ids)
    tr = [s for s in samples if s.signer in by_signer]
    te = [s for s in samples if s.signer in set(test_ids)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        train_task("islr", SHARED / "islr", Path(tmp) / "run", samples=tr, epochs=epochs)
        secs = time.time() - t0
        t1 = time.time()
        m = evaluate_run(Path(tmp) / "run", SHARED / "islr", samples=te)
        per_clip = (time.time() - t1) / max(len(te), 1)
    return {"top1": m["top1"], "top5": m["top5"], "train_s": secs, "ms_per_clip": 1000 * per_clip}


def bench_gloss(args) -> tuple[dict, object]:
    items = load_islr(SHARED / "islr")
    # The dwpose track (converted from Holistic: 18 body + 68 face + 2x21 hands) is the input: in a
    # first try, the full Holistic track (468 face points) generalised worse across signers.
    clips = [normalise_tracks({"dwpose": convert(it.pose, "dwpose")})[0] for it in items]
    folds, fold_src = _folds(items, args.folds)
    cfg = GlossConfig(fusion=FusionConfig(tracks=("dwpose",), hidden=128, latent=128),
                      d_model=128, max_frames=16, infer_steps=args.ddim_steps)
    samples = None
    if "signdw" in args.peers:
        try:
            from signverse.train.run import load_task_samples
            samples = load_task_samples(SHARED / "islr")
        except Exception as exc:  # noqa: BLE001 - the peer is optional
            print(f"  (SignDW peer unavailable: {exc})")
    rows = {"diffusion": [], "head": [], "signdw": []}
    last = None
    for f, (tr, te) in enumerate(folds[:args.eval_folds]):
        y_names = [items[i].label for i in te]
        for kind in ("diffusion", "head"):
            if kind == "head" and "head" not in args.peers:
                continue
            t0 = time.time()
            model, _ = train_gloss([clips[i] for i in tr], [[items[i].label] for i in tr], cfg,
                                   classifier=(kind == "head"), epochs=args.epochs, batch_size=32,
                                   vocab=sorted({it.label for it in items}))
            secs = time.time() - t0
            test_clips = [clips[i] for i in te]
            t1 = time.time()
            s = predict_scores(model, test_clips, batch_size=1 if args.timing_bs1 else 64)[:, 0]
            per_clip = (time.time() - t1) / len(te)
            y = np.array([model.vocab.index(n) for n in y_names])
            r = {"top1": _topk(s, y, 1), "top5": _topk(s, y, 5), "train_s": secs, "ms_per_clip": 1000 * per_clip}
            if kind == "diffusion":
                t1 = time.time()
                s1 = predict_scores(model, test_clips, steps=1, batch_size=1 if args.timing_bs1 else 64)[:, 0]
                r["ms_per_clip (1 step)"] = 1000 * (time.time() - t1) / len(te)
                r["top1 (1 step)"] = _topk(s1, y, 1)
                r["top5 (1 step)"] = _topk(s1, y, 5)
                last = model
            rows[kind].append(r)
            print(f"  fold {f} {kind:9s} " + " ".join(f"{k}={v:.3f}" for k, v in r.items()), flush=True)
        if samples is not None:
            tr_signers = sorted({items[i].signer for i in tr})
            te_signers = sorted({items[i].signer for i in te})
            try:
                r = _signdw_fold(tr_signers, te_signers, samples, args.epochs)
            except Exception as exc:  # noqa: BLE001 - the peer is someone else's code; report, go on
                print(f"  (SignDW peer failed on fold {f}: {type(exc).__name__}: {exc})")
                r = None
            if r:
                rows["signdw"].append(r)
                print(f"  fold {f} signdw    " + " ".join(f"{k}={v:.3f}" for k, v in r.items()), flush=True)
    print(f"\n== 2. ISLR-MP signer-independent recognition ({len(items)} clips, 17 classes; "
          f"{args.eval_folds} of {args.folds} signer-disjoint folds from {fold_src}; {args.epochs} epochs) ==")
    names = {"diffusion": "SignX Pose2Gloss (classifier prior + diffusion, %d DDIM steps)" % args.ddim_steps,
             "head": "same encoder + Transformer classifier head (CE)",
             "signdw": "SignDW pose-encoder classifier (signdw-islr, models engineer)"}
    summary = {}
    for kind, rs in rows.items():
        if not rs:
            continue
        mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
        summary[kind] = mean
        print(f"  {names[kind]:62s} " + "  ".join(f"{k}={v:.3f}" for k, v in mean.items()))
    if "diffusion" in summary and "head" in summary:
        d, h = summary["diffusion"], summary["head"]
        met = d["top1"] >= h["top1"] and d["top5"] >= h["top5"]
        print(f"  target (diffusion >= classifier head on top-1 and top-5, same folds): {'met' if met else 'NOT met'}")
    return summary, last


# -- 3. Video2Pose ---------------------------------------------------------------------------------
def _mean_pose(train, to_norm) -> np.ndarray:
    """Per-keypoint mean of the training videos' dwpose tracks in a normalised frame (frames pooled)."""
    pts, oks = [], []
    for v in train:
        dw = v.dwpose
        ok = dw.valid[:, 0] & np.isfinite(dw.xy[:, 0]).all(-1)
        pts.append(np.where(ok[..., None], to_norm(v, dw.xy[:, 0]), 0.0))
        oks.append(ok)
    p, ok = np.concatenate(pts), np.concatenate(oks)
    return (p * ok[..., None]).sum(0) / np.maximum(ok.sum(0), 1)[:, None]


def _frame_norm(v, xy):                       # x / width, y / height
    return xy / np.array([v.pose.width, v.pose.height], np.float32)


def _frame_unnorm(v, uv):
    return uv * np.array([v.pose.width, v.pose.height], np.float32)


def _view_norm(view_of):                      # coordinates of a square view, e.g. the letterbox
    from signverse.models.signx.video2pose import from_view, to_view
    def norm(v, xy):
        return to_view(xy, np.tile(view_of(v), (len(xy), 1)))
    def unnorm(v, uv):
        return from_view(uv, np.tile(view_of(v), (len(uv), 1)))
    return norm, unnorm


def _teacher_box(v):
    from signverse.models.signx.video2pose import person_box
    dw = v.dwpose
    return person_box(dw.xy[:, 0], dw.valid[:, 0])


def _v2p_fold(held_name: str, fusion, steps: int, seed: int) -> tuple[dict, object]:
    """Train on every video but ``held_name``, score it against the mean-pose baselines (one row)."""
    from signverse.models.signx.video2pose import KPT_LAYOUT, letterbox_view, person_box
    torch.set_num_threads(1)
    cfg = Video2PoseConfig(latent=fusion.cfg.latent)
    videos = [load_targets(p, cfg.frame_side) for p in VIDEOS]
    v = next(u for u in videos if u.name == held_name)
    train = [u for u in videos if u is not v]
    layout = get_layout(KPT_LAYOUT)
    parts = {"all": np.ones(layout.num_points, bool)}
    for name in ("body", "face", "hands"):
        parts[name] = np.zeros(layout.num_points, bool)
        for comp in (("left_hand", "right_hand") if name == "hands" else (name,)):
            parts[name][layout.slice(comp)] = True
    t0 = time.time()
    model, _ = train_video2pose(train, fusion, cfg, steps=steps, seed=seed)
    train_s = time.time() - t0
    W, H = v.pose.width, v.pose.height
    gt = v.dwpose
    valid = gt.valid[:, 0] & np.isfinite(gt.xy[:, 0]).all(-1)
    sw = float(np.median(np.linalg.norm(gt.xy[:, 0, 2] - gt.xy[:, 0, 5], axis=-1)))
    t1 = time.time()
    kpt = model.predict_keypoints(v.frames, W, H)[0]
    ms = 1000 * (time.time() - t1) / len(v.frames)
    pass1 = model.predict_keypoints(v.frames, W, H, passes=1)[0]
    found, truth = person_box(pass1, np.ones(pass1.shape[:2], bool)), _teacher_box(v)
    guesses = {"v2p": kpt, "v2p 1 pass": pass1}
    smooth, model.cfg.smooth = model.cfg.smooth, 1
    guesses["v2p unsmoothed"] = model.predict_keypoints(v.frames, W, H)[0]
    model.cfg.smooth, model.cfg.flip_test = smooth, False
    guesses["v2p no flip-test"] = model.predict_keypoints(v.frames, W, H)[0]
    model.cfg.flip_test = True
    letterbox = _view_norm(lambda u: letterbox_view(u.pose.width, u.pose.height))
    for name, (norm, unnorm) in (("mean (frame)", (_frame_norm, _frame_unnorm)),
                                 ("mean (letterbox)", letterbox), ("mean (teacher box)", _view_norm(_teacher_box))):
        mean = np.broadcast_to(_mean_pose(train, norm), gt.xy[:, 0].shape)
        guesses[name] = unnorm(v, mean)
        if name == "mean (teacher box)":              # the same normalised mean, in the box v2p found
            guesses["mean (v2p box)"] = (_view_norm(lambda u: found)[1](v, mean) if found is not None
                                         else guesses["mean (letterbox)"])
    row = {"video": v.name, "size": f"{W}x{H}", "frames": len(v.frames), "shoulder_px": sw,
           "train_s": train_s, "v2p_ms": ms,
           "box_centre_err/sw": float(np.linalg.norm(found[:2] - truth[:2]) / sw) if found is not None else None,
           "box_scale": float(found[2] / truth[2]) if found is not None else None}
    for name, guess in guesses.items():
        for part, sel in parts.items():
            e = _px_err(guess, gt.xy[:, 0], valid & sel)
            row[f"{name}|{part}"] = float(np.median(e)) if len(e) else None
    return row, model


def bench_video2pose(args, fusion) -> tuple[dict, object]:
    from concurrent.futures import ProcessPoolExecutor
    from signverse.models.signx.video2pose import run_estimator
    cfg = Video2PoseConfig(latent=fusion.cfg.latent)
    videos = [load_targets(v, cfg.frame_side) for v in VIDEOS]      # the teacher runs here, once
    held = [v.name for v in videos if not args.v2p_videos or v.name in args.v2p_videos.split(",")]
    rows, model = [], None

    def report(row):
        rows.append(row)
        print(f"  {row['video']}: " + " ".join(f"{k}={row[k]:.1f}" for k in (
              "v2p|all", "v2p 1 pass|all", "mean (frame)|all", "mean (letterbox)|all", "mean (teacher box)|all",
              "train_s", "v2p_ms")) + f" box centre err {row['box_centre_err/sw']:.2f} sw, "
              f"box scale {row['box_scale']:.2f}", flush=True)
    if args.workers > 1:
        # Folds are independent: one single-threaded process each, ``--workers`` at a time.
        import multiprocessing
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_v2p_fold, name, fusion, args.v2p_steps, args.seed) for name in held]
            for f in futures:
                row, model = f.result()
                report(row)
    else:
        for name in held:
            row, model = _v2p_fold(name, fusion, args.v2p_steps, args.seed)
            report(row)
    # Speeds after training, one at a time (not shared with training folds); any fold's model
    # serves, the weights do not change the work.
    for row in rows:
        v = next(u for u in videos if u.name == row["video"])
        t1 = time.time()
        model.predict_keypoints(v.frames, v.pose.width, v.pose.height)
        row["v2p_ms"] = 1000 * (time.time() - t1) / row["frames"]
        if not args.no_estimator:
            t2 = time.time()
            run_estimator(next(p for p in VIDEOS if p.stem == row["video"]))
            row["est_ms"] = 1000 * (time.time() - t2) / row["frames"]
    names = ["v2p", "v2p unsmoothed", "v2p no flip-test", "v2p 1 pass", "mean (frame)", "mean (letterbox)", "mean (v2p box)",
             "mean (teacher box)"]
    print(f"\n== 3. Video2Pose, leave-one-video-out over {len(rows)} of {len(videos)} real videos "
          f"(teacher MediaPipe Holistic -> dwpose; {args.v2p_steps} steps per fold, "
          f"{cfg.image_size}px views, 2 passes) ==")
    print("  median px error over the teacher's valid points (all 128 dwpose points); "
          "'/sw': divided by the video's shoulder width")
    print(f"  {'held-out video':32s} {'size':9s} " + " ".join(f"{n:>18s}" for n in names)
          + f" {'v2p ms/f':>9s} {'est ms/f':>9s}")
    for r in rows:
        print(f"  {r['video']:32s} {r['size']:9s} " + " ".join(f"{r[n + '|all']:18.1f}" for n in names)
              + f" {r['v2p_ms']:9.1f} " + (f"{r['est_ms']:9.1f}" if "est_ms" in r else f"{'-':>9s}"))
    summary = {}
    for n in names:
        summary[n] = {"px": float(np.mean([r[n + "|all"] for r in rows])),
                      "sw": float(np.mean([r[n + "|all"] / r["shoulder_px"] for r in rows]))}
        for part in ("body", "face", "hands"):
            vals = [r[f"{n}|{part}"] / r["shoulder_px"] for r in rows if r[f"{n}|{part}"] is not None]
            summary[n][part + "/sw"] = float(np.mean(vals)) if vals else None
    print(f"  {'mean over videos (px)':42s} " + " ".join(f"{summary[n]['px']:18.1f}" for n in names))
    print(f"  {'mean over videos (/sw)':42s} " + " ".join(f"{summary[n]['sw']:18.3f}" for n in names))
    for part in ("body", "face", "hands"):
        print(f"  {'  ' + part + ' (/sw)':42s} " + " ".join(
            f"{summary[n][part + '/sw']:18.3f}" if summary[n][part + "/sw"] is not None else f"{'-':>18s}"
            for n in names))
    wins = sum(r["v2p|all"] < min(r[b + "|all"] for b in ("mean (frame)", "mean (letterbox)")) for r in rows)
    best_base = min(summary[b]["sw"] for b in ("mean (frame)", "mean (letterbox)"))
    print(f"  v2p beats both mean-pose baselines on {wins} of {len(rows)} videos; mean /sw "
          f"{summary['v2p']['sw']:.3f} vs {best_base:.3f}: target {'met' if summary['v2p']['sw'] < best_base and summary['v2p']['px'] < min(summary[b]['px'] for b in ('mean (frame)', 'mean (letterbox)')) else 'NOT met'}")
    ms = float(np.mean([r["v2p_ms"] for r in rows]))
    line = f"  speed: v2p {ms:.1f} ms/frame (2 passes, frames decoded beforehand)"
    if rows and "est_ms" in rows[0]:
        line += f"; estimator path (decode + MediaPipe Holistic) {np.mean([r['est_ms'] for r in rows]):.1f} ms/frame"
    print(line + f"; training {np.mean([r['train_s'] for r in rows]):.0f} s per fold")
    return {"rows": rows, "summary": summary}, model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("parts", nargs="*", default=["fusion", "gloss", "video2pose"])
    p.add_argument("--quick", action="store_true", help="tiny settings (smoke run)")
    p.add_argument("--fusion-steps", type=int, default=400)
    p.add_argument("--fusion-no-extra", action="store_true", help="fusion: paired FOOTBALL frames only")
    p.add_argument("--fusion-smooth", type=int, default=3, help="fusion: frames averaged (1 = none)")
    p.add_argument("--fusion-fold", choices=sorted(FUSION_FOLDS), default="late",
                   help="fusion: test on FOOTBALL frames 42-61 (late, default) or 0-19 (early)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--eval-folds", type=int, default=2, help="how many of the folds to run")
    p.add_argument("--ddim-steps", type=int, default=5)
    p.add_argument("--peers", default="head,signdw", help="comma list: head, signdw")
    p.add_argument("--timing-bs1", action="store_true", help="time inference one clip at a time")
    p.add_argument("--v2p-steps", type=int, default=400)
    p.add_argument("--v2p-videos", default="", help="comma list of held-out videos (default: every video)")
    p.add_argument("--no-estimator", action="store_true", help="video2pose: do not time MediaPipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="video2pose: folds trained in parallel processes")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is faster on a shared CPU)")
    p.add_argument("--out", help="write a SignX run (gloss + video2pose) here")
    p.add_argument("--fusion-from", metavar="RUN", help="video2pose without 'gloss': distil this run's fusion")
    args = p.parse_args(argv)
    if args.quick:
        args.fusion_steps, args.epochs, args.eval_folds, args.v2p_steps = 100, 2, 1, 40
    args.peers = set(args.peers.split(","))
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    if not SHARED.exists():
        print(f"no shared data at {SHARED}")
        return 1
    print(f"SignX benchmark (torch {torch.__version__}, {torch.get_num_threads()} threads; shared CPU: "
          "timings are disturbed by other jobs)")
    gloss_model = v2p = None
    if "fusion" in args.parts:
        bench_fusion(args)
    if "gloss" in args.parts:
        _, gloss_model = bench_gloss(args)
    if "video2pose" in args.parts:
        fusion = gloss_model.encoder.fusion if gloss_model is not None else None
        if fusion is None and args.fusion_from:
            from signverse.models.signx import load_run
            run = load_run(args.fusion_from)
            fusion = run.gloss.encoder.fusion if run.gloss is not None else run.fusion
        if fusion is None:
            from signverse.models.signx import FusionModel
            fusion = FusionModel(FusionConfig(tracks=("dwpose",), hidden=128, latent=128)).eval()
            print("  (video2pose distils an untrained fusion's latents: run 'gloss' too for a trained one)")
        _, v2p = bench_video2pose(args, fusion)
    if args.out and gloss_model is not None:
        save_run(args.out, gloss=gloss_model, video2pose=v2p,
                 info={"made_by": "benchmarks/signx.py", "args": {k: (sorted(v) if isinstance(v, set) else v)
                                                                  for k, v in vars(args).items()}})
        print(f"\nwrote SignX run {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Word -> pose on ISLR-MP: SignDW text->pose vs two baselines, DTW-MJE against held-out signers.

The ISLR-MP words are MediaPipe Holistic; every clip is converted to DWPose (128 points) and
normalised (neck-centred, shoulder-width units; ``signverse.train.recipes.pose_to_frames``). The
test signers (one signer-disjoint fold of ``--folds``) are never seen in training. For each test
clip the system produces a sequence from the clip's word only, scored by DTW-MJE (and per part)
against that real clip:

* mean sequence of the word: the word's training clips, each linearly time-normalised to the
  word's median length, averaged frame by frame over present points;
* nearest training example: the word's medoid training clip (smallest mean DTW-MJE to the word's
  other training clips), i.e. retrieval of the most typical real sequence;
* SignDW text->pose (autoregressive; ``--parallel`` adds the parallel variant), length from its
  length head.

    .venv/bin/python benchmarks/text2pose.py [--quick] [--render OUT_DIR]
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np


def resample(frames: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear time-normalisation of ``[T, 384]`` (baseline construction only): ``[n, 128, 2]`` xy
    and ``[n, 128]`` presence (a point is present where both neighbouring frames have it)."""
    f = frames.reshape(len(frames), -1, 3)
    pos = np.linspace(0, len(f) - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(f) - 1)
    w = (pos - lo)[:, None, None]
    return f[lo, :, :2] * (1 - w) + f[hi, :, :2] * w, (f[lo, :, 2] > 0) & (f[hi, :, 2] > 0)


def mean_sequence(clips: list[np.ndarray]) -> np.ndarray:
    n = int(np.median([len(c) for c in clips]))
    xy, present = map(np.stack, zip(*(resample(c, n) for c in clips)))     # [N, n, 128, 2], [N, n, 128]
    w = present[..., None].astype(np.float32)
    mean = (xy * w).sum(0) / np.maximum(w.sum(0), 1)
    # a point no clip shows at some time step takes that point's mean over all time steps
    overall = (xy * w).sum((0, 1)) / np.maximum(w.sum((0, 1)), 1)
    mean = np.where(w.sum(0) > 0, mean, overall[None])
    conf = present.mean(0)
    return np.concatenate([mean, conf[..., None]], -1).reshape(n, -1).astype(np.float32)


def medoid(clips: list[np.ndarray], limit: int = 12) -> np.ndarray:
    from signverse.metrics import dtw_mje
    from signverse.train.recipes import frames_to_points
    cand = clips[:limit]
    pts = [frames_to_points(c) for c in cand]
    cost = np.zeros((len(cand), len(cand)))
    for i in range(len(cand)):
        for j in range(i + 1, len(cand)):
            cost[i, j] = cost[j, i] = dtw_mje(pts[i], pts[j])
    return cand[int(np.argmin(np.nanmean(cost, 1)))]


def to_render_pose(frames: np.ndarray):
    from signverse.core.pose import PoseSeq
    f = frames.reshape(len(frames), -1, 3)
    xy = f[..., :2] * 110 + np.array([256, 170])
    conf = np.where(f[..., 2] > 0.5, 1.0, 0.0)
    return PoseSeq(xy[:, None], conf[:, None], fps=30, width=512, height=512, layout="dwpose")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/islr"))
    ap.add_argument("--folds", type=int, default=5, help="test = fold 0 of this many signer folds")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="10 epochs")
    ap.add_argument("--parallel", action="store_true", help="also train the parallel decoder")
    ap.add_argument("--render", help="folder for side-by-side PNGs (generated | real)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    torch.set_num_threads(1)
    from signverse.tasks import kfold_by_signer
    from signverse.train.recipes import Text2PoseRecipe, score_text2pose
    from signverse.train.run import evaluate_run, load_run, load_task_samples, train_task

    t0 = time.perf_counter()
    samples = load_task_samples(args.data)
    split = kfold_by_signer(samples, args.folds, 0, seed=args.seed)
    by_id = {s.sample_id: s for s in samples}
    train = [by_id[i] for i in split.train]
    test = [by_id[i] for i in split.test]
    recipe = Text2PoseRecipe()
    recipe.fit_data(train)
    tr_items, te_items = recipe.prepare(train), recipe.prepare(test)
    print(f"{len(tr_items)} training clips, {len(te_items)} test clips of "
          f"{len({s.signer for s in test})} unseen signers; load {time.perf_counter() - t0:.0f}s")
    words = sorted({it.extra["text"] for it in tr_items})
    per_word = {w: [it.points for it in tr_items if it.extra["text"] == w] for w in words}
    refs = [it.points for it in te_items]
    rows = {}
    t = time.perf_counter()
    means = {w: mean_sequence(c) for w, c in per_word.items()}
    rows["mean sequence of the word"] = (score_text2pose([means[it.extra["text"]] for it in te_items], refs),
                                         time.perf_counter() - t)
    t = time.perf_counter()
    meds = {w: medoid(c) for w, c in per_word.items()}
    rows["nearest training example (medoid)"] = (score_text2pose([meds[it.extra["text"]] for it in te_items],
                                                                 refs), time.perf_counter() - t)
    epochs = 10 if args.quick else args.epochs
    models = ["signdw-text2pose"] + (["signdw-text2pose-parallel"] if args.parallel else [])
    gens = {}
    for name in models:
        t = time.perf_counter()
        run = Path("/tmp") / f"signverse_bench_{name}"
        train_task("text2pose", args.data, run, model=name, epochs=epochs, seed=args.seed, samples=train,
                   recipe_overrides={"text_level": "word"})
        res = evaluate_run(run, None, samples=test)
        rows[f"SignDW {name.replace('signdw-', '')}"] = (res, time.perf_counter() - t)
        loaded = load_run(run)
        items = loaded.recipe.prepare_texts(words)
        gens[name] = dict(zip(words, loaded.recipe.generate(loaded.model, items)))
    keys = ("dtw_mje", "dtw_mje_body", "dtw_mje_left_hand", "dtw_mje_right_hand", "length_error")
    print(f"\nword -> pose, {len(te_items)} clips of unseen signers (DTW-MJE in shoulder widths, lower is better)")
    print(f"{'system':<36}" + "".join(f"{k:>20}" for k in keys) + f"{'seconds':>9}")
    for name, (res, secs) in rows.items():
        print(f"{name:<36}" + "".join(f"{res.get(k, float('nan')):>20.4f}" for k in keys) + f"{secs:>9.0f}")
    if args.render:
        from signverse.render.output import render_to
        out = Path(args.render)
        out.mkdir(parents=True, exist_ok=True)
        for w in words[:4]:
            gen = gens[models[0]].get(w)
            real = next(it.points for it in te_items if it.extra["text"] == w) if any(
                it.extra["text"] == w for it in te_items) else per_word[w][0]
            if gen is None:
                continue
            path = render_to(to_render_pose(gen), out / f"{w}.png", compare=to_render_pose(real),
                             labels=[f"SignDW: {w}", f"real (unseen signer): {w}"])
            print("rendered", path)
    print(f"total {time.perf_counter() - t0:.0f}s (shared CPU; timings disturbed by other load)")


if __name__ == "__main__":
    main()

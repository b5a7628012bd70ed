"""Word -> pose on ISLR-MP, judged as the field judges it, on signers never seen in training.

The ISLR-MP words are MediaPipe Holistic; every clip is converted to DWPose (128 points) and
normalised (neck-centred, shoulder-width units; ``signverse.train.recipes.pose_to_frames``). The
test signers (one signer-disjoint fold of ``--folds``) are seen neither by the text->pose models nor
by the recognizer. For each test clip a system produces a sequence from the clip's word only; it is
scored against that real clip by

* DTW-MJE (and per part; shoulder widths, lower is better),
* ``velocity_ratio``: mean joint speed of the generated sequences over that of the real ones
  (1 = as lively as real signing, 0 = static),
* back-translation top-1 / top-5: an ISLR model (``signverse train islr`` defaults) trained on the
  same training signers recognises the generated sequence; the word asked for must come out.

Systems: the mean sequence of the word and the nearest training example (the word's medoid clip),
both from the training clips (``signverse.models.signdw.text2pose_baselines``); the default
``signverse train text2pose`` model (``signdw-text2pose-template``, or ``--model``); ``--others``
adds the soft-DTW field decoder without templates, the parallel (L1-trained) and autoregressive
decoders. The "real clips" row back-translates the test clips themselves: the recognizer's own
ceiling on these signers. Each fold of ``--fold`` (default 0 and 1) is run in turn, then a summary
says on which folds the target is met; ``--recognizer 'RUNS/islr_fold{fold}'`` reuses
recognizers (one is trained per fold where missing).

    .venv/bin/python benchmarks/text2pose.py [--fold 0 1 2] [--others] [--render OUT_DIR]
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

TARGET = "default model: DTW-MJE < mean sequence, back-translation top-1 >= 0.80, 0.8 <= velocity ratio <= 1.25"


def to_render_pose(frames: np.ndarray):
    from signverse.core.pose import PoseSeq
    f = frames.reshape(len(frames), -1, 3)
    xy = f[..., :2] * 110 + np.array([256, 170])
    conf = np.where(f[..., 2] > 0.5, 1.0, 0.0)
    return PoseSeq(xy[:, None], conf[:, None], fps=30, width=512, height=512, layout="dwpose")


KEYS = ("dtw_mje", "dtw_mje_body", "dtw_mje_left_hand", "dtw_mje_right_hand", "velocity_ratio",
        "backtranslation_top1", "backtranslation_top5", "length_error")
SHORT = ("DTW-MJE", "body", "l.hand", "r.hand", "vel.ratio", "BT top1", "BT top5", "len.err")


def target_met(default: dict, mean: dict) -> bool:
    return (default["dtw_mje"] < mean["dtw_mje"] and default["backtranslation_top1"] >= 0.80
            and 0.8 <= default["velocity_ratio"] <= 1.25)


def run_fold(args, samples, fold: int) -> dict[str, tuple[dict, float]]:
    """Train (or reuse) the fold's recognizer, train the text->pose models on the fold's training
    signers and score every system on its test signers; prints the fold's table."""
    from signverse.tasks import kfold_by_signer
    from signverse.train.recipes import Text2PoseRecipe
    from signverse.train.run import load_run, train_task
    from signverse.train.text2pose_eval import backtranslation, evaluate_text2pose_run
    t0 = time.perf_counter()
    out = Path(args.out) / f"fold{fold}"
    split = kfold_by_signer(samples, args.folds, fold, seed=args.seed)
    by_id = {s.sample_id: s for s in samples}
    train = [by_id[i] for i in split.train]
    test = [by_id[i] for i in split.test]
    print(f"\n== fold {fold} of {args.folds}: {len(train)} training clips, {len(test)} test clips of "
          f"{len({s.signer for s in test})} unseen signers")
    recognizer = args.recognizer.format(fold=fold) if args.recognizer else None
    if recognizer is None or not (Path(recognizer) / "model.pt").exists():
        recognizer = recognizer or out / "islr"
        train_task("islr", args.data, recognizer, samples=train, seed=args.seed)
        print(f"recognizer trained in {time.perf_counter() - t0:.0f}s -> {recognizer}")
    rec = load_run(recognizer)

    rows: dict[str, tuple[dict, float]] = {}
    default_name = args.model or Text2PoseRecipe.default_model
    models = [default_name] + ([m for m in ("signdw-text2pose-dtw", "signdw-text2pose-parallel", "signdw-text2pose")
                                if m != default_name] if args.others else [])
    for i, name in enumerate(models):
        t = time.perf_counter()
        run = out / name
        overrides = {k: int(v) if v.isdigit() else float(v) for k, v in (kv.split("=", 1) for kv in args.set)} \
            if i == 0 else None
        train_task("text2pose", args.data, run, model=name, epochs=args.epochs, seed=args.seed, samples=train,
                   model_overrides=overrides)
        train_s = time.perf_counter() - t
        res = evaluate_text2pose_run(run, samples=test, recognizer=rec, baselines=(i == 0), train_samples=train)
        for base, figures in res.pop("baselines", {}).items():
            rows[base.replace("_", " ")] = (figures, float("nan"))
        rows[name + (" (default)" if i == 0 else "")] = (res, train_s)
    recipe = Text2PoseRecipe()
    recipe.fit_data(train)
    te_items = recipe.prepare(test)
    real = backtranslation(rec, [it.points for it in te_items], [it.extra["text"] for it in te_items],
                           fps=float(recipe.settings.fps))
    rows["real clips of the test signers"] = ({**real, "velocity_ratio": 1.0}, float("nan"))

    print(f"word -> pose, fold {fold}: {len(te_items)} clips of {len({s.signer for s in test})} unseen signers "
          f"(DTW-MJE in shoulder widths, lower is better; BT = back-translation)"
          + (f"; default model with {' '.join(args.set)}" if args.set else ""))
    print(f"{'system':<40}" + "".join(f"{k:>10}" for k in SHORT) + f"{'train s':>9}")
    for name, (res, secs) in rows.items():
        print(f"{name:<40}" + "".join(f"{_num(res.get(k)):>10.4f}" for k in KEYS) + f"{secs:>9.0f}")
    met = target_met(rows[default_name + " (default)"][0], rows["mean sequence"][0])
    print(f"fold {fold} target ({TARGET}): {'met' if met else 'NOT met'}")
    if args.render:
        from signverse.render.output import render_to
        dest = Path(args.render) / f"fold{fold}"
        dest.mkdir(parents=True, exist_ok=True)
        loaded = load_run(out / default_name)
        words = sorted({it.extra["text"] for it in te_items})[:4]
        gens = dict(zip(words, loaded.recipe.generate(loaded.model, loaded.recipe.prepare_texts(words))))
        for w in words:
            real_clip = next(it.points for it in te_items if it.extra["text"] == w)
            path = render_to(to_render_pose(gens[w]), dest / f"{w}.png", compare=to_render_pose(real_clip),
                             labels=[f"SignDW: {w}", f"real (unseen signer): {w}"])
            print("rendered", path)
    return rows


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared/data/islr"))
    ap.add_argument("--folds", type=int, default=5, help="number of signer-disjoint folds")
    ap.add_argument("--fold", type=int, nargs="+", default=[0, 1], help="test fold(s) to run, each in turn")
    ap.add_argument("--epochs", type=int, help="text->pose epochs (default: the task's default)")
    ap.add_argument("--model", help="text->pose model in the 'default' row (default: train text2pose's default)")
    ap.add_argument("--others", action="store_true", help="also train the other decoders")
    ap.add_argument("--recognizer", help="islr run trained on the fold's training signers; '{fold}' in it is "
                                         "replaced by the fold (trained here when missing)")
    ap.add_argument("--out", default="/tmp/signverse_bench_text2pose", help="folder for the runs")
    ap.add_argument("--render", help="folder for side-by-side PNGs (generated | real)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting of the default model (ablations), e.g. --set l1_weight=0.5")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    torch.set_num_threads(1)
    from signverse.train.run import load_task_samples

    t0 = time.perf_counter()
    samples = load_task_samples(args.data)
    per_fold = {fold: run_fold(args, samples, fold) for fold in args.fold}
    if len(per_fold) > 1:
        print(f"\nsummary over folds {', '.join(map(str, per_fold))} (DTW-MJE / BT top-1 / velocity ratio per fold)")
        names = list(next(iter(per_fold.values())))
        for name in names:
            cells = [per_fold[f][name][0] for f in per_fold if name in per_fold[f]]
            print(f"{name:<40}" + "   ".join(f"{_num(c.get('dtw_mje')):.4f} / {_num(c.get('backtranslation_top1')):.3f}"
                                            f" / {_num(c.get('velocity_ratio')):.2f}" for c in cells))
        met = [f for f, rows in per_fold.items()
               if target_met(next(r for n, (r, _) in rows.items() if n.endswith("(default)")), rows["mean sequence"][0])]
        print(f"target met on folds: {met or 'none'} of {list(per_fold)}")
    print(f"total {time.perf_counter() - t0:.0f}s (shared CPU; timings disturbed by other load)")


if __name__ == "__main__":
    main()

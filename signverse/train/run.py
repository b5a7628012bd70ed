"""Train / evaluate / predict a task end to end (what the CLI commands call).

>>> # train_task("islr", "../shared/data/islr", "runs/islr")          # doctest: +SKIP
>>> # evaluate_run("runs/islr", "HOLDOUT")["top1"]                     # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.jsonio import dumps as json_dumps
from signverse.core.progress import Progress
from signverse.train.checkpoint import load_model, read_run, save_run, write_json
from signverse.train.recipes import get_recipe, settings_with
from signverse.train.trainer import TrainConfig, Trainer, TrainResult, seed_everything

log = logging.getLogger(__name__)

# Defaults per task, chosen for "a few minutes on 2 CPU cores" and unseen-signer generalisation.
TRAIN_DEFAULTS: dict[str, dict] = {
    # islr: every signer trains, for a fixed epoch count (no dev part, no early stopping): with
    # 3-8 signers for half the classes, the signers a dev part holds out are worth more as training
    # data, and its epoch estimate was noise (benchmarks/islr.py ablation).
    "islr": dict(epochs=20, batch_size=32, lr=1e-3, weight_decay=0.05, monitor="top1", dev_part=False),
    "langid": dict(epochs=40, batch_size=32, lr=1e-3, patience=10, monitor="accuracy"),
    "pose2text": dict(epochs=60, batch_size=16, lr=5e-4, patience=15, monitor="chrf", eval_every=2),
    "text2pose": dict(epochs=30, batch_size=32, lr=2e-3, patience=10, monitor="dtw_mje",
                      higher_is_better=False, eval_every=3),
}
# Every task's default run must end within 10 minutes on a shared 2-core machine: a wall-clock
# budget (whole run, loading included) that stops training early -- and says so -- when the
# machine is slower than the one the defaults were sized on. ``--set time_budget_s=0`` lifts it.
DEFAULT_TIME_BUDGET_S = 540.0
# Share of the budget for the early-stopping phase when a refit on train+dev follows.
FIT_SHARE = 0.45
# Fraction of groups (signers, else videos, else items) held out as dev for early stopping.
DEV_FRACTION = 0.15


def load_task_samples(data: str | Path, limit: int | None = None) -> list:
    """Samples from any source ``signverse.data.load_samples`` understands (at most ``limit``,
    evenly spread, when given)."""
    try:
        from signverse.data.loaders import load_samples
    except ImportError as exc:   # the data package is part of signverse; this only guards a broken install
        raise SignverseError(f"signverse.data is not available: {exc}") from None
    path = Path(data)
    if path.is_file() and path.suffix.lower() == ".npz" and _is_packed_islr(path):
        from signverse.data.mediapipe import read_islr_npz
        from signverse.data.loaders import spread
        samples = spread(read_islr_npz(path), limit)
    else:
        samples = load_samples(data, limit=limit)
    if not samples:
        raise InputError(data, "holds no samples")
    return samples


def _is_packed_islr(path: Path) -> bool:
    """A packed ISLR signer file (``x``/``x_0000`` + ``y`` arrays) rather than a SignVerse-2M poses.npz."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return "y" in z.files and any(k == "x" or k.startswith("x_") for k in z.files)
    except (OSError, ValueError):
        return False


def make_train_split(samples: list, seed: int):
    """Train/dev split for early stopping: the samples' own ``split`` fields when they have
    train and dev parts, else dev = ~15% of signers (or videos, or items) with none in both."""
    from signverse.tasks import Split, split_by
    own = {getattr(s, "split", None) for s in samples}
    if {"train", "dev"} <= own:
        part = {"train": [], "dev": [], "test": []}
        for s in samples:
            if s.split in part:
                part[s.split].append(s.sample_id)
        return Split(part["train"], part["dev"], part["test"], protocol="given", seed=seed)
    for by in ("signer", "video", "item"):
        groups = {getattr(s, "signer" if by == "signer" else "video_id", None) for s in samples} \
            if by != "item" else {s.sample_id for s in samples}
        groups.discard(None)
        if len(groups) >= 3:
            sp = split_by(samples, by, (1 - DEV_FRACTION, DEV_FRACTION), seed=seed)
            return Split(sp.train, sp.test, (), protocol=f"{by}-{round(100 * (1 - DEV_FRACTION))}-"
                         f"{round(100 * DEV_FRACTION)} (train/dev)", seed=seed, meta=sp.meta)
    ids = [s.sample_id for s in samples]
    return Split(ids, (), (), protocol="all-train (too few samples for a dev part)", seed=seed)


def _all_train_split(samples: list, seed: int):
    from signverse.tasks import Split
    return Split([s.sample_id for s in samples], (), (), protocol="all-train (fixed epochs, no dev part)",
                 seed=seed)


def train_task(task: str, data: str | Path, out: str | Path, *, model: str | None = None,
               epochs: int | None = None, device: str = "cpu", seed: int = 0,
               model_overrides: dict | None = None, train_overrides: dict | None = None,
               recipe_overrides: dict | None = None, samples: list | None = None,
               resume: bool = False, progress: bool | None = None) -> dict:
    """Train ``task`` on ``data`` into run dir ``out``; returns the dev metrics of the kept weights.

    Checkpoints go to ``out/checkpoints/`` as training runs (``best.pt``: the best dev weights so
    far; ``last.pt``: everything needed to continue). ``resume=True`` continues a run that was
    killed, with the same arguments; finished phases are not repeated.
    """
    from signverse.models.registry import get_model, model_spec
    recipe_cls = get_recipe(task)
    recipe = recipe_cls()
    if recipe_overrides:
        recipe.settings = settings_with(recipe.settings, recipe_overrides)
    model_name = model or recipe.default_model
    spec = model_spec(model_name)
    if spec.task and spec.task != task:
        raise SignverseError(f"model '{model_name}' is for task '{spec.task}', not '{task}'")
    t_start = time.perf_counter()
    tc = TrainConfig(**{"time_budget_s": DEFAULT_TIME_BUDGET_S, **TRAIN_DEFAULTS.get(task, {}),
                        "device": device, "seed": seed})
    if epochs is not None:
        tc.epochs = epochs
    if train_overrides:
        tc = dataclasses.replace(tc, **train_overrides)
    out = Path(out)
    ck_dir = out / CHECKPOINTS
    args = {"task": task, "model": model_name, "data": str(data), "train": asdict(tc),
            "model_overrides": model_overrides or {}, "recipe_overrides": recipe_overrides or {}}
    if resume:
        _check_resume(ck_dir, args)
    seed_everything(seed)
    # Reading and preparing data takes minutes on a busy machine: say what is happening.
    status = Progress(None, task, enabled=progress)
    if samples is None:
        status.message(f"reading {data}")
        samples = load_task_samples(data)
    split = make_train_split(samples, seed) if tc.dev_part else _all_train_split(samples, seed)
    by_id = {s.sample_id: s for s in samples}
    status.message(f"{len(samples)} samples ({time.perf_counter() - t_start:.0f} s); preparing inputs")
    train_items = recipe.fit_data([by_id[i] for i in split.train])
    dev_items = recipe.prepare([by_id[i] for i in split.dev]) if split.dev else []
    status.message(f"{len(train_items)} training and {len(dev_items)} dev items ready "
                   f"({time.perf_counter() - t_start:.0f} s); training")
    if not train_items:
        raise SignverseError("no usable training samples")
    net = get_model(model_name, **(model_overrides or {}), **recipe.io_sizes())
    recipe.init_model(net)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        (out / "log.jsonl").unlink(missing_ok=True)
        for stale in ("model.pt", "metrics.json"):   # never leave a previous run's results beside new files
            (out / stale).unlink(missing_ok=True)
        ck_dir.mkdir(exist_ok=True)
        for old in ck_dir.glob("*"):
            old.unlink()
        write_json(ck_dir / "args.json", args)
    # The run's description is written first, so a killed run already says what it is (and its
    # checkpoints/best.pt loads with it; see signverse.train.checkpoint.load_model).
    rec_config, vocab = recipe.state()
    save_run(out, net, task=task, config={**rec_config, "train": asdict(tc), "data": str(data)},
             vocab=vocab, split=split, weights=False)
    evaluate = (lambda m: recipe.evaluate(m, dev_items, device)) if dev_items else None
    if evaluate is None:
        tc.monitor = ""
    n_batches = sum(1 for _ in range(0, len(train_items), tc.batch_size))
    fit_done = ck_dir / "fit-result.json"
    if resume and fit_done.exists():
        result = TrainResult(**read_run_json(fit_done))
        log.info("resume: the early-stopping phase had finished (best epoch %d)", result.best_epoch)
    else:
        trainer = Trainer(net, tc, lambda epoch: recipe.batches(train_items, tc.batch_size, rng, True),
                          evaluate, steps_per_epoch=n_batches, log_path=out / "log.jsonl",
                          checkpoint_dir=ck_dir, resume=resume, rng=rng,
                          name=f"{task} (train part)" if tc.refit_all and dev_items else task,
                          progress=progress)
        if tc.time_budget_s:
            share = FIT_SHARE if tc.refit_all and dev_items else 1.0
            trainer.time_budget_s = max(1e-3, tc.time_budget_s * share - (time.perf_counter() - t_start))
        result = trainer.fit()
        if trainer.budget_stop:
            recipe.report["stopped_by_time_budget"] = f"after {trainer.budget_stop} of {tc.epochs} epochs"
        write_json(fit_done, asdict(result))
    metrics = {"dev": result.best_metrics, "best_epoch": result.best_epoch,
               "epochs_run": len(result.history), "train_seconds": round(result.seconds, 1),
               "train_samples_per_s": round(result.samples / max(result.seconds, 1e-9), 1),
               "n_train": len(train_items), "n_dev": len(dev_items), "data_report": dict(recipe.report)}
    refit_epochs = 0
    if tc.refit_all and dev_items and result.best_epoch >= 0:
        # A very early best epoch on a small dev part is mostly noise: refit for at least 10 epochs.
        refit_epochs = max(result.best_epoch + 1, min(10, tc.epochs))
        refit_file = ck_dir / "refit-epochs.json"
        if resume and refit_file.exists():
            refit_epochs = int(read_run_json(refit_file))
        elif tc.time_budget_s and result.history:
            # Fewer refit epochs (with their full schedule) rather than a refit cut off mid-way.
            per_epoch = result.seconds / len(result.history) * len(split.train + split.dev) / max(1, len(split.train))
            left = tc.time_budget_s - (time.perf_counter() - t_start)
            affordable = max(0, int(left / max(per_epoch, 1e-3)))
            if 2 * affordable < refit_epochs:
                # A refit of a few epochs is worse than the early-stopped model: keep that one.
                log.warning("no refit on train+dev: the time budget (%.0f s) leaves %d of %d epochs; "
                            "keeping the early-stopped model", tc.time_budget_s, affordable, refit_epochs)
                metrics["refit_skipped_by_time_budget"] = f"{affordable} of {refit_epochs} epochs affordable"
                refit_epochs = 0
            elif affordable < refit_epochs:
                log.warning("refit on train+dev: %d epochs instead of %d to stay within the time budget "
                            "(%.0f s)", affordable, refit_epochs, tc.time_budget_s)
                metrics["refit_cut_by_time_budget"] = f"{affordable} of {refit_epochs} epochs"
                refit_epochs = affordable
        write_json(refit_file, refit_epochs)
    if tc.refit_all and dev_items and result.best_epoch >= 0 and refit_epochs > 0:
        net, refit_s = _refit(recipe, [by_id[i] for i in (*split.train, *split.dev)], model_name,
                              model_overrides, tc, refit_epochs, seed, out, resume, progress)
        metrics.update(refit_epochs=refit_epochs, refit_seconds=round(refit_s, 1),
                       n_train=len(split.train) + len(split.dev),
                       dev_note=REFIT_NOTE.format(n_dev=len(dev_items), epochs=refit_epochs))
        split = dataclasses.replace(split, meta={**split.meta, "refit_on": "train+dev",
                                                 "dev_metrics_are_from": "the early-stopping model"})
    elif dev_items:
        metrics["dev_note"] = "dev figures describe the saved model (best dev epoch); dev was not trained on"
    rec_config, vocab = recipe.state()
    save_run(out, net, task=task, config={**rec_config, "train": asdict(tc), "data": str(data)},
             vocab=vocab, split=split, metrics=metrics)
    log.info("saved run %s (best epoch %d, dev %s)", out, result.best_epoch, result.best_metrics)
    return metrics


CHECKPOINTS = "checkpoints"
REFIT_NOTE = ("dev figures come from the early-stopped model, trained without the {n_dev} dev clips; "
              "the saved model.pt was then refit on train+dev for {epochs} epochs, so no held-out "
              "score describes it (evaluate it on signers it never saw)")


def read_run_json(path: Path):
    from signverse.train.checkpoint import read_json
    return read_json(path)


def _check_resume(ck_dir: Path, args: dict) -> None:
    """``--resume`` continues only the same run: same task, data, model and settings."""
    saved_path = ck_dir / "args.json"
    if not saved_path.exists():
        raise InputError(ck_dir.parent, "nothing to resume (no checkpoints/args.json: start without --resume)")
    saved = json.loads(json_dumps(read_run_json(saved_path)))
    now = json.loads(json_dumps(args))
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if diff:
        detail = "; ".join(f"{k}: was {json_dumps(saved.get(k))}, now {json_dumps(now.get(k))}" for k in diff)
        raise InputError(ck_dir.parent, f"cannot resume with other arguments ({detail})")


def _refit(recipe, samples, model_name, model_overrides, tc, epochs, seed, out, resume=False, progress=None):
    """Fresh model on all ``samples`` for ``epochs`` (the early-stopping epoch count)."""
    from signverse.models.registry import get_model
    seed_everything(seed)
    items = recipe.fit_data(samples)
    net = get_model(model_name, **(model_overrides or {}), **recipe.io_sizes())
    recipe.init_model(net)
    cfg = dataclasses.replace(tc, epochs=epochs, monitor="", patience=0)
    rng = np.random.default_rng(seed + 1)
    n_batches = sum(1 for _ in range(0, len(items), cfg.batch_size))
    ck_dir = Path(out) / CHECKPOINTS
    resuming = resume and (ck_dir / "refit-last.pt").exists()
    if not resuming:
        with (out / "log.jsonl").open("a") as fh:
            fh.write('{"refit": "train+dev", "epochs": %d}\n' % epochs)
    res = Trainer(net, cfg, lambda epoch: recipe.batches(items, cfg.batch_size, rng, True), None,
                  steps_per_epoch=n_batches, log_path=out / "log.jsonl", checkpoint_dir=ck_dir,
                  resume=resuming, rng=rng, name=f"{recipe.task} (refit on train+dev)", progress=progress,
                  file_prefix="refit").fit()
    return net, res.seconds


@dataclass
class LoadedRun:
    """A run ready for inference: its recipe (inputs/labels/stats) and model on ``device``."""

    recipe: object
    model: object
    files: object
    device: str


def load_run(run: str | Path, device: str = "cpu") -> LoadedRun:
    files = read_run(run)
    recipe = get_recipe(files.task).from_state(files.config, files.vocab)
    model = load_model(files, device)
    return LoadedRun(recipe, model, files, device)


def evaluate_run(run: str | Path, data: str | Path, *, device: str = "cpu", samples: list | None = None) -> dict:
    """The task's metrics of the run's model on every sample of ``data``."""
    loaded = load_run(run, device)
    samples = samples if samples is not None else load_task_samples(data)
    items = loaded.recipe.prepare(samples)
    if not items:
        raise InputError(data, "no usable samples")
    if loaded.files.task == "text2pose":
        res = loaded.recipe.evaluate(loaded.model, items, device, limit=0)
    else:
        res = loaded.recipe.evaluate(loaded.model, items, device)
    seen = seen_in_training(loaded.files, [it.sample_id for it in items])
    if seen:
        res["seen_in_training"] = seen
        res["warning"] = (f"{seen} of {len(items)} samples were used to train or early-stop this model: "
                          "this is not a held-out score")
        log.warning("%s: %s", data if data is not None else "samples", res["warning"])
    return res


def seen_in_training(files, sample_ids: list[str]) -> int:
    """How many of ``sample_ids`` the run trained or early-stopped on (its split.json train + dev)."""
    split = files.split or {}
    used = set(split.get("train", ())) | set(split.get("dev", ()))
    return sum(1 for i in sample_ids if i in used)


def predict_run(run: str | Path, inputs: str | Path, *, device: str = "cpu",
                size: tuple[int, int] | None = None) -> list[dict]:
    """Predictions of the run's model for every sample of ``inputs`` (pose file / npz / folder),
    or, for text2pose, for a text (``inputs`` that is not an existing path) or a .txt of lines.

    text2pose rows hold ``pose``: a one-person dwpose ``PoseSeq`` in pixels, placed like the
    training data's signers in a frame of their typical size (or of ``size`` = (width, height)).
    """
    from signverse.train.placement import place_frames
    loaded = load_run(run, device)
    path = Path(inputs)
    if loaded.files.task == "text2pose":
        if path.suffix == ".txt" and path.is_file():
            texts = [t.strip() for t in path.read_text().splitlines() if t.strip()]
        elif path.exists():
            texts = [s.text or s.label or "" for s in load_task_samples(path)]
        else:
            texts = [str(inputs)]
        rows = loaded.recipe.predict(loaded.model, loaded.recipe.prepare_texts(texts), device)
        placement = getattr(loaded.recipe.settings, "placement", None)
        if placement is None:
            log.warning("%s records no frame placement (trained before it was recorded): generated "
                        "poses use a default upper-body shot", run)
        for row in rows:
            row["pose"] = place_frames(row["pose"], placement, size=size, fps=row.get("fps", 24.0))
            row["width"], row["height"] = row["pose"].width, row["pose"].height
        return rows
    if not path.exists():
        raise InputError(path, "no such file or folder")
    items = loaded.recipe.prepare(load_task_samples(path))
    if not items:
        raise InputError(path, "no usable samples")
    return loaded.recipe.predict(loaded.model, items, device)


def write_metrics(run: str | Path, key: str, metrics: dict) -> None:
    """Add ``metrics`` under ``key`` to RUN/metrics.json (keeps what is there)."""
    run = Path(run)
    current = read_run(run).metrics
    current[key] = metrics
    write_json(run / "metrics.json", current)

"""Train / evaluate / predict a task end to end (what the CLI commands call).

>>> # train_task("islr", "../shared/data/islr", "runs/islr")          # doctest: +SKIP
>>> # evaluate_run("runs/islr", "HOLDOUT")["top1"]                     # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.train.checkpoint import load_model, read_run, save_run, write_json
from signverse.train.recipes import get_recipe
from signverse.train.trainer import TrainConfig, Trainer, seed_everything

log = logging.getLogger(__name__)

# Defaults per task, chosen for "a few minutes on 2 CPU cores" and unseen-signer generalisation.
TRAIN_DEFAULTS: dict[str, dict] = {
    "islr": dict(epochs=35, batch_size=32, lr=1e-3, weight_decay=0.05, patience=10, monitor="top1",
                 refit_all=True),
    "langid": dict(epochs=40, batch_size=32, lr=1e-3, patience=10, monitor="accuracy"),
    "pose2text": dict(epochs=60, batch_size=16, lr=5e-4, patience=15, monitor="chrf", eval_every=2),
    "text2pose": dict(epochs=30, batch_size=32, lr=2e-3, patience=10, monitor="dtw_mje",
                      higher_is_better=False, eval_every=3),
}
# Fraction of groups (signers, else videos, else items) held out as dev for early stopping.
DEV_FRACTION = 0.15


def load_task_samples(data: str | Path) -> list:
    """Samples from any source ``signverse.data.load_samples`` understands."""
    try:
        from signverse.data.loaders import load_samples
    except ImportError as exc:   # the data package is part of signverse; this only guards a broken install
        raise SignverseError(f"signverse.data is not available: {exc}") from None
    path = Path(data)
    if path.is_file() and path.suffix.lower() == ".npz" and _is_packed_islr(path):
        from signverse.data.mediapipe import read_islr_npz
        samples = read_islr_npz(path)
    else:
        samples = load_samples(data)
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


def train_task(task: str, data: str | Path, out: str | Path, *, model: str | None = None,
               epochs: int | None = None, device: str = "cpu", seed: int = 0,
               model_overrides: dict | None = None, train_overrides: dict | None = None,
               recipe_overrides: dict | None = None, samples: list | None = None) -> dict:
    """Train ``task`` on ``data`` into run dir ``out``; returns the dev metrics of the kept weights."""
    from signverse.models.registry import get_model, model_spec
    recipe_cls = get_recipe(task)
    recipe = recipe_cls()
    if recipe_overrides:
        recipe.settings = dataclasses.replace(recipe.settings, **recipe_overrides)
    model_name = model or recipe.default_model
    spec = model_spec(model_name)
    if spec.task and spec.task != task:
        raise SignverseError(f"model '{model_name}' is for task '{spec.task}', not '{task}'")
    tc = TrainConfig(**{**TRAIN_DEFAULTS.get(task, {}), "device": device, "seed": seed})
    if epochs is not None:
        tc.epochs = epochs
    if train_overrides:
        tc = dataclasses.replace(tc, **train_overrides)
    seed_everything(seed)
    samples = samples if samples is not None else load_task_samples(data)
    split = make_train_split(samples, seed)
    by_id = {s.sample_id: s for s in samples}
    train_items = recipe.fit_data([by_id[i] for i in split.train])
    dev_items = recipe.prepare([by_id[i] for i in split.dev]) if split.dev else []
    if not train_items:
        raise SignverseError("no usable training samples")
    net = get_model(model_name, **(model_overrides or {}), **recipe.io_sizes())
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "log.jsonl").unlink(missing_ok=True)
    evaluate = (lambda m: recipe.evaluate(m, dev_items, device)) if dev_items else None
    if evaluate is None:
        tc.monitor = ""
    n_batches = sum(1 for _ in range(0, len(train_items), tc.batch_size))
    trainer = Trainer(net, tc, lambda epoch: recipe.batches(train_items, tc.batch_size, rng, True),
                      evaluate, steps_per_epoch=n_batches, log_path=out / "log.jsonl")
    result = trainer.fit()
    metrics = {"dev": result.best_metrics, "best_epoch": result.best_epoch,
               "epochs_run": len(result.history), "train_seconds": round(result.seconds, 1),
               "train_samples_per_s": round(result.samples / max(result.seconds, 1e-9), 1),
               "n_train": len(train_items), "n_dev": len(dev_items), "data_report": dict(recipe.report)}
    if tc.refit_all and dev_items and result.best_epoch >= 0:
        # A very early best epoch on a small dev part is mostly noise: refit for at least 10 epochs.
        refit_epochs = max(result.best_epoch + 1, min(10, tc.epochs))
        net, refit_s = _refit(recipe, [by_id[i] for i in (*split.train, *split.dev)], model_name,
                              model_overrides, tc, refit_epochs, seed, out)
        metrics.update(refit_epochs=refit_epochs, refit_seconds=round(refit_s, 1),
                       n_train=len(split.train) + len(split.dev))
        split = dataclasses.replace(split, meta={**split.meta, "refit_on": "train+dev",
                                                 "dev_metrics_are_from": "the early-stopping model"})
    rec_config, vocab = recipe.state()
    save_run(out, net, task=task, config={**rec_config, "train": asdict(tc), "data": str(data)},
             vocab=vocab, split=split, metrics=metrics)
    log.info("saved run %s (best epoch %d, dev %s)", out, result.best_epoch, result.best_metrics)
    return metrics


def _refit(recipe, samples, model_name, model_overrides, tc, epochs, seed, out):
    """Fresh model on all ``samples`` for ``epochs`` (the early-stopping epoch count)."""
    from signverse.models.registry import get_model
    seed_everything(seed)
    items = recipe.fit_data(samples)
    net = get_model(model_name, **(model_overrides or {}), **recipe.io_sizes())
    cfg = dataclasses.replace(tc, epochs=epochs, monitor="", patience=0)
    rng = np.random.default_rng(seed + 1)
    n_batches = sum(1 for _ in range(0, len(items), cfg.batch_size))
    with (out / "log.jsonl").open("a") as fh:
        fh.write('{"refit": "train+dev", "epochs": %d}\n' % epochs)
    res = Trainer(net, cfg, lambda epoch: recipe.batches(items, cfg.batch_size, rng, True), None,
                  steps_per_epoch=n_batches, log_path=out / "log.jsonl").fit()
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
        return loaded.recipe.evaluate(loaded.model, items, device, limit=0)
    return loaded.recipe.evaluate(loaded.model, items, device)


def predict_run(run: str | Path, inputs: str | Path, *, device: str = "cpu") -> list[dict]:
    """Predictions of the run's model for every sample of ``inputs`` (pose file / npz / folder),
    or, for text2pose, for a text (``inputs`` that is not an existing path) or a .txt of lines."""
    loaded = load_run(run, device)
    path = Path(inputs)
    if loaded.files.task == "text2pose":
        if path.suffix == ".txt" and path.is_file():
            texts = [t.strip() for t in path.read_text().splitlines() if t.strip()]
        elif path.exists():
            texts = [s.text or s.label or "" for s in load_task_samples(path)]
        else:
            texts = [str(inputs)]
        return loaded.recipe.predict(loaded.model, loaded.recipe.prepare_texts(texts), device)
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

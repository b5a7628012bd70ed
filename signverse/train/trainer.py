"""A generic trainer: AdamW, warmup + cosine schedule, gradient clipping, early stopping on a dev
metric, deterministic seeds, CPU or CUDA.

It knows nothing about tasks. A model provides ``loss(batch) -> (scalar, {name: float})``; the
caller provides a function that yields the batches of one epoch (dicts of tensors or arrays) and,
optionally, a function that scores the model on dev data (``{metric: value}``). Other model
families (e.g. SignX) reuse it unchanged::

    trainer = Trainer(model, TrainConfig(epochs=20, monitor="top1"), epoch_batches, evaluate)
    result = trainer.fit()          # the model ends with the best dev weights loaded
"""
from __future__ import annotations

import copy
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.jsonio import dumps as json_dumps
from signverse.models.schedule import lr_factor

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings (stored in the run's config.json)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_frac: float = 0.05        # fraction of all steps with linear warmup
    min_lr_frac: float = 0.02        # cosine decays to lr * min_lr_frac
    grad_clip: float = 1.0
    patience: int = 0                # epochs without dev improvement before stopping (0 = never)
    monitor: str = ""                # dev metric for early stopping / best weights ("" = last epoch)
    higher_is_better: bool = True
    eval_every: int = 1
    device: str = "cpu"
    seed: int = 0
    # torch CPU threads. 1 by default: these models are small, and on a shared machine 2+ threads
    # contend (measured ~10x slower per step under load); 0 = torch's default.
    threads: int = 1
    # Used by signverse.train.run (not by Trainer): after early stopping on the dev part, train a
    # fresh model on train + dev for the best epoch count (more signers seen; dev figures then
    # describe the early-stopping model, not the refit one).
    refit_all: bool = False
    # Used by signverse.train.run: False = no dev part at all; train on every sample for exactly
    # ``epochs`` (no early stopping). Worth it when the data have few signers: the 15% of signers
    # a dev part holds out are worth more as training data than as an epoch-count estimate.
    dev_part: bool = True
    # Wall-clock budget in seconds for the whole run (0 = none): training stops after the epoch
    # that would otherwise end past it, keeping the best weights so far, and says so. Default runs
    # must finish in minutes on a shared 2-core machine; on a faster machine all epochs run.
    time_budget_s: float = 0.0
    # Exponential moving average of the weights (decay per optimizer step; 0 = off). With it on,
    # dev evaluation, the kept weights and ``best.pt`` are the averaged weights: an average over
    # the last few hundred steps generalises better than the last step's weights.
    ema_decay: float = 0.0


@dataclass
class TrainResult:
    best_epoch: int
    best_metrics: dict
    history: list = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    samples: int = 0


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str):
    """``torch.device`` for ``cpu`` / ``cuda`` / ``cuda:N``; a clear error if CUDA is absent."""
    import torch
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SignverseError(f"device '{name}' requested but CUDA is not available (use --device cpu)")
    if name != "cpu" and not name.startswith("cuda"):
        raise SignverseError(f"unknown device '{name}' (cpu, cuda, cuda:N)")
    return torch.device(name)


def to_device(batch: dict, device) -> dict:
    """Tensors (or numpy arrays) of ``batch`` moved to ``device``; other values unchanged."""
    import torch
    out = {}
    for k, v in batch.items():
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        out[k] = v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return out


class Trainer:
    """Fits ``model`` with ``epoch_batches(epoch) -> iterable of batches``; see the module docs.

    ``steps_per_epoch`` sizes the schedule (counted from the first epoch when not given).
    ``log_path`` receives one JSON line per epoch (``log.jsonl``).
    ``checkpoint_dir``: after every epoch ``last.pt`` (model, optimizer, epoch, step, early-stopping
    state and every RNG, including ``rng`` -- the generator that shuffles and augments the batches)
    and, when the dev metric improves, ``best.pt`` (the weights only) are written there atomically;
    ``resume=True`` continues from ``last.pt`` exactly where it stopped. ``name`` labels the
    progress output; ``file_prefix`` the checkpoint files (``{file_prefix}-last.pt``, else ``last.pt``).
    """

    def __init__(self, model, config: TrainConfig, epoch_batches: Callable[[int], Iterable[dict]],
                 evaluate: Callable[[object], dict] | None = None, *, steps_per_epoch: int | None = None,
                 log_path: str | Path | None = None, batch_size_of: Callable[[dict], int] | None = None,
                 checkpoint_dir: str | Path | None = None, resume: bool = False,
                 rng: np.random.Generator | None = None, name: str = "", progress: bool | None = None,
                 file_prefix: str = ""):
        import torch
        self.torch = torch
        self.cfg = config
        self.device = resolve_device(config.device)
        if config.threads and self.device.type == "cpu":
            torch.set_num_threads(config.threads)
        self.model = model.to(self.device)
        self.epoch_batches = epoch_batches
        self.evaluate = evaluate
        self.steps_per_epoch = steps_per_epoch
        self.log_path = Path(log_path) if log_path else None
        self.batch_size_of = batch_size_of or _batch_size
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.resume, self.rng, self.name, self.progress = resume, rng, name, progress
        self.file_prefix = file_prefix
        # the budget of this fit (train_task splits the run's budget between its phases)
        self.time_budget_s = config.time_budget_s
        self.budget_stop = 0        # epochs run when the time budget ended training (0 = it did not)
        decay, no_decay = [], []
        for pname, p in model.named_parameters():
            if not p.requires_grad:
                continue
            # norms, biases and embeddings/positions are not shrunk towards zero
            (no_decay if p.ndim < 2 or "embed" in pname or "table" in pname else decay).append(p)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
        self.ema: dict | None = None     # averaged weights (``ema_decay`` > 0), float copies

    # -- weight averaging ----------------------------------------------------------------------
    def _ema_update(self, step: int) -> None:
        """Move the averaged weights towards the current ones (a shorter memory in the first
        steps, so the average does not start from the random initialisation)."""
        torch = self.torch
        decay = min(self.cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            if self.ema is None:
                self.ema = {k: v.detach().clone().float() for k, v in self.model.state_dict().items()}
                return
            for k, v in self.model.state_dict().items():
                if v.dtype.is_floating_point:
                    self.ema[k].mul_(decay).add_(v.detach().float(), alpha=1 - decay)
                else:
                    self.ema[k].copy_(v)

    def _ema_weights(self) -> dict:
        """The averaged weights in the model's own dtypes (a state dict)."""
        return {k: self.ema[k].to(v.dtype, copy=True) for k, v in self.model.state_dict().items()}

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_path(self, kind: str) -> Path | None:
        """``last`` / ``best`` checkpoint file of this trainer (None without a checkpoint_dir)."""
        if self.checkpoint_dir is None:
            return None
        return self.checkpoint_dir / (f"{self.file_prefix}-{kind}.pt" if self.file_prefix else f"{kind}.pt")

    def _save_last(self, state: dict) -> None:
        path = self.checkpoint_path("last")
        rngs = {"python": random.getstate(), "numpy": _np_legacy_state(),
                "batches": self.rng.bit_generator.state if self.rng is not None else None}
        save_atomic({**state, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                     "ema": self.ema,
                     "torch_rng": self.torch.get_rng_state(),
                     "cuda_rng": self.torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
                     "rng_json": json_dumps(rngs), "config": json_dumps(asdict(self.cfg))}, path)

    def _load_last(self) -> dict | None:
        path = self.checkpoint_path("last")
        if path is None or not path.exists():
            return None
        ck = load_checkpoint(path, self.device)
        saved_cfg = json.loads(ck["config"])
        changed = sorted(k for k in ("epochs", "batch_size", "lr", "weight_decay", "seed", "monitor")
                         if saved_cfg.get(k) != getattr(self.cfg, k))
        if changed:
            raise SignverseError(f"{path}: cannot resume, the run was started with other settings "
                                 f"({', '.join(f'{k}={saved_cfg.get(k)}' for k in changed)})")
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        if ck.get("ema") is not None:
            self.ema = {k: v.float() for k, v in ck["ema"].items()}
        rngs = json.loads(ck["rng_json"])
        random.setstate(_tuples(rngs["python"]))
        np.random.set_state(_np_from_json(rngs["numpy"]))
        if self.rng is not None and rngs.get("batches") is not None:
            self.rng.bit_generator.state = rngs["batches"]
        self.torch.set_rng_state(ck["torch_rng"].cpu())
        if self.device.type == "cuda" and len(ck.get("cuda_rng", [])):
            self.torch.cuda.set_rng_state_all(ck["cuda_rng"])
        return ck

    def _better(self, value: float, best: float | None) -> bool:
        if value is None or not np.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.cfg.higher_is_better else value < best

    @property
    def phase(self) -> str:
        return self.file_prefix or "train"

    def _drop_logged_after(self, first_epoch: int) -> None:
        """On resume: forget log rows of epochs the checkpoint does not hold (killed mid-way)."""
        if not self.log_path or not self.log_path.exists():
            return
        keep = []
        for line in self.log_path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue   # a line cut by the kill
            if not (row.get("phase") == self.phase and row.get("epoch", -1) >= first_epoch):
                keep.append(line)
        self.log_path.write_text("".join(k + "\n" for k in keep))

    def _log(self, row: dict) -> None:
        log.debug("epoch %s: %s", row.get("epoch"), {k: v for k, v in row.items() if k != "epoch"})
        if self.log_path:
            with self.log_path.open("a") as fh:
                fh.write(json_dumps(row) + "\n")

    def fit(self) -> TrainResult:
        from signverse.core.progress import Progress
        torch, cfg = self.torch, self.cfg
        total_steps = None if self.steps_per_epoch is None else self.steps_per_epoch * cfg.epochs
        step, samples, best, best_state, best_epoch, best_metrics = 0, 0, None, None, -1, {}
        history, bad_epochs, first_epoch, seconds_before, stopped = [], 0, 0, 0.0, False
        ck = self._load_last() if self.resume else None
        if ck is not None:
            state = json.loads(ck["state"])
            step, samples, best, best_epoch = state["step"], state["samples"], state["best"], state["best_epoch"]
            best_metrics, bad_epochs, history = state["best_metrics"], state["bad_epochs"], state["history"]
            first_epoch, seconds_before, stopped = state["epoch"] + 1, state["seconds"], state["stopped"]
            total_steps = state["total_steps"] or total_steps
            best_path = self.checkpoint_path("best")
            if best_epoch >= 0 and best_path is not None and best_path.exists():
                best_state = load_checkpoint(best_path, self.device)
            log.info("%s: resuming after epoch %d (step %d)", self.name or "train", first_epoch, step)
            self._drop_logged_after(first_epoch)
        elif self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            for kind in ("last", "best"):
                self.checkpoint_path(kind).unlink(missing_ok=True)
        t0 = time.perf_counter()
        spe = self.steps_per_epoch
        bar = Progress(spe * cfg.epochs if spe else cfg.epochs, self.name or "train",
                       initial=(step if spe else first_epoch), unit="step" if spe else "epoch",
                       enabled=self.progress)
        factor = lr_factor(step, total_steps or 1, int(cfg.warmup_frac * (total_steps or 1)), cfg.min_lr_frac)
        try:
            for epoch in range(first_epoch, cfg.epochs):
                if stopped:
                    break
                self.model.train()
                if hasattr(self.model, "on_epoch"):   # schedules inside the model (e.g. late dropout)
                    self.model.on_epoch(epoch, cfg.epochs)
                sums: dict[str, float] = {}
                n_batches = 0
                te = time.perf_counter()
                for batch in self.epoch_batches(epoch):
                    batch = to_device(batch, self.device)
                    # Without steps_per_epoch the first epoch runs on an estimate of the schedule.
                    est_total = total_steps or max(1, cfg.epochs * (n_batches + 1))
                    factor = lr_factor(step, est_total, int(cfg.warmup_frac * est_total), cfg.min_lr_frac)
                    for g in self.opt.param_groups:
                        g["lr"] = cfg.lr * factor
                    loss, logs = self.model.loss(batch)
                    if not torch.isfinite(loss):
                        raise SignverseError(f"training diverged: loss {float(loss)} at epoch {epoch}")
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip > 0:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.opt.step()
                    if cfg.ema_decay > 0:
                        self._ema_update(step)
                    step += 1
                    n_batches += 1
                    samples += self.batch_size_of(batch)
                    for k, v in logs.items():
                        sums[k] = sums.get(k, 0.0) + float(v)
                    if spe:
                        bar.update(1, epoch=f"{epoch + 1}/{cfg.epochs}", loss=round(float(loss.detach()), 4))
                if n_batches == 0:
                    raise SignverseError("no training batches (empty training set?)")
                if not spe:
                    bar.update(1)
                if total_steps is None:
                    total_steps = n_batches * cfg.epochs
                row = {"epoch": epoch, "phase": self.phase, **{f"train_{k}": round(v / n_batches, 5) for k, v in sums.items()},
                       "lr": round(cfg.lr * factor, 7), "epoch_s": round(time.perf_counter() - te, 2)}
                improved = False
                training_weights = None
                if self.ema is not None:
                    # dev scores and kept weights are the averaged ones; training continues from its own
                    training_weights = copy.deepcopy(self.model.state_dict())
                    self.model.load_state_dict(self._ema_weights())
                if self.evaluate is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch == cfg.epochs - 1):
                    self.model.eval()
                    with torch.no_grad():
                        metrics = self.evaluate(self.model)
                    row.update({f"dev_{k}": v for k, v in metrics.items()})
                    value = metrics.get(cfg.monitor) if cfg.monitor else None
                    if not cfg.monitor or self._better(value, best):
                        best, best_epoch, best_metrics, bad_epochs = value, epoch, dict(metrics), 0
                        best_state = copy.deepcopy(self.model.state_dict())
                        improved = True
                    else:
                        bad_epochs += 1
                elif self.evaluate is None:
                    best_epoch, best_state = epoch, None
                    improved = True    # no dev part: the kept weights are the latest (best.pt too)
                    if self.ema is not None:
                        best_state = self._ema_weights()
                if training_weights is not None:
                    self.model.load_state_dict(training_weights)
                history.append(row)
                self._log(row)
                if cfg.patience and bad_epochs >= cfg.patience:
                    stopped = True
                    log.info("early stop at epoch %d (best %s=%s at epoch %d)", epoch, cfg.monitor, best, best_epoch)
                elapsed = seconds_before + time.perf_counter() - t0
                if (self.time_budget_s and epoch < cfg.epochs - 1
                        and elapsed + row["epoch_s"] > self.time_budget_s):
                    stopped = True
                    self.budget_stop = epoch + 1
                    log.warning("%s: stopping after %d of %d epochs: time budget %.0f s reached "
                                "(--set time_budget_s=0 runs all epochs)", self.name or "train", epoch + 1,
                                cfg.epochs, self.time_budget_s)
                dev = {f"dev_{cfg.monitor}": row.get(f"dev_{cfg.monitor}")} if cfg.monitor else {}
                bar.line(epoch=f"{epoch + 1}/{cfg.epochs}", loss=row.get("train_loss"), **dev,
                         **({"best": f"{best:.4g}@{best_epoch + 1}"} if cfg.monitor and best is not None else {}),
                         **({"note": f"early stop (no {cfg.monitor} gain for {cfg.patience} epochs)"}
                            if stopped and not self.budget_stop else {}))
                if self.checkpoint_dir is not None:
                    if improved:
                        save_atomic(best_state if best_state is not None else self.model.state_dict(),
                                    self.checkpoint_path("best"))
                    self._save_last({"state": json_dumps(
                        {"epoch": epoch, "step": step, "samples": samples, "best": best,
                         "best_epoch": best_epoch, "best_metrics": best_metrics, "bad_epochs": bad_epochs,
                         "history": history, "total_steps": total_steps, "stopped": stopped,
                         "seconds": seconds_before + time.perf_counter() - t0}, default=_json_num)})
        finally:
            bar.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        return TrainResult(best_epoch, best_metrics, history, seconds_before + time.perf_counter() - t0,
                           step, samples)


def save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a checkpoint."""
    import torch
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, device="cpu"):
    """A checkpoint written by ``save_atomic`` (``weights_only``: tensors and plain values only)."""
    import torch
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:   # a truncated or foreign file: one line naming it
        raise SignverseError(f"{path}: cannot read checkpoint: {exc}") from None


def _json_num(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _np_legacy_state() -> list:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _np_from_json(s: list) -> tuple:
    return (s[0], np.asarray(s[1], np.uint32), s[2], s[3], s[4])


def _tuples(x):
    """JSON lists back to the nested tuples ``random.setstate`` wants."""
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _batch_size(batch: dict) -> int:
    for v in batch.values():
        shape = getattr(v, "shape", None)
        if shape:
            return int(shape[0])
    return 1


def config_dict(cfg) -> dict:
    return asdict(cfg)

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
import math
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
    """

    def __init__(self, model, config: TrainConfig, epoch_batches: Callable[[int], Iterable[dict]],
                 evaluate: Callable[[object], dict] | None = None, *, steps_per_epoch: int | None = None,
                 log_path: str | Path | None = None, batch_size_of: Callable[[dict], int] | None = None):
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
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            # norms, biases and embeddings/positions are not shrunk towards zero
            (no_decay if p.ndim < 2 or "embed" in name or "table" in name else decay).append(p)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)

    def _better(self, value: float, best: float | None) -> bool:
        if value is None or not np.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.cfg.higher_is_better else value < best

    def _log(self, row: dict) -> None:
        log.info("epoch %s: %s", row.get("epoch"), {k: v for k, v in row.items() if k != "epoch"})
        if self.log_path:
            with self.log_path.open("a") as fh:
                fh.write(json_dumps(row) + "\n")

    def fit(self) -> TrainResult:
        torch, cfg = self.torch, self.cfg
        total_steps = None if self.steps_per_epoch is None else self.steps_per_epoch * cfg.epochs
        step, samples, best, best_state, best_epoch, best_metrics = 0, 0, None, None, -1, {}
        history, bad_epochs, t0 = [], 0, time.perf_counter()
        for epoch in range(cfg.epochs):
            self.model.train()
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
                step += 1
                n_batches += 1
                samples += self.batch_size_of(batch)
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
            if n_batches == 0:
                raise SignverseError("no training batches (empty training set?)")
            if total_steps is None:
                total_steps = n_batches * cfg.epochs
            row = {"epoch": epoch, **{f"train_{k}": round(v / n_batches, 5) for k, v in sums.items()},
                   "lr": round(cfg.lr * factor, 7), "epoch_s": round(time.perf_counter() - te, 2)}
            if self.evaluate is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch == cfg.epochs - 1):
                self.model.eval()
                with torch.no_grad():
                    metrics = self.evaluate(self.model)
                row.update({f"dev_{k}": v for k, v in metrics.items()})
                value = metrics.get(cfg.monitor) if cfg.monitor else None
                if not cfg.monitor or self._better(value, best):
                    best, best_epoch, best_metrics, bad_epochs = value, epoch, dict(metrics), 0
                    best_state = copy.deepcopy(self.model.state_dict())
                else:
                    bad_epochs += 1
            elif self.evaluate is None:
                best_epoch, best_state = epoch, None
            history.append(row)
            self._log(row)
            if cfg.patience and bad_epochs >= cfg.patience:
                log.info("early stop at epoch %d (best %s=%s at epoch %d)", epoch, cfg.monitor, best, best_epoch)
                break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        return TrainResult(best_epoch, best_metrics, history, time.perf_counter() - t0, step, samples)


def _batch_size(batch: dict) -> int:
    for v in batch.values():
        shape = getattr(v, "shape", None)
        if shape:
            return int(shape[0])
    return 1


def config_dict(cfg) -> dict:
    return asdict(cfg)

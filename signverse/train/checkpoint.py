"""Run directories: everything needed to evaluate or predict later, on CPU or GPU.

Layout::

    RUN/config.json   task, model name + model config, train config, data/feature settings and
                      normalisation statistics, library version
    RUN/model.pt      the state_dict only (load with torch.load(weights_only=True): no pickle code)
    RUN/vocab.json    label map and/or text vocabulary
    RUN/split.json    the Split (signverse.tasks) the run trained / early-stopped on
    RUN/metrics.json  dev metrics of the kept weights (+ what evaluate writes later)
    RUN/log.jsonl     one JSON line per epoch
    RUN/checkpoints/  written while training: best.pt (best dev weights so far), last.pt /
                      refit-last.pt (model, optimizer, schedule position, epoch and RNG states for
                      --resume), args.json (what was asked, checked on --resume)
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from signverse.core.errors import InputError
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

FILES = ("config.json", "model.pt", "vocab.json", "split.json", "metrics.json", "log.jsonl")


def _json_default(o):
    import numpy as np
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json_dumps(obj, indent=1, ensure_ascii=False, default=_json_default))
    tmp.replace(path)   # atomic: a crash never leaves half a file


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "missing (not a complete signverse run directory?)") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON: {exc}") from None


@dataclass
class RunFiles:
    """What a run directory holds, loaded (the model itself is built by ``load_model``)."""

    path: Path
    config: dict
    vocab: dict
    split: dict | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.config["task"]

    @property
    def model_name(self) -> str:
        return self.config["model"]


def save_run(run_dir: str | Path, model, *, task: str, config: dict, vocab: dict,
             split=None, metrics: dict | None = None, weights: bool = True) -> Path:
    """Write ``config.json``, ``model.pt`` (state_dict), ``vocab.json``, ``split.json``,
    ``metrics.json`` into ``run_dir`` (created). ``model`` must come from ``get_model`` (it carries
    ``model_name`` and ``config``). ``weights=False`` writes everything but ``model.pt`` (the
    description a run starts with, before any weights exist)."""
    import torch
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    from signverse import __version__
    full = {"task": task, "model": model.model_name, "model_config": asdict(model.config),
            "signverse_version": __version__, **config}
    write_json(run / "config.json", full)
    if weights:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        tmp = run / "model.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(run / "model.pt")
    write_json(run / "vocab.json", vocab)
    if split is not None:
        split_dict = split.to_dict() if hasattr(split, "to_dict") else split
        write_json(run / "split.json", split_dict)
    if metrics is not None:
        write_json(run / "metrics.json", metrics)
    return run


def read_run(run_dir: str | Path) -> RunFiles:
    run = Path(run_dir)
    if not run.is_dir():
        raise InputError(run, "not a run directory (no such folder)")
    config = read_json(run / "config.json")
    for key in ("task", "model", "model_config"):
        if key not in config:
            raise InputError(run / "config.json", f"missing key '{key}'")
    split = read_json(run / "split.json") if (run / "split.json").exists() else None
    metrics = read_json(run / "metrics.json") if (run / "metrics.json").exists() else {}
    return RunFiles(run, config, read_json(run / "vocab.json"), split, metrics)


def load_model(run: RunFiles | str | Path, device: str = "cpu", **io):
    """Rebuild the run's model with its saved config and weights on ``device`` (map_location).

    ``io`` are the data sizes the builder needs (``n_features``, ``n_classes``, ``vocab_size``);
    they are read from ``config["io"]`` when saved there.
    """
    import torch
    from signverse.models.registry import config_from_dict, get_model
    from signverse.train.trainer import resolve_device
    files = run if isinstance(run, RunFiles) else read_run(run)
    dev = resolve_device(device)
    cfg = config_from_dict(files.model_name, files.config["model_config"])
    sizes = {**files.config.get("io", {}), **io}
    model = get_model(files.model_name, config=cfg, **sizes)
    path = files.path / "model.pt"
    best = files.path / "checkpoints" / "best.pt"
    if not path.exists() and best.exists():
        # An unfinished (killed) run: its best weights so far describe the same config.json.
        log.warning("%s: run did not finish; using checkpoints/best.pt (continue it with --resume)", files.path)
        path = best
    if not path.exists():
        raise InputError(path, "missing (not a complete signverse run directory?)")
    try:
        state = torch.load(path, map_location=dev, weights_only=True)
    except Exception as exc:   # a corrupt or foreign file: report it as input, not a traceback
        raise InputError(path, f"cannot load weights: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(path, f"weights do not fit model '{files.model_name}': {exc}") from None
    return model.to(dev).eval()

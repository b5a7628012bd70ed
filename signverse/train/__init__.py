"""Training machinery: a generic trainer, run directories (checkpoints), task recipes.

>>> from signverse.train import TrainConfig
>>> TrainConfig().epochs > 0
True

torch is imported inside functions, so importing this package is cheap.
"""
from __future__ import annotations

from signverse.train.checkpoint import load_model, read_run, save_run
from signverse.train.run import evaluate_run, load_run, predict_run, train_task
from signverse.train.trainer import TrainConfig, TrainResult, Trainer, seed_everything

__all__ = ["TrainConfig", "TrainResult", "Trainer", "evaluate_run", "load_model", "load_run",
           "predict_run", "read_run", "save_run", "seed_everything", "train_task"]

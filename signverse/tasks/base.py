"""What a task is: inputs, targets, metrics, split protocol, and how to evaluate predictions."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from signverse.core.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """One task. ``evaluator`` is ``"module:function"`` with signature
    ``fn(predictions, references, **options) -> dict[str, float]``, imported on use.

    ``inputs``/``targets`` name Sample fields (``pose``, ``label``, ``text``, ``sign_language``).
    """

    name: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    metrics: tuple[str, ...]
    split_protocol: str
    evaluator: str
    description: str = ""
    primary_metric: str = ""
    higher_is_better: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, predictions: Sequence, references: Sequence, **options) -> dict[str, float]:
        """Score ``predictions`` against ``references``; see each task's evaluator for the types."""
        module, func = self.evaluator.split(":")
        fn: Callable = getattr(importlib.import_module(module), func)
        return fn(predictions, references, **{**self.options, **options})

    def split(self, items: Sequence, *, seed: int | None = None, protocol: str | None = None):
        """A ``Split`` of ``items`` by this task's protocol (or ``protocol``); save it with the run."""
        from signverse.tasks.splits import DEFAULT_SEED, make_split
        return make_split(protocol or self.split_protocol, items,
                          seed=DEFAULT_SEED if seed is None else seed)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "inputs": list(self.inputs), "targets": list(self.targets),
                "metrics": list(self.metrics), "split_protocol": self.split_protocol,
                "primary_metric": self.primary_metric, "description": self.description}


TASKS: Registry[TaskSpec] = Registry("task")


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    return TASKS.register(spec.name, spec, replace=replace)


def get_task(name: str | TaskSpec) -> TaskSpec:
    return name if isinstance(name, TaskSpec) else TASKS[name]


def list_tasks() -> list[str]:
    return TASKS.names()

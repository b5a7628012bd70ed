"""Model registry: a name maps to a builder and its default config dataclass (like timm).

Register a model family with the decorator::

    @dataclass
    class MyConfig:
        d_model: int = 128

    @register_model("my-model", MyConfig, task="islr", description="...")
    def build_my_model(cfg: MyConfig, **io) -> torch.nn.Module:
        ...

``io`` carries the sizes that come from the data rather than from the config (``n_features``,
``n_classes``, ``vocab_size``, ``frame_dim``); every builder accepts ``**io`` and ignores what it
does not use. Model modules that register live in ``MODEL_MODULES`` and are imported on first
lookup, so ``import signverse.models`` stays free of torch. Other packages (e.g. SignX) add their
module here or call ``register_model`` at import time.

Every registered model must provide the small protocol the generic trainer uses:
``model.example_batch(batch_size, device)`` (a tiny random batch, used by the registry-wide test)
and ``model.loss(batch) -> (scalar tensor, {name: float})``.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from signverse.core.errors import SignverseError
from signverse.core.registry import Registry

log = logging.getLogger(__name__)

# Imported on first lookup; a module that is absent (e.g. SignX not yet written) is skipped.
MODEL_MODULES = ("signverse.models.signdw.text2pose", "signverse.models.signdw.pose_encoder",
                 "signverse.models.signx")


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: builder(config, **io) -> torch.nn.Module."""

    name: str
    builder: Callable[..., Any]
    config_cls: type
    task: str = ""
    description: str = ""
    defaults: dict = field(default_factory=dict)   # overrides of the config class defaults

    def default_config(self):
        return self.config_cls(**self.defaults)


MODELS: Registry[ModelSpec] = Registry("model")
_loaded = False


def register_model(name: str, config_cls: type, *, task: str = "", description: str = "",
                   replace: bool = False, **defaults) -> Callable:
    """Decorator registering ``builder(config, **io)`` under ``name``.

    ``defaults`` override fields of ``config_cls`` for this name, so one builder can serve
    several named sizes (``signdw-islr-small``...).
    """
    if not dataclasses.is_dataclass(config_cls):
        raise SignverseError(f"model '{name}': config must be a dataclass, got {config_cls!r}")

    def wrap(builder: Callable) -> Callable:
        MODELS.register(name, ModelSpec(name, builder, config_cls, task, description, dict(defaults)),
                        replace=replace)
        return builder
    return wrap


def _load_modules() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # Only the absence of the module itself (or its package) is expected; a missing
            # dependency inside an existing model module is a real error.
            if not (exc.name and module.startswith(exc.name)):
                raise


def model_spec(name: str) -> ModelSpec:
    _load_modules()
    return MODELS[name]


def list_models(task: str | None = None) -> list[str]:
    """Registered model names, optionally only those for ``task``."""
    _load_modules()
    return [n for n in MODELS.names() if task is None or MODELS[n].task == task]


def default_config(name: str, **overrides):
    """The default config of ``name`` with ``overrides`` applied (unknown keys are an error)."""
    spec = model_spec(name)
    cfg = spec.default_config()
    known = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SignverseError(f"model '{name}' has no config field(s) {unknown} (known: {sorted(known)})")
    return dataclasses.replace(cfg, **overrides)


def config_from_dict(name: str, values: dict):
    """Rebuild a config saved with ``dataclasses.asdict`` (unknown keys are dropped with a warning)."""
    spec = model_spec(name)
    known = {f.name for f in dataclasses.fields(spec.config_cls)}
    extra = sorted(set(values) - known)
    if extra:
        log.warning("model %s: ignoring unknown config keys %s", name, extra)
    # A field missing from a saved config was added after the run was saved: its dataclass
    # default (the behaviour before the field existed) applies, not the model's current default.
    fields = {f.name: f for f in dataclasses.fields(spec.config_cls)}
    added_later = {k: f.default for k, f in fields.items()
                   if k not in values and f.default is not dataclasses.MISSING}
    return default_config(name, **{**added_later, **{k: v for k, v in values.items() if k in known}})


def get_model(name: str, config=None, **overrides):
    """Build model ``name``. ``overrides`` go to the config when they are config fields, the rest
    (``n_classes``, ``vocab_size``...) to the builder as data sizes.

    >>> m = get_model("signdw-islr", n_features=12, n_classes=3, d_model=32, n_layers=1)  # doctest: +SKIP
    """
    spec = model_spec(name)
    cfg_fields = {f.name for f in dataclasses.fields(spec.config_cls)}
    cfg_over = {k: v for k, v in overrides.items() if k in cfg_fields}
    io = {k: v for k, v in overrides.items() if k not in cfg_fields}
    if config is None:
        config = default_config(name, **cfg_over)
    elif cfg_over:
        config = dataclasses.replace(config, **cfg_over)
    model = spec.builder(config, **io)
    model.model_name = name
    model.config = config
    return model

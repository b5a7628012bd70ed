"""Pose estimator backends behind one registry.

>>> from signverse.estimators import ESTIMATORS, list_estimators
>>> {"mediapipe", "dwpose"} <= set(list_estimators())
True

Built-in: ``mediapipe`` (default, offline, MediaPipe Holistic) and ``dwpose`` (YOLOX + DWPose ONNX,
weights supplied by the user). Third parties add a backend either by
``ESTIMATORS.register("name", FactoryClass)`` or through a Python entry point in the group
``signverse.estimators`` (``name = "package.module:FactoryClass"``), loaded lazily the first time the
registry is listed or an unknown name is asked for. A factory is a class (or callable) taking the
config fields as keyword arguments and returning a ``PoseEstimator``; a ``describe()`` classmethod
returning ``BackendInfo`` is optional. See ``signverse.estimators.base`` for the call contract.
Backends import their heavy dependencies only when constructed.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from signverse.core.errors import SignverseError
from signverse.core.registry import Registry
from signverse.estimators.base import (BackendInfo, FramePoses, PoseEstimator, convert_frames,
                                       empty_frame, estimate_video, format_backends, stack_frames)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "signverse.estimators"
DEFAULT_ESTIMATOR = "mediapipe"


class _Lazy:
    """A built-in factory imported on first use, so listing backends imports nothing heavy."""

    def __init__(self, name: str, target: str):
        self.name, self.target = name, target

    def load(self) -> Callable[..., PoseEstimator]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


ESTIMATORS: Registry[Any] = Registry("pose estimator")
ESTIMATORS.register("mediapipe", _Lazy("mediapipe", "signverse.estimators.mediapipe_holistic:MediaPipeHolistic"))
ESTIMATORS.register("dwpose", _Lazy("dwpose", "signverse.estimators.dwpose:DWPose"))
# A simulation for dry runs (benchmarks/scale.py): replays recorded poses, ignores the pixels.
ESTIMATORS.register("replay", _Lazy("replay", "signverse.estimators.replay:ReplayEstimator"))

_entry_points_loaded = False


def load_entry_points(*, force: bool = False) -> list[str]:
    """Register backends advertised under the ``signverse.estimators`` entry-point group."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return []
    _entry_points_loaded = True
    from importlib.metadata import entry_points
    added = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in ESTIMATORS:
            continue
        ESTIMATORS.register(ep.name, _Lazy(ep.name, ep.value))
        added.append(ep.name)
    return added


def _factory(name: str):
    load_entry_points()
    item = ESTIMATORS[name]
    if isinstance(item, _Lazy):
        try:
            item = item.load()
        except (ImportError, AttributeError) as exc:
            raise SignverseError(f"pose estimator '{name}' cannot be loaded ({item.target}): {exc}") \
                from None
    return item


def list_estimators() -> list[str]:
    """Names of all registered backends (built-in, registered, and entry points)."""
    load_entry_points()
    return ESTIMATORS.names()


def get_estimator(name: str = DEFAULT_ESTIMATOR, **config: Any) -> PoseEstimator:
    """Build the backend ``name`` with config fields as keyword arguments.

    Unknown names raise ``SignverseError`` listing the known ones; unknown options raise too.
    """
    factory = _factory(name)
    try:
        return factory(**config)
    except TypeError as exc:
        raise SignverseError(f"pose estimator '{name}': bad options {sorted(config)} ({exc})") from None


def sees_one_person(name: str) -> bool:
    """True when backend ``name`` finds at most one person per frame (its ``single_person`` flag)."""
    return bool(getattr(_factory(name), "single_person", False))


def describe_estimators() -> list[BackendInfo]:
    """One ``BackendInfo`` per backend: name, layout, requirements, available here or why not."""
    infos = []
    for name in list_estimators():
        try:
            factory = _factory(name)
        except SignverseError as exc:
            infos.append(BackendInfo(name, "?", "", (), False, str(exc)))
            continue
        describe = getattr(factory, "describe", None)
        if describe is None:
            infos.append(BackendInfo(name, str(getattr(factory, "layout", "?")),
                                     (factory.__doc__ or "").strip().split("\n")[0], (), True))
            continue
        info = describe()
        infos.append(info if info.name == name else BackendInfo(name, *(
            getattr(info, f) for f in ("layout", "description", "requirements", "available",
                                       "reason", "options"))))
    return infos


__all__ = ["BackendInfo", "DEFAULT_ESTIMATOR", "ENTRY_POINT_GROUP", "ESTIMATORS", "FramePoses",
           "PoseEstimator", "convert_frames", "describe_estimators", "empty_frame", "estimate_video",
           "format_backends", "get_estimator",
           "list_estimators", "load_entry_points", "sees_one_person", "stack_frames"]

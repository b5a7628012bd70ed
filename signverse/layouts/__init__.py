"""Skeleton layouts as data and conversions between them.

>>> from signverse.layouts import get_layout, list_layouts
>>> "dwpose" in list_layouts() and get_layout("openpose").name == "openpose-137"
True
"""
from __future__ import annotations

from signverse.core.errors import SignverseError
from signverse.core.registry import Registry
from signverse.layouts.base import Component, Layout
from signverse.layouts.coco_wholebody import COCO_WHOLEBODY
from signverse.layouts.dwpose import DWPOSE
from signverse.layouts.mediapipe_holistic import HOLISTIC, HOLISTIC_REFINED, HOLISTIC_WORLD
from signverse.layouts.openpose import OPENPOSE_137

LAYOUTS: Registry[Layout] = Registry("layout")
_ALIASES: dict[str, str] = {}


def register_layout(layout: Layout, *, replace: bool = False) -> Layout:
    """Add a layout (e.g. one read from a file header) so the rest of signverse can use it."""
    LAYOUTS.register(layout.name, layout, replace=replace)
    for alias in layout.aliases:
        _ALIASES[alias] = layout.name
    return layout


for _layout in (DWPOSE, COCO_WHOLEBODY, HOLISTIC, HOLISTIC_WORLD, HOLISTIC_REFINED, OPENPOSE_137):
    register_layout(_layout)


def get_layout(name: str | Layout) -> Layout:
    if isinstance(name, Layout):
        return name
    return LAYOUTS[_ALIASES.get(name, name)]


def list_layouts() -> list[str]:
    return LAYOUTS.names()


def layout_for_points(n_points: int) -> Layout:
    """The registered layout with exactly ``n_points`` points (unambiguous sizes only)."""
    matches = [LAYOUTS[n] for n in LAYOUTS if LAYOUTS[n].num_points == n_points]
    if len(matches) != 1:
        raise SignverseError(f"no single layout has {n_points} points")
    return matches[0]


from signverse.layouts.convert import can_convert, convert, register_conversion  # noqa: E402

__all__ = ["COCO_WHOLEBODY", "Component", "DWPOSE", "HOLISTIC", "Layout", "OPENPOSE_137",
           "can_convert", "convert", "get_layout", "layout_for_points", "list_layouts",
           "register_conversion", "register_layout"]

"""How a skeleton is drawn, as data: a per-component drawing style plus the layout's own limbs and
colours. ``dwpose`` reproduces the ControlNet / DWPose conditioning images; ``native`` draws any
layout with its own limbs and colours in the same manner."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

import numpy as np

from signverse.core.registry import Registry
from signverse.layouts import Layout, get_layout
from signverse.layouts.parts import hue_colors

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True)
class ComponentStyle:
    """Drawing of one component.

    ``limbs``: ``"ellipse"`` (filled ellipse of half-width ``limb_width`` along the limb, the
    OpenPose body look), ``"line"`` (``limb_width`` pixels thick) or ``"none"``. ``limb_alpha``
    blends limbs over what lies below (DWPose: 0.6 over black). Points are filled discs of
    ``point_radius`` (0: none). Points with ``conf < min_conf`` are skipped, and so are limbs
    touching them.
    """

    limbs: str = "line"
    limb_width: int = 2
    limb_alpha: float = 1.0
    point_radius: int = 3
    min_conf: float = 0.3


@dataclass(frozen=True)
class Style:
    """A drawing style: per-component styles (by component name, ``default`` for the rest), the
    order components are drawn in (later ones on top), and optionally a layout that poses are
    converted to before drawing."""

    name: str
    components: Mapping[str, ComponentStyle] = field(default_factory=dict)
    default: ComponentStyle = ComponentStyle()
    order: tuple[str, ...] = ()
    layout: str | None = None

    def for_component(self, name: str) -> ComponentStyle:
        return self.components.get(name, self.default)


STYLES: Registry[Style] = Registry("render style")

_BODY = ComponentStyle("ellipse", limb_width=4, limb_alpha=0.6, point_radius=4)
_HAND = ComponentStyle("line", limb_width=2, point_radius=4)
# DWPose draws body, then hands, then face, so face dots sit on top of a hand in front of the face.
_ORDER = ("body", "feet", "left_hand", "right_hand", "face")

STYLES.register("dwpose", Style(
    "dwpose", {"body": _BODY, "left_hand": _HAND, "right_hand": _HAND,
               "face": ComponentStyle("none", point_radius=3)}, order=_ORDER, layout="dwpose"))
STYLES.register("native", Style(
    "native", {"body": _BODY, "feet": _BODY, "left_hand": _HAND, "right_hand": _HAND,
               # dense face meshes (468+ points) merge into a blob at larger radii
               "face": ComponentStyle("none", point_radius=1)}, order=_ORDER))


@dataclass(frozen=True)
class ComponentPlan:
    """Everything needed to draw one component, in global point indices."""

    name: str
    style: ComponentStyle
    points: np.ndarray          # [n] global indices
    point_colors: np.ndarray    # [n, 3]
    limbs: np.ndarray           # [m, 2] global indices
    limb_colors: np.ndarray     # [m, 3]


def _point_colors(comp, n: int, limb_colors: tuple[RGB, ...]) -> list[RGB]:
    if len(comp.point_colors) == n:
        return list(comp.point_colors)
    # Layouts without point colours: a point takes the colour of its first limb, else white.
    colors = [WHITE] * n
    for (a, b), color in reversed(list(zip(comp.limbs, limb_colors))):
        colors[a] = colors[b] = color
    return colors


@lru_cache(maxsize=64)
def draw_plan(layout: str | Layout, style: str) -> tuple[ComponentPlan, ...]:
    """The drawing plan for a layout in a style (components the layout does not draw are left out)."""
    lay, sty = get_layout(layout), STYLES[style]
    rank = {name: i for i, name in enumerate(sty.order)}
    comps = sorted((c for c in lay.components if c.drawn),
                   key=lambda c: rank.get(c.name, len(rank)))
    plans = []
    for comp in comps:
        start = lay.slice(comp.name).start
        n = len(comp.points)
        limb_colors = (comp.limb_colors if len(comp.limb_colors) == len(comp.limbs)
                       else hue_colors(len(comp.limbs)))
        plans.append(ComponentPlan(
            comp.name, sty.for_component(comp.name),
            np.arange(start, start + n),
            np.array(_point_colors(comp, n, limb_colors), np.uint8).reshape(n, 3),
            np.array(comp.limbs, np.int64).reshape(-1, 2) + start,
            np.array(limb_colors, np.uint8).reshape(-1, 3)))
    return tuple(plans)

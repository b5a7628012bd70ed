"""Skeleton layouts as data: components, point names, limbs, colours and named anchors."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from signverse.core.errors import SignverseError

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Component:
    """A named group of points (body, face, left_hand...) with limbs in local indices.

    ``mirror`` is the local permutation that a horizontal flip applies (left/right twins swap);
    when empty it is derived from point names (``left_x`` <-> ``right_x``).
    """

    name: str
    points: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...] = ()
    limb_colors: tuple[RGB, ...] = ()
    point_colors: tuple[RGB, ...] = ()
    mirror: tuple[int, ...] = ()
    drawn: bool = True

    def __post_init__(self) -> None:
        n = len(self.points)
        for a, b in self.limbs:
            if not (0 <= a < n and 0 <= b < n):
                raise SignverseError(f"component {self.name}: limb ({a}, {b}) outside {n} points")
        if self.mirror and sorted(self.mirror) != list(range(n)):
            raise SignverseError(f"component {self.name}: mirror is not a permutation")


def _swap_side(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a):
            return b + name[len(a):]
        if f"_{a}" in name:
            return name.replace(f"_{a}", f"_{b}")
    return name


@dataclass(frozen=True)
class Layout:
    """A skeleton: ordered components, so point ``k`` of a pose is ``point_names[k]``.

    >>> from signverse.layouts import get_layout
    >>> dw = get_layout("dwpose")
    >>> dw.num_points, dw.slice("left_hand"), dw.point_names[dw.anchor("neck")]
    (128, slice(86, 107, None), 'body.neck')
    """

    name: str
    components: tuple[Component, ...]
    anchors: tuple[tuple[str, str], ...] = ()   # anchor name -> "component.point"
    description: str = ""
    aliases: tuple[str, ...] = field(default=(), compare=False)

    @cached_property
    def _offsets(self) -> dict[str, int]:
        offsets, at = {}, 0
        for comp in self.components:
            offsets[comp.name] = at
            at += len(comp.points)
        return offsets

    @property
    def num_points(self) -> int:
        return sum(len(c.points) for c in self.components)

    @cached_property
    def point_names(self) -> tuple[str, ...]:
        return tuple(f"{c.name}.{p}" for c in self.components for p in c.points)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.point_names)}

    def component(self, name: str) -> Component:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise SignverseError(f"layout {self.name} has no component '{name}'")

    def has(self, component: str) -> bool:
        return component in self._offsets

    def slice(self, component: str) -> slice:
        comp = self.component(component)
        start = self._offsets[comp.name]
        return slice(start, start + len(comp.points))

    def index(self, point: str) -> int:
        """Global index of ``"component.point"``."""
        try:
            return self._index[point]
        except KeyError:
            raise SignverseError(f"layout {self.name} has no point '{point}'") from None

    def anchor(self, name: str) -> int:
        """Global index of a named anchor such as ``left_shoulder`` or ``right_hand_root``."""
        for key, point in self.anchors:
            if key == name:
                return self.index(point)
        raise SignverseError(f"layout {self.name} has no anchor '{name}'")

    def has_anchor(self, name: str) -> bool:
        return any(key == name for key, _ in self.anchors)

    @cached_property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        """Limbs of drawn components in global indices."""
        return tuple((self._offsets[c.name] + a, self._offsets[c.name] + b)
                     for c in self.components if c.drawn for a, b in c.limbs)

    @cached_property
    def mirror_permutation(self) -> np.ndarray:
        """Global permutation that a horizontal flip applies: left/right twins trade places."""
        perm = np.arange(self.num_points)
        names = {c.name for c in self.components}
        for comp in self.components:
            twin_name = _swap_side(comp.name)
            twin = self.component(twin_name) if twin_name in names else comp
            src = self.slice(comp.name)
            dst = self.slice(twin.name)
            if twin is not comp:
                perm[src] = np.arange(dst.start, dst.stop)
                continue
            if comp.mirror:
                local = np.asarray(comp.mirror)
            else:
                lookup = {p: i for i, p in enumerate(comp.points)}
                local = np.array([lookup.get(_swap_side(p), i) for i, p in enumerate(comp.points)])
            perm[src] = src.start + local
        return perm

    def describe(self) -> dict:
        return {"name": self.name, "points": self.num_points, "description": self.description,
                "components": {c.name: len(c.points) for c in self.components},
                "anchors": dict(self.anchors)}

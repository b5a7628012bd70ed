"""A small name -> object registry (layouts, converters, estimators, models, tasks)."""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from signverse.core.errors import SignverseError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; third parties add entries with ``register``.

    >>> colours = Registry[str]("colour")
    >>> colours.register("red", "#f00")
    '#f00'
    >>> colours["red"]
    '#f00'
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        if name in self._items and not replace:
            raise SignverseError(f"{self.kind} '{name}' is already registered")
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """``@registry.decorator("name")`` registers the decorated object."""
        return lambda item: self.register(name, item)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise SignverseError(f"unknown {self.kind} '{name}' (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return sorted(self._items)

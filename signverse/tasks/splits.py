"""Deterministic, leakage-free data splits and the ``Split`` record every run stores.

Items are grouped (by video or by signer) and whole groups go to one side, so no video / signer is
in two parts. Group order comes from a seeded SHA-1 of the group name, so a split does not depend on
the order of the input, on Python's hash seed or on the machine.

Protocols (``make_split(protocol, items, seed=...)``):

* ``video-80-20``   SignVerse-2M's 80/20 train/test split by video (no dev);
* ``video-90-5-5``  SignVerse-2M's 90/5/5 train/dev/test by video;
* ``signer-80-20``, ``signer-90-5-5``, ``signer-70-15-15``: the same fractions by signer;
* ``signer-kfold-K-F``  fold ``F`` (0-based) of ``K`` signer-disjoint folds as test, rest train.

>>> items = [{"id": f"s{i}", "video_id": f"v{i // 2}", "signer": f"p{i % 5}"} for i in range(40)]
>>> split = make_split("signer-kfold-5-0", items, seed=1)
>>> sorted(split.sizes().items())
[('dev', 0), ('test', 8), ('train', 32)]
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from signverse.core.errors import InputError, SignverseError
from signverse.core.jsonio import dumps as json_dumps

DEFAULT_SEED = 20240611
PARTS = ("train", "dev", "test")


@dataclass(frozen=True)
class Split:
    """Train / dev / test id lists with the protocol and seed that made them (JSON round-trip)."""

    train: tuple[str, ...]
    dev: tuple[str, ...]
    test: tuple[str, ...]
    protocol: str
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in PARTS:
            object.__setattr__(self, name, tuple(str(i) for i in getattr(self, name)))

    def part(self, name: str) -> tuple[str, ...]:
        if name not in PARTS:
            raise SignverseError(f"unknown split part '{name}' (known: {', '.join(PARTS)})")
        return getattr(self, name)

    def part_of(self) -> dict[str, str]:
        """id -> part name."""
        return {i: name for name in PARTS for i in getattr(self, name)}

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in PARTS}

    def select(self, items: Iterable, part: str, *, key: Callable[[Any], str] | None = None) -> list:
        """The items of ``part`` (items matched by ``key``, default: their id)."""
        wanted = set(self.part(part))
        key = key or item_id
        return [it for it in items if key(it) in wanted]

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "seed": self.seed, "meta": self.meta,
                "train": list(self.train), "dev": list(self.dev), "test": list(self.test)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Split":
        return cls(train=data.get("train", ()), dev=data.get("dev", ()), test=data.get("test", ()),
                   protocol=data["protocol"], seed=int(data["seed"]), meta=dict(data.get("meta", {})))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json_dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Split":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError(path, "no such split file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(path, f"not a signverse split file ({exc})") from None


# -- item accessors --------------------------------------------------------------------------
def _get(item: Any, *names: str) -> Any:
    for name in names:
        value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
        if value is not None:
            return value
    return None


def item_id(item: Any) -> str:
    """The id of a Sample (``sample_id``), Clip (``clip_id``), dict (``id``/``sample_id``) or str."""
    if isinstance(item, str):
        return item
    value = _get(item, "sample_id", "clip_id", "id")
    if value is None:
        raise SignverseError(f"cannot find an id in {item!r}")
    return str(value)


def _group_key(by: str) -> Callable[[Any], str]:
    names = {"video": ("video_id",), "signer": ("signer",), "item": ()}[by]

    def key(item: Any) -> str:
        value = _get(item, *names) if names else None
        if value is None:
            if names:
                # An item without a group is its own group: it cannot leak with anything else.
                return f"__{by}_unknown__:{item_id(item)}"
            return item_id(item)
        return str(value)
    return key


def stable_unit(name: str, seed: int) -> float:
    """A number in [0, 1) from SHA-1 of ``seed:name``: stable across runs, machines, Python hashes."""
    digest = hashlib.sha1(f"{seed}:{name}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


# -- splitting -------------------------------------------------------------------------------
def split_groups(ids: Sequence[str], groups: Sequence[str], fractions: Sequence[float], *,
                 seed: int = DEFAULT_SEED, method: str = "balanced") -> list[list[str]]:
    """Partition ``ids`` into ``len(fractions)`` parts with no group in two parts.

    ``method="hash"``: a group goes to the part whose cumulative-fraction interval holds its
    ``stable_unit`` value; adding new groups never moves old ones (right for large corpora,
    proportions are approximate). ``method="balanced"``: groups sorted by ``stable_unit`` are
    dealt so that the item counts follow ``fractions`` as closely as whole groups allow (right for
    a few dozen signers); every part with a positive fraction gets a group when there are enough.
    """
    if len(ids) != len(groups):
        raise SignverseError("ids and groups differ in length")
    fr = [float(f) for f in fractions]
    if any(f < 0 for f in fr) or sum(fr) <= 0:
        raise SignverseError(f"bad split fractions {fractions}")
    total_fr = sum(fr)
    fr = [f / total_fr for f in fr]
    members: dict[str, list[str]] = {}
    for i, g in zip(ids, groups):
        members.setdefault(str(g), []).append(str(i))
    order = sorted(members, key=lambda g: (stable_unit(g, seed), g))
    parts: list[list[str]] = [[] for _ in fr]
    if method == "hash":
        bounds = [sum(fr[:k + 1]) for k in range(len(fr))]
        for g in order:
            u = stable_unit(g, seed)
            k = next((k for k, b in enumerate(bounds) if u < b), len(fr) - 1)
            parts[k].extend(members[g])
    elif method == "balanced":
        n_total = len(ids)
        counts = [0] * len(fr)
        # Smaller parts first, so dev/test get their share of groups before train takes the rest.
        need = sorted(range(len(fr)), key=lambda k: (fr[k], k))
        remaining = list(order)
        for pos, k in enumerate(need[:-1]):
            target = fr[k] * n_total
            # parts still to be filled after this one (the largest, train, last of all)
            later = sum(1 for j in need[pos + 1:] if fr[j] > 0)
            while remaining and fr[k] > 0:
                g = remaining[0]
                size = len(members[g])
                # Take the group if it brings the count closer to the target (always take one).
                if counts[k] > 0 and abs(counts[k] + size - target) >= abs(counts[k] - target):
                    break
                if len(remaining) <= later:
                    break   # leave a group for every later non-empty part
                remaining.pop(0)
                parts[k].extend(members[g])
                counts[k] += size
        parts[need[-1]].extend(i for g in remaining for i in members[g])
    else:
        raise SignverseError(f"unknown split method '{method}' (hash, balanced)")
    return [sorted(p) for p in parts]


def _three(parts: list[list[str]]) -> tuple[list[str], list[str], list[str]]:
    if len(parts) == 2:
        return parts[0], [], parts[1]
    return parts[0], parts[1], parts[2]


def split_by(items: Sequence, by: str, fractions: Sequence[float], *, seed: int = DEFAULT_SEED,
             method: str | None = None, protocol: str | None = None) -> Split:
    """Split records (Samples, Clips, dicts) by ``"video"``, ``"signer"`` or ``"item"`` into
    train/test (2 fractions) or train/dev/test (3 fractions)."""
    if len(fractions) not in (2, 3):
        raise SignverseError("give 2 (train/test) or 3 (train/dev/test) fractions")
    key = _group_key(by)
    ids = [item_id(it) for it in items]
    if len(set(ids)) != len(ids):
        raise SignverseError("item ids are not unique")
    method = method or ("hash" if by in ("video", "item") else "balanced")
    parts = split_groups(ids, [key(it) for it in items], fractions, seed=seed, method=method)
    train, dev, test = _three(parts)
    name = protocol or f"{by}-" + "-".join(str(round(100 * f / sum(fractions))) for f in fractions)
    return Split(train, dev, test, protocol=name, seed=seed,
                 meta={"by": by, "fractions": list(fractions), "method": method})


def kfold_by_signer(items: Sequence, k: int = 5, fold: int = 0, *, seed: int = DEFAULT_SEED) -> Split:
    """Fold ``fold`` of ``k`` signer-disjoint folds as test, the rest as train (no dev).

    Signers are dealt, largest first (ties by seeded hash), to the fold with the fewest items, so
    folds are balanced in items and every signer is in exactly one test fold.
    """
    if not (k >= 2 and 0 <= fold < k):
        raise SignverseError(f"need k >= 2 and 0 <= fold < k, got k={k}, fold={fold}")
    key = _group_key("signer")
    members: dict[str, list[str]] = {}
    for it in items:
        members.setdefault(key(it), []).append(item_id(it))
    if len(members) < k:
        raise SignverseError(f"{len(members)} signers cannot make {k} signer-disjoint folds")
    order = sorted(members, key=lambda g: (-len(members[g]), stable_unit(g, seed), g))
    folds: list[list[str]] = [[] for _ in range(k)]
    for g in order:
        target = min(range(k), key=lambda f: (len(folds[f]), f))
        folds[target].extend(members[g])
    test = sorted(folds[fold])
    train = sorted(i for f in range(k) if f != fold for i in folds[f])
    return Split(train, [], test, protocol=f"signer-kfold-{k}-{fold}", seed=seed,
                 meta={"by": "signer", "k": k, "fold": fold})


PROTOCOLS: dict[str, tuple[str, tuple[float, ...]]] = {
    "video-80-20": ("video", (0.8, 0.2)),
    "video-90-5-5": ("video", (0.9, 0.05, 0.05)),
    "signer-80-20": ("signer", (0.8, 0.2)),
    "signer-90-5-5": ("signer", (0.9, 0.05, 0.05)),
    "signer-70-15-15": ("signer", (0.7, 0.15, 0.15)),
}
_KFOLD = re.compile(r"^signer-kfold-(\d+)-(\d+)$")


def list_protocols() -> list[str]:
    return sorted(PROTOCOLS) + ["signer-kfold-K-F"]


def make_split(protocol: str, items: Sequence, *, seed: int = DEFAULT_SEED) -> Split:
    """The split named by ``protocol`` (see the module docstring) over ``items``."""
    m = _KFOLD.match(protocol)
    if m:
        return kfold_by_signer(items, int(m.group(1)), int(m.group(2)), seed=seed)
    if protocol not in PROTOCOLS:
        raise SignverseError(f"unknown split protocol '{protocol}' (known: {', '.join(list_protocols())})")
    by, fractions = PROTOCOLS[protocol]
    return split_by(items, by, fractions, seed=seed, protocol=protocol)


def assert_disjoint(split: Split, items: Sequence, by: str = "signer") -> None:
    """Raise SignverseError if a ``by`` group (signer / video) appears in two parts of ``split``."""
    key = _group_key(by)
    where = split.part_of()
    seen: dict[str, str] = {}
    for it in items:
        part = where.get(item_id(it))
        if part is None:
            continue
        g = key(it)
        if seen.setdefault(g, part) != part:
            raise SignverseError(f"{by} '{g}' is in both {seen[g]} and {part}")

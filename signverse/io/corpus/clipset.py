"""A lazily iterable selection of clips backed by the store: filter, shuffle, split."""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.records import Clip

# The names summaries give to missing values (signverse.io.corpus.summary)
_NULL_NAMES = {"sign_language": "unknown", "split": "none"}
_ALIASES = {"language": "sign_language", "lang": "sign_language"}
# Free-text columns stay on disk until asked for: selections over millions of clips stay light.
_HEAVY = ("text", "gloss", "qc_extra")


class ClipSet:
    """Clips of a corpus selected by their metadata; poses are read only while iterating.

    Holds only the selected metadata rows (a pyarrow Table); iteration in storage order streams
    shard by shard, a shuffled set reads clip by clip through the id index.

    >>> train = corpus.where(language="ase", split="train").shuffle(seed=0)  # doctest: +SKIP
    >>> parts = corpus.clips().split({"train": 0.9, "dev": 0.1}, by="video_id")  # doctest: +SKIP
    """

    def __init__(self, corpus, rows=None, *, ordered: bool = True):
        self.corpus = corpus
        self._rows = rows
        self._ordered = ordered  # rows are in storage order (enables shard streaming)

    @property
    def rows(self):
        """The selected rows' light metadata (pyarrow Table with ``_shard``/``_row`` locations;
        the free-text columns are read by :meth:`metadata`)."""
        if self._rows is None:
            from signverse.io.corpus import schema
            self._rows = self.corpus.metadata([n for n in schema.clips_schema().names if n not in _HEAVY])
        return self._rows

    def _derive(self, rows, ordered: bool | None = None) -> "ClipSet":
        return ClipSet(self.corpus, rows, ordered=self._ordered if ordered is None else ordered)

    def __len__(self) -> int:
        return self.rows.num_rows

    def __repr__(self) -> str:
        return f"ClipSet({len(self)} clips of {self.corpus.root})"

    def ids(self) -> list[str]:
        return self.rows.column("clip_id").to_pylist()

    def metadata(self):
        """Every metadata column of the selected clips, in this set's order (a pyarrow Table)."""
        import pyarrow as pa
        rows = self.rows
        shards = rows.column("_shard").to_numpy()
        local = rows.column("_row").to_numpy()
        parts, order = [], []
        for shard in np.unique(shards):
            pick = np.flatnonzero(shards == shard)
            table = self.corpus._read_table(self.corpus.clips_path(int(shard)))
            parts.append(table.take(local[pick]))
            order.append(pick)
        if not parts:
            from signverse.io.corpus import schema
            return schema.clips_schema().empty_table()
        full = pa.concat_tables(parts)
        return full.take(np.argsort(np.concatenate(order), kind="stable"))

    def records(self) -> list[dict[str, Any]]:
        """The selected clips' metadata as plain dicts."""
        return self.metadata().to_pylist()

    def _column(self, name: str):
        if name in self.rows.column_names:
            return self.rows.column(name)
        return self.metadata().column(name)

    # -- selection ---------------------------------------------------------------------------
    def where(self, **conditions) -> "ClipSet":
        """Keep clips whose columns equal the given values (a list/tuple/set means any of them).

        Also ``min_duration``/``max_duration`` (seconds), ``min_frames``/``max_frames`` and
        ``qc_min={"signer_frac": 0.8}``. ``language`` is an alias of ``sign_language``;
        ``language="unknown"`` / ``split="none"`` (what ``info`` calls missing values) and ``None``
        select the clips that have none.
        """
        import pyarrow as pa
        import pyarrow.compute as pc
        rows = self.rows
        mask = None

        def both(m):
            return m if mask is None else pc.and_(mask, m)

        for key, value in conditions.items():
            if key in ("min_duration", "max_duration"):
                dur = pc.subtract(self._column("end"), self._column("start"))
                mask = both((pc.greater_equal if key == "min_duration" else pc.less_equal)(dur, value))
            elif key in ("min_frames", "max_frames"):
                col = self._column("n_frames")
                mask = both((pc.greater_equal if key == "min_frames" else pc.less_equal)(col, value))
            elif key == "qc_min":
                for name, low in dict(value).items():
                    column = name if name.startswith("qc_") else f"qc_{name}"
                    self._check_column(column)
                    mask = both(pc.greater_equal(self._column(column), low))
            else:
                column = _ALIASES.get(key, key)
                self._check_column(column)
                col = self._column(column)
                values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
                # what `info` / `summary` call a missing language ("unknown") or split ("none")
                # selects the clips that have none
                wants_null = None in values or _NULL_NAMES.get(column) in values
                values = [v for v in values if v is not None]
                match = (None if not values else pc.equal(col, values[0]) if len(values) == 1
                         else pc.is_in(col, value_set=pa.array(values)))
                if wants_null:
                    match = pc.is_null(col) if match is None else pc.or_(pc.fill_null(match, False), pc.is_null(col))
                mask = both(match)
        if mask is None:
            return self
        return self._derive(rows.filter(pc.fill_null(mask, False)))

    def _check_column(self, column: str) -> None:
        from signverse.io.corpus import schema
        names = schema.clips_schema().names
        if column not in names:
            raise SignverseError(f"unknown clip metadata column {column!r} (known: {', '.join(names)})")

    def filter(self, predicate: Callable[[dict[str, Any]], bool] | Any) -> "ClipSet":
        """Keep clips for which ``predicate(row dict)`` is true; a pyarrow expression also works."""
        rows = self.rows
        if not callable(predicate):
            full = self.metadata().append_column("_shard", rows.column("_shard")) \
                .append_column("_row", rows.column("_row"))
            return self._derive(full.filter(predicate).drop_columns(list(_HEAVY)))
        keep = np.fromiter((bool(predicate(r)) for r in self.records()), bool, count=rows.num_rows)
        return self._derive(rows.filter(keep))

    def take(self, n: int) -> "ClipSet":
        return self._derive(self.rows.slice(0, n))

    def shuffle(self, seed: int = 0) -> "ClipSet":
        """The same clips in a random order fixed by ``seed``."""
        order = np.random.default_rng(seed).permutation(len(self))
        return self._derive(self.rows.take(order), ordered=False)

    def split(self, fractions: Mapping[str, float], *, seed: int = 0, by: str | None = "video_id"
              ) -> dict[str, "ClipSet"]:
        """Random split into named parts; clips sharing ``by`` (e.g. a video) stay together.

        Assignment hashes each group key with ``seed``, so it is stable when the corpus grows.
        """
        names = list(fractions)
        weights = np.array([float(fractions[n]) for n in names])
        if not len(names) or (weights < 0).any() or weights.sum() <= 0:
            raise SignverseError(f"split fractions must be non-negative and not all zero: {dict(fractions)}")
        edges = np.cumsum(weights / weights.sum())
        keys = self.rows.column(by or "clip_id").to_pylist()
        u = np.array([int.from_bytes(hashlib.blake2b(f"{seed}:{k}".encode(), digest_size=8).digest(),
                                     "little") / 2.0 ** 64 for k in keys])
        part = np.minimum(np.searchsorted(edges, u, side="right"), len(names) - 1)
        return {name: self._derive(self.rows.filter(part == i)) for i, name in enumerate(names)}

    def by_split(self) -> dict[str, "ClipSet"]:
        """The stored ``split`` column as ClipSets (clips without a split are left out)."""
        values = sorted({v for v in self.rows.column("split").to_pylist() if v is not None})
        return {v: self.where(split=v) for v in values}

    # -- loading -----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Clip]:
        rows = self.rows
        if self._ordered:
            shards = rows.column("_shard").to_numpy()
            local = rows.column("_row").to_numpy()
            wanted = {int(s): np.sort(local[shards == s]) for s in np.unique(shards)}
            for _, clips in self.corpus._iter_shards(wanted):
                yield from clips
        else:
            for clip_id in self.ids():
                yield self.corpus[clip_id]

    def __getitem__(self, i: int) -> Clip:
        return self.corpus[self.rows.column("clip_id")[i].as_py()]

"""The clip list of the viewer: paging, filtering, sorting and text search over the clips table.

DuckDB holds the metadata of every clip in memory (read once from the store's
``clips/shard-*.parquet``). A request finds the rows its filters match (vectorised comparisons
over numpy copies of the filter columns; a text search through a word index, or a DuckDB scan
until the index exists), keeps them for the following pages, takes the page from a per-column
sort order, and fetches just that page's rows from DuckDB by rowid (``benchmarks/viewer.py``
times it at 2,000,000 clips). Request values are bound parameters or numpy comparisons, and every
column name is checked against the table's own columns, so no request text ever becomes SQL.

>>> table = ClipTable.from_rows([{"clip_id": "a", "video_id": "v", "sign_language": "ase",
...                               "text": "hello", "n_frames": 10, "fps": 24.0}])
>>> table.page(ClipQuery(q="hell"))["total"]
1
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from signverse.core.errors import InputError, require
from signverse.io.corpus.schema import QC_FIELDS

MAX_LIMIT = 500
VERIFY_LIMIT = 100_000   # word-index candidates checked against the text; more: scan instead
# Columns the list shows; the rest (gloss, qc_extra...) comes with one clip's metadata.
LIST_COLUMNS = ("clip_id", "video_id", "sign_language", "signer", "split", "start", "end", "fps",
                "n_frames", "text", "layout", *(f"qc_{n}" for n in QC_FIELDS))
TEXT_COLUMNS = ("text", "gloss", "clip_id", "video_id")
CODED_COLUMNS = ("sign_language", "split", "signer")


class QueryError(InputError):
    """A request parameter the clip list cannot use (bad sort column, limit, threshold)."""

    def __init__(self, problem: str):
        super().__init__(None, problem)


@dataclass(frozen=True)
class ClipQuery:
    """One page of the clip list: filters, sort and window.

    ``languages`` / ``splits`` / ``signers`` match any of the given values; ``q`` is a
    case-insensitive substring of the text, gloss, clip id or video id; ``minimum`` / ``maximum``
    bound QC figures by name (``left_hand_frac``...), a clip without the figure never passing;
    ``sort`` is a column name, ``-name`` for descending.
    """

    offset: int = 0
    limit: int = 50
    languages: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    signers: tuple[str, ...] = ()
    q: str = ""
    minimum: Mapping[str, float] = field(default_factory=dict)
    maximum: Mapping[str, float] = field(default_factory=dict)
    sort: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "ClipQuery":
        """From URL query parameters: ``offset limit language split signer q sort`` and
        ``min_<qc>`` / ``max_<qc>`` (comma-separated values match any of them)."""
        def values(name: str) -> tuple[str, ...]:
            raw = params.get(name) or ""
            return tuple(v.strip() for v in raw.split(",") if v.strip())

        def number(name: str, value: str) -> float:
            try:
                x = float(value)
            except ValueError:
                raise QueryError(f"{name} must be a number, got {value!r}") from None
            if not math.isfinite(x):
                raise QueryError(f"{name} must be finite, got {value!r}")
            return x

        def integer(name: str, default: int) -> int:
            raw = params.get(name)
            if raw in (None, ""):
                return default
            try:
                return int(raw)
            except ValueError:
                raise QueryError(f"{name} must be an integer, got {raw!r}") from None

        bounds: dict[str, dict[str, float]] = {"min": {}, "max": {}}
        for key, value in params.items():
            for side in bounds:
                if key.startswith(f"{side}_") and value not in ("", None):
                    name = key[len(side) + 1:]
                    if name not in QC_FIELDS:
                        raise QueryError(f"unknown QC figure {name!r} in {key} "
                                         f"(known: {', '.join(QC_FIELDS)})")
                    bounds[side][name] = number(key, value)
        return cls(offset=integer("offset", 0), limit=integer("limit", 50),
                   languages=values("language"), splits=values("split"), signers=values("signer"),
                   q=(params.get("q") or "").strip(), minimum=bounds["min"], maximum=bounds["max"],
                   sort=(params.get("sort") or "").strip())


def _ident(name: str) -> str:
    """A quoted SQL identifier (column names come from the file, so quote them safely)."""
    return '"' + name.replace('"', '""') + '"'


def _duckdb():
    return require("duckdb", "view")


def _jsonable(value: Any) -> Any:
    """Strict JSON values: NaN / infinity become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ClipTable:
    """The clips metadata in an in-memory DuckDB table, queried page by page (thread-safe).

    Rows are addressed by their storage position (DuckDB's rowid). Sorting uses one ordering of
    the whole table per column, made by DuckDB the first time the column is sorted on
    (:meth:`warm` makes them, the filter columns and the word index ahead): a sorted page of any
    filter at any offset is then a numpy selection plus one lookup of at most ``limit`` rows.
    """

    def __init__(self, connection, columns: list[str]):
        self._con = connection
        self.columns = columns           # the stored columns (not the helper columns below)
        self._lock = threading.Lock()
        self._order_locks: dict[str, threading.Lock] = {}
        self._orders: dict[str, tuple[np.ndarray, int]] = {}   # column -> (ascending rows, non-null count)
        self._matches: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._words = None                  # WordIndex, once built (build_word_index)
        self._columns: dict[str, Any] | None = None   # filter columns as numpy (_filter_columns)
        self._rank_cache: dict[tuple, np.ndarray] = {}
        self._words_lock = threading.Lock()
        self.n = int(self._cursor().execute("SELECT count(*) FROM clips").fetchone()[0])

    @classmethod
    def from_parquet(cls, files: Iterable[str | Path]) -> "ClipTable":
        """Load ``clips/shard-*.parquet`` files (the file list, never a glob of request text)."""
        files = [str(f) for f in files]
        con = _duckdb().connect(":memory:")
        if files:
            try:
                con.execute("CREATE TABLE raw AS SELECT * FROM read_parquet(?, union_by_name=true)",
                            [files])
            except _duckdb().Error as exc:
                raise InputError(Path(files[0]).parent, f"unreadable clips table ({exc})") from None
        else:
            from signverse.io.corpus.schema import clips_schema
            con.register("empty_clips", clips_schema().empty_table())
            con.execute("CREATE TABLE raw AS SELECT * FROM empty_clips")
            con.unregister("empty_clips")
        return cls._finish(con)

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> "ClipTable":
        """A table from plain dicts (missing columns of the store schema are null)."""
        from signverse.io.corpus.schema import clips_schema, pa
        schema = clips_schema()
        table = pa().table({f.name: pa().array([r.get(f.name) for r in rows], f.type) for f in schema},
                           schema=schema)
        con = _duckdb().connect(":memory:")
        con.register("rows", table)
        con.execute("CREATE TABLE raw AS SELECT * FROM rows")
        con.unregister("rows")
        return cls._finish(con)

    @classmethod
    def _finish(cls, con) -> "ClipTable":
        described = con.execute("DESCRIBE raw").fetchall()
        columns = [r[0] for r in described if not r[0].startswith("_")]
        if "clip_id" not in columns:
            raise InputError(None, "the clips table lacks the column clip_id")
        # NaN means "not measured": NULL, so it never passes a threshold and sorts last.
        select = [f"CASE WHEN isnan({_ident(c)}) THEN NULL ELSE {_ident(c)} END AS {_ident(c)}"
                  if t in ("DOUBLE", "FLOAT") else _ident(c)
                  for c, t in ((r[0], r[1]) for r in described) if c in columns]
        # _search: the searched text, lower-cased once. Rows keep their order, so a row's rowid is
        # its storage position 0..n-1 (the positions the sort orders and filters hold).
        searched = [c for c in TEXT_COLUMNS if c in columns]
        con.execute(f"CREATE TABLE clips AS SELECT {', '.join(select)}, "
                    f"lower(concat_ws(' ', {', '.join(_ident(c) for c in searched)})) AS _search "
                    f"FROM raw")
        con.execute("DROP TABLE raw")
        return cls(con, columns)

    def _cursor(self):
        # One cursor per call: a DuckDB connection must not run two queries at once, cursors may.
        with self._lock:
            return self._con.cursor()

    # -- filters ----------------------------------------------------------------------------
    # The filter columns are also held as numpy arrays (storage order): a language / split /
    # signer as integer codes, QC figures as float64 with NaN for "not measured". A filter is then
    # a few vectorised comparisons (measured ~10x cheaper than the same filter in DuckDB here).
    def _filter_columns(self) -> dict[str, Any]:
        with self._lock:
            if self._columns is not None:
                return self._columns
        wanted = [c for c in (*CODED_COLUMNS, *(f"qc_{n}" for n in QC_FIELDS)) if c in self.columns]
        out: dict[str, Any] = {}
        if wanted:
            table = self._cursor().sql(
                f"SELECT {', '.join(_ident(c) for c in wanted)} FROM clips ORDER BY rowid").to_arrow_table()
            import pyarrow.compute as pc
            for column in wanted:
                values = table.column(column)
                if column in CODED_COLUMNS:
                    encoded = pc.dictionary_encode(values).combine_chunks()
                    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(), np.int32)
                    out[column] = (codes, {v: i for i, v in enumerate(encoded.dictionary.to_pylist())})
                else:
                    out[column] = np.asarray(pc.fill_null(values, float("nan")).to_numpy(), np.float64)
        with self._lock:
            self._columns = out
        return out

    def _filter_mask(self, query: ClipQuery) -> np.ndarray | None:
        """Rows passing the language / split / signer / QC filters (None: no such filter)."""
        if not (query.languages or query.splits or query.signers or query.minimum or query.maximum):
            return None
        columns = self._filter_columns()
        mask = np.ones(self.n, bool)
        for column, values in (("sign_language", query.languages), ("split", query.splits),
                               ("signer", query.signers)):
            if not values:
                continue
            if column not in columns:
                return np.zeros(self.n, bool)
            codes, lookup = columns[column]
            mask &= np.isin(codes, [lookup[v] for v in values if v in lookup])
        for bounds, passes in ((query.minimum, np.greater_equal), (query.maximum, np.less_equal)):
            for name, value in bounds.items():
                figure = columns.get(f"qc_{name}")
                if figure is None:
                    return np.zeros(self.n, bool)
                with np.errstate(invalid="ignore"):
                    mask &= passes(figure, value)    # NaN (not measured) never passes
        return mask

    def _matching(self, query: ClipQuery) -> np.ndarray | None:
        """Storage positions of the rows a query's filters match, ascending (None: every row)."""
        key = (query.languages, query.splits, query.signers, query.q.lower(),
               tuple(sorted(query.minimum.items())), tuple(sorted(query.maximum.items())))
        if key == ((), (), (), "", (), ()):
            return None
        with self._lock:
            if key in self._matches:
                self._matches.move_to_end(key)
                return self._matches[key]
        mask = self._filter_mask(query)
        if query.q:
            rows = self._text_rows(query.q)
            if mask is not None:
                rows = rows[mask[rows]]
        else:
            rows = np.flatnonzero(mask).astype(np.int64)
        with self._lock:
            self._matches[key] = rows
            while len(self._matches) > 16:   # paging keeps the filters: remember the last few
                self._matches.popitem(last=False)
        return rows

    def _text_rows(self, q: str) -> np.ndarray:
        """Rows whose text, gloss, clip id or video id contain ``q`` (case-insensitive), ascending."""
        rows = self._indexed_search(q)
        if rows is None:
            # contains(): a plain substring, so %, _ and \\ in q are literal characters.
            found = self._cursor().execute("SELECT rowid AS r FROM clips WHERE contains(_search, ?)",
                                           [q.lower()]).fetchnumpy()["r"]
            rows = np.sort(np.asarray(found, np.int64))
        return rows

    def _indexed_search(self, q: str) -> np.ndarray | None:
        """The rows of a text search through the word index (None: not usable, scan instead).

        Only ASCII queries use it, so that the word boundaries of Python and DuckDB agree."""
        words = self._words
        if words is None or not q.isascii() or not words.runs(q):
            return None
        rows = words.rows(q)
        if not words.exact(q):
            if len(rows) > VERIFY_LIMIT:
                return None
            found = self._cursor().execute(
                "SELECT rowid AS r FROM clips WHERE rowid = ANY(?) AND contains(_search, ?)",
                [rows.tolist(), q.lower()]).fetchnumpy()["r"]
            rows = np.sort(np.asarray(found, np.int64))
        return rows.astype(np.int64)

    def build_word_index(self) -> None:
        """Index the words of the searched text (once; text searches scan until it exists)."""
        from signverse.view.words import WordIndex
        with self._words_lock:
            if self._words is None:
                self._words = WordIndex.build(self._con)

    def count(self, query: ClipQuery) -> int:
        rows = self._matching(query)
        return self.n if rows is None else len(rows)

    # -- sorting ----------------------------------------------------------------------------
    def _sort_key(self, sort: str) -> tuple[str | None, bool]:
        if not sort:
            return None, False
        descending = sort.startswith("-")
        column = sort.lstrip("-+")
        if column != "duration" and column not in self.columns:
            raise QueryError(f"cannot sort by {column!r} (columns: duration, {', '.join(self.columns)})")
        return column, descending

    def order(self, column: str) -> tuple[np.ndarray, int]:
        """Storage positions sorted by a column ascending (ties by clip id, NULLs last) and the
        number of non-null values; computed once per column."""
        with self._lock:
            if column in self._orders:
                return self._orders[column]
            lock = self._order_locks.setdefault(column, threading.Lock())
        with lock:
            with self._lock:
                if column in self._orders:
                    return self._orders[column]
            expr = '("end" - "start")' if column == "duration" else _ident(column)
            tie = ', "clip_id"' if column != "clip_id" else ""
            cursor = self._cursor()
            rows = cursor.execute(f"SELECT rowid AS r FROM clips ORDER BY {expr} ASC NULLS LAST{tie}"
                                  ).fetchnumpy()["r"]
            valid = int(cursor.execute(f"SELECT count({expr}) FROM clips").fetchone()[0])
            entry = (np.asarray(rows, np.int32), valid)
            with self._lock:
                self._orders[column] = entry
            return entry

    def _descending(self, column: str) -> np.ndarray:
        """Values descending, NULLs still last (ties then come in reverse clip-id order)."""
        key = f"-{column}"
        with self._lock:
            if key in self._orders:
                return self._orders[key][0]
        ordered, valid = self.order(column)
        entry = (np.concatenate([ordered[:valid][::-1], ordered[valid:]]), valid)
        with self._lock:
            self._orders[key] = entry
        return entry[0]

    def warm(self, columns: Iterable[str] | None = None) -> None:
        """Make the filter columns, the word index and the sort orders ahead of the first requests
        that use them."""
        self._filter_columns()
        self.build_word_index()
        for column in columns or ["duration", *(c for c in LIST_COLUMNS if c in self.columns)]:
            self.order(column)

    def _page_rows(self, query: ClipQuery) -> tuple[np.ndarray, int]:
        rows = self._matching(query)
        column, descending = self._sort_key(query.sort)
        total = self.n if rows is None else len(rows)
        window = slice(query.offset, query.offset + query.limit)
        if column is None:
            if rows is None:
                return np.arange(window.start, min(window.stop, self.n)), total
            return rows[window], total
        ordered = self._descending(column) if descending else self.order(column)[0]
        if rows is None:
            return ordered[window], total
        if len(rows) * 16 < self.n:
            # Few rows: sort them by their rank in the column's order (k log k, not a pass over n).
            ranks = self._ranks(column, descending, ordered)
            return rows[np.argsort(ranks[rows], kind="stable")][window], total
        keep = np.zeros(self.n, bool)
        keep[rows] = True
        return ordered[keep[ordered]][window], total

    def _ranks(self, column: str, descending: bool, ordered: np.ndarray) -> np.ndarray:
        """Position of every row in a sort order (the inverse permutation), made once."""
        key = ("rank", column, descending)
        with self._lock:
            ranks = self._rank_cache.get(key)
        if ranks is None:
            ranks = np.empty(self.n, np.int32)
            ranks[ordered] = np.arange(self.n, dtype=np.int32)
            with self._lock:
                self._rank_cache[key] = ranks
        return ranks

    # -- queries ----------------------------------------------------------------------------
    def page(self, query: ClipQuery) -> dict[str, Any]:
        """``{"total", "offset", "limit", "clips": [...]}`` for one page of the list."""
        if not 0 < query.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {query.limit}")
        if query.offset < 0:
            raise QueryError(f"offset must be >= 0, got {query.offset}")
        positions, total = self._page_rows(query)
        columns = [c for c in LIST_COLUMNS if c in self.columns]
        clips: list[dict[str, Any]] = []
        if len(positions):
            wanted = [int(p) for p in positions]
            select = ", ".join(_ident(c) for c in columns)
            # rowid = ANY(list): DuckDB fetches the rows directly (an IN list would scan the table).
            found = self._cursor().execute(
                f"SELECT rowid, {select} FROM clips WHERE rowid = ANY(?)", [wanted]).fetchall()
            by_row = {r[0]: r[1:] for r in found}
            clips = [{c: _jsonable(v) for c, v in zip(columns, by_row[p])} for p in wanted]
        return {"total": total, "offset": query.offset, "limit": query.limit, "clips": clips}

    def row(self, clip_id: str) -> dict[str, Any] | None:
        """Every stored column of one clip, or None."""
        select = ", ".join(_ident(c) for c in self.columns)
        cursor = self._cursor()
        found = cursor.execute(f"SELECT {select} FROM clips WHERE clip_id = ? LIMIT 1",
                               [clip_id]).fetchone()
        return None if found is None else {n: _jsonable(v) for n, v in zip(self.columns, found)}

    def __len__(self) -> int:
        return self.n

    def distinct(self, column: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The values of a column with their clip counts, most frequent first (for the filters)."""
        if column not in self.columns:
            return []
        rows = self._cursor().execute(
            f"SELECT {_ident(column)}, count(*) AS n FROM clips WHERE {_ident(column)} IS NOT NULL "
            f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?", [limit]).fetchall()
        return [{"value": v, "clips": int(n)} for v, n in rows]

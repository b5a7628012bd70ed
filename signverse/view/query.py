"""The clip list of the viewer: paging, filtering, sorting and text search over the clips table.

DuckDB holds the metadata of every clip in memory (read once from the store's
``clips/shard-*.parquet``), so each request is one filtered count and one top-N query; at
2,000,000 clips that stays in the tens of milliseconds (``benchmarks/viewer.py``). Every value
from a request is a bound parameter and every column name is checked against the table's own
columns, so no request text ever becomes SQL.

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

from signverse.core.errors import InputError, require
from signverse.io.corpus.schema import QC_FIELDS

MAX_LIMIT = 500
# Columns the list shows; the rest (gloss, qc_extra...) comes with one clip's metadata.
LIST_COLUMNS = ("clip_id", "video_id", "sign_language", "signer", "split", "start", "end", "fps",
                "n_frames", "text", "layout", *(f"qc_{n}" for n in QC_FIELDS))
TEXT_COLUMNS = ("text", "gloss", "clip_id", "video_id")


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


def _duckdb():
    return require("duckdb", "query")


def _jsonable(value: Any) -> Any:
    """Strict JSON values: NaN / infinity become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ClipTable:
    """The clips metadata in an in-memory DuckDB table, queried page by page (thread-safe)."""

    def __init__(self, connection, columns: list[str]):
        self._con = connection
        self.columns = columns
        self._lock = threading.Lock()
        self._counts: OrderedDict[tuple, int] = OrderedDict()   # paging keeps the filters: count once

    @classmethod
    def from_parquet(cls, files: Iterable[str | Path]) -> "ClipTable":
        """Load ``clips/shard-*.parquet`` files (the file list, never a glob of request text)."""
        files = [str(f) for f in files]
        con = _duckdb().connect(":memory:")
        if files:
            try:
                con.execute("CREATE TABLE clips AS SELECT * FROM read_parquet(?, union_by_name=true)",
                            [files])
            except _duckdb().Error as exc:
                raise InputError(Path(files[0]).parent, f"unreadable clips table ({exc})") from None
        else:
            from signverse.io.corpus.schema import clips_schema
            con.register("empty_clips", clips_schema().empty_table())
            con.execute("CREATE TABLE clips AS SELECT * FROM empty_clips")
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
        con.execute("CREATE TABLE clips AS SELECT * FROM rows")
        con.unregister("rows")
        return cls._finish(con)

    @classmethod
    def _finish(cls, con) -> "ClipTable":
        columns = [r[0] for r in con.execute("DESCRIBE clips").fetchall()]
        missing = {"clip_id"} - set(columns)
        if missing:
            raise InputError(None, f"the clips table lacks the column(s) {', '.join(sorted(missing))}")
        return cls(con, columns)

    def _cursor(self):
        # One cursor per call: a DuckDB connection must not run two queries at once, cursors may.
        with self._lock:
            return self._con.cursor()

    # -- queries ----------------------------------------------------------------------------
    def _where(self, query: ClipQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, values in (("sign_language", query.languages), ("split", query.splits),
                               ("signer", query.signers)):
            if values and column in self.columns:
                clauses.append(f'"{column}" IN ({", ".join("?" * len(values))})')
                args.extend(values)
            elif values:
                clauses.append("FALSE")
        if query.q:
            searched = [c for c in TEXT_COLUMNS if c in self.columns]
            # contains() on lower-cased text: a plain substring, so %, _ and \ in q are literal.
            clauses.append("(" + " OR ".join(f'contains(lower("{c}"), ?)' for c in searched) + ")")
            args.extend([query.q.lower()] * len(searched))
        for bounds, op in ((query.minimum, ">="), (query.maximum, "<=")):
            for name, value in sorted(bounds.items()):
                column = f"qc_{name}"
                if column not in self.columns:
                    clauses.append("FALSE")
                    continue
                clauses.append(f'"{column}" {op} ?')
                args.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def _order(self, sort: str) -> str:
        if not sort:
            return ""
        descending = sort.startswith("-")
        column = sort.lstrip("-+")
        if column == "duration":
            expr = '("end" - "start")'
        elif column in self.columns:
            expr = f'"{column}"'
        else:
            raise QueryError(f"cannot sort by {column!r} (columns: duration, {', '.join(self.columns)})")
        # clip_id breaks ties so pages never overlap or skip rows.
        tie = ', "clip_id"' if column != "clip_id" else ""
        return f" ORDER BY {expr} {'DESC' if descending else 'ASC'} NULLS LAST{tie}"

    def count(self, query: ClipQuery) -> int:
        where, args = self._where(query)
        key = (where, tuple(args))
        with self._lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return self._counts[key]
        total = int(self._cursor().execute(f"SELECT count(*) FROM clips{where}", args).fetchone()[0])
        with self._lock:
            self._counts[key] = total
            if len(self._counts) > 256:
                self._counts.popitem(last=False)
        return total

    def page(self, query: ClipQuery) -> dict[str, Any]:
        """``{"total", "offset", "limit", "clips": [...]}`` for one page of the list."""
        if not 0 < query.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {query.limit}")
        if query.offset < 0:
            raise QueryError(f"offset must be >= 0, got {query.offset}")
        where, args = self._where(query)
        columns = [c for c in LIST_COLUMNS if c in self.columns]
        select = ", ".join(f'"{c}"' for c in columns)
        cursor = self._cursor()
        rows = cursor.execute(f"SELECT {select} FROM clips{where}{self._order(query.sort)} "
                              f"LIMIT ? OFFSET ?", [*args, query.limit, query.offset]).fetchall()
        clips = [{c: _jsonable(v) for c, v in zip(columns, row)} for row in rows]
        return {"total": self.count(query), "offset": query.offset, "limit": query.limit,
                "clips": clips}

    def row(self, clip_id: str) -> dict[str, Any] | None:
        """Every stored column of one clip, or None."""
        cursor = self._cursor()
        result = cursor.execute("SELECT * FROM clips WHERE clip_id = ? LIMIT 1", [clip_id])
        names = [d[0] for d in result.description]
        found = result.fetchone()
        return None if found is None else {n: _jsonable(v) for n, v in zip(names, found)}

    def __len__(self) -> int:
        return self.count(ClipQuery())

    def distinct(self, column: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The values of a column with their clip counts, most frequent first (for the filters)."""
        if column not in self.columns:
            return []
        rows = self._cursor().execute(
            f'SELECT "{column}", count(*) AS n FROM clips WHERE "{column}" IS NOT NULL '
            f'GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?', [limit]).fetchall()
        return [{"value": v, "clips": int(n)} for v, n in rows]

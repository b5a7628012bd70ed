"""The resume ledger: one row per video in an SQLite database (WAL mode) inside the corpus folder.

States: ``pending`` (known, not finished), ``running`` (an attempt is in flight; after a crash it
counts as pending), ``done`` (its clips are durably in a closed shard; never redone), ``failed``
(the last attempt failed; the one-line reason is kept; a later run tries again).

Only the parent process writes the ledger; every change is one committed transaction with
``synchronous=FULL``, so a ``kill -9`` loses at most the change being made. A ledger that is not
a healthy SQLite database (``PRAGMA quick_check``) or lacks the expected table is refused with a
one-line :class:`LedgerError` pointing at ``signverse repair``, which rebuilds it from the store
(:func:`repair_ledger`).

>>> import tempfile
>>> with Ledger(tempfile.mkdtemp()) as led:
...     led.register(["a", "b"])
...     attempt = led.start("a"); led.done("a", clips=3, frames=72, seconds=3.0)
...     led.counts()
2
{'pending': 1, 'running': 0, 'done': 1, 'failed': 0}
"""
from __future__ import annotations

import functools
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from signverse.core.errors import InputError
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

LEDGER_NAME = "ledger.sqlite"
STATES = ("pending", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    clips INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    frames INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    sign_language TEXT,
    source TEXT,
    info TEXT,
    updated REAL
);
CREATE INDEX IF NOT EXISTS videos_state ON videos(state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


_COLUMNS = ("video_id", "state", "attempts", "reason", "clips", "rejected", "frames", "seconds",
            "sign_language", "source", "info", "updated")


class LedgerError(InputError):
    """The ledger cannot be used (corrupt, not a database, disk full); one line, no traceback."""


def _problem(path: Path, exc: sqlite3.Error) -> LedgerError:
    text = " ".join(str(exc).split())
    if "locked" in text or "busy" in text:
        return LedgerError(path, f"extraction ledger is busy ({text}); is another run using it?")
    if "disk is full" in text or "disk I/O" in text:
        return LedgerError(path, f"cannot write the extraction ledger ({text}); free space and rerun")
    return LedgerError(path, f"corrupt or unreadable extraction ledger ({text}); run "
                             f"'signverse repair {path.parent}' to rebuild it from the corpus shards")


def _sql(method):
    """Turn SQLite errors of a ledger method into one-line LedgerErrors."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _problem(self.path, exc) from None
    return wrapper


@dataclass(frozen=True)
class VideoState:
    """One ledger row."""

    video_id: str
    state: str
    attempts: int
    reason: str | None
    clips: int
    rejected: int
    frames: int
    seconds: float
    sign_language: str | None
    source: str | None
    info: dict[str, Any]
    updated: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ledger:
    """Per-video processing state of one corpus folder (see the module docstring)."""

    def __init__(self, corpus_dir: str | Path, *, create: bool = True):
        self.dir = Path(corpus_dir)
        self.path = self.dir / LEDGER_NAME
        if not create and not self.path.is_file():
            raise InputError(self.dir, f"no extraction ledger here ({LEDGER_NAME} missing)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._db = None
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            check = self._db.execute("PRAGMA quick_check").fetchall()
            if [r[0] for r in check] != ["ok"]:
                raise sqlite3.DatabaseError("integrity check failed: " + "; ".join(str(r[0]) for r in check[:3]))
            self._db.executescript(_SCHEMA)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(videos)")}
            if not set(_COLUMNS) <= columns:
                raise sqlite3.DatabaseError(f"table 'videos' lacks {sorted(set(_COLUMNS) - columns)}")
        except sqlite3.Error as exc:
            if self._db is not None:
                self._db.close()
            raise _problem(self.path, exc) from None

    # -- context manager -----------------------------------------------------------------------
    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @_sql
    def _tx(self, sql: str, rows: Iterable[tuple] | tuple = ()) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(rows, tuple):
                self._db.execute(sql, rows)
            else:
                self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # -- writes -------------------------------------------------------------------------------
    @_sql
    def register(self, video_ids: Iterable[str], *, languages: dict[str, str | None] | None = None,
                 sources: dict[str, str | None] | None = None) -> int:
        """Add unknown videos as ``pending`` (known ones keep their state); returns the new count."""
        languages, sources = languages or {}, sources or {}
        before = self._count()
        now = time.time()
        self._tx("INSERT OR IGNORE INTO videos (video_id, state, sign_language, source, updated) "
                 "VALUES (?, 'pending', ?, ?, ?)",
                 [(v, languages.get(v), sources.get(v), now) for v in video_ids])
        return self._count() - before

    @_sql
    def start(self, video_id: str) -> int:
        """Mark an attempt as started; returns the attempt number."""
        self._tx("INSERT INTO videos (video_id, state, attempts, updated) VALUES (?, 'running', 1, ?) "
                 "ON CONFLICT(video_id) DO UPDATE SET state='running', attempts=attempts+1, updated=?",
                 (video_id, time.time(), time.time()))
        return int(self._db.execute("SELECT attempts FROM videos WHERE video_id=?",
                                    (video_id,)).fetchone()[0])

    def done(self, video_id: str, *, clips: int, frames: int, seconds: float, rejected: int = 0,
             info: dict[str, Any] | None = None) -> None:
        """The video's clips are durably stored: it will never be processed again."""
        self._tx("UPDATE videos SET state='done', reason=NULL, clips=?, rejected=?, frames=?, seconds=?, "
                 "info=?, updated=? WHERE video_id=?",
                 (int(clips), int(rejected), int(frames), float(seconds), json_dumps(info or {}),
                  time.time(), video_id))

    def fail(self, video_id: str, reason: str) -> None:
        """Record a failed attempt with a one-line reason."""
        one_line = " ".join(str(reason).split())[:500]
        self._tx("UPDATE videos SET state='failed', reason=?, updated=? WHERE video_id=?",
                 (one_line, time.time(), video_id))

    def reset_attempts(self, video_ids: Iterable[str]) -> None:
        """Give failed videos a fresh retry budget (a new run)."""
        self._tx("UPDATE videos SET attempts=0 WHERE video_id=? AND state != 'done'",
                 [(v,) for v in video_ids])

    @_sql
    def set_meta(self, key: str, value: Any) -> None:
        self._tx("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json_dumps(value)))

    # -- reads --------------------------------------------------------------------------------
    @_sql
    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @_sql
    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM videos").fetchone()[0])

    @_sql
    def state(self, video_id: str) -> str | None:
        row = self._db.execute("SELECT state FROM videos WHERE video_id=?", (video_id,)).fetchone()
        return None if row is None else row[0]

    @_sql
    def done_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT video_id FROM videos WHERE state='done'")}

    @_sql
    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM videos GROUP BY state"):
            out[state] = int(n)
        return out

    @_sql
    def rows(self, state: str | None = None) -> list[VideoState]:
        sql = ("SELECT video_id, state, attempts, reason, clips, rejected, frames, seconds, sign_language, "
               "source, info, updated FROM videos")
        args: tuple = ()
        if state is not None:
            sql += " WHERE state=?"
            args = (state,)
        out = []
        for r in self._db.execute(sql + " ORDER BY video_id", args):
            out.append(VideoState(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), int(r[6]), float(r[7]),
                                  r[8], r[9], json.loads(r[10]) if r[10] else {}, r[11]))
        return out

    @_sql
    def totals(self) -> dict[str, float]:
        clips, rejected, frames, seconds = self._db.execute(
            "SELECT COALESCE(SUM(clips),0), COALESCE(SUM(rejected),0), COALESCE(SUM(frames),0), "
            "COALESCE(SUM(seconds),0) FROM videos WHERE state='done'").fetchone()
        return {"clips": int(clips), "rejected_clips": int(rejected), "frames": int(frames),
                "hours": float(seconds) / 3600.0}

    # -- repair -------------------------------------------------------------------------------
    @_sql
    def restore(self, rows: Iterable[tuple], meta: Iterable[tuple] = ()) -> None:
        """Insert raw ``videos`` rows (in ``_COLUMNS`` order) and meta rows salvaged elsewhere."""
        self._tx(f"INSERT OR REPLACE INTO videos ({', '.join(_COLUMNS)}) VALUES "
                 f"({', '.join('?' * len(_COLUMNS))})", list(rows))
        self._tx("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta))

    @_sql
    def reconcile(self, stored: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Make the ledger agree with the clips in the store's shards; returns what changed.

        A video with clips in a closed shard is done (its clips are durable: shards end on video
        boundaries). A video the ledger calls done with clips but none of them stored (e.g. lost
        to a second writer before locking existed) becomes pending, so the next run redoes it.
        """
        rows = {r.video_id: r for r in self.rows()}
        now = time.time()
        to_done = [(int(v["clips"]), int(v.get("frames", 0)), json_dumps({"repaired": True}), now, vid)
                   for vid, v in stored.items() if vid not in rows or rows[vid].state != "done"]
        self._tx("INSERT OR IGNORE INTO videos (video_id, state, updated) VALUES (?, 'pending', ?)",
                 [(t[-1], now) for t in to_done])
        self._tx("UPDATE videos SET state='done', reason=NULL, clips=?, frames=?, info=?, updated=? "
                 "WHERE video_id=?", to_done)
        lost = [vid for vid, r in rows.items() if r.state == "done" and r.clips > 0 and vid not in stored]
        self._tx("UPDATE videos SET state='pending', reason='repair: its clips are not in the shards', "
                 "updated=? WHERE video_id=?", [(now, vid) for vid in lost])
        out = []
        if to_done:
            out.append(f"ledger: {len(to_done)} video(s) with stored clips marked done")
        if lost:
            out.append(f"ledger: {len(lost)} video(s) marked done but without stored clips set to "
                       f"pending (the next run redoes them), e.g. {', '.join(sorted(lost)[:3])}")
        return out


def _salvage(path: Path) -> tuple[list[tuple], list[tuple]]:
    """Whatever rows a damaged ledger still yields (none when SQLite cannot read it at all)."""
    rows: list[tuple] = []
    meta: list[tuple] = []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return rows, meta
    try:
        for sql, out in ((f"SELECT {', '.join(_COLUMNS)} FROM videos", rows),
                         ("SELECT key, value FROM meta", meta)):
            try:
                for row in db.execute(sql):
                    out.append(tuple(row))
            except sqlite3.Error as exc:   # keep what came before the damaged page
                log.info("%s: salvage stopped after %d rows: %s", path, len(out), exc)
    finally:
        db.close()
    return rows, meta


def repair_ledger(corpus_dir: str | Path, stored: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Rebuild or reconcile ``ledger.sqlite`` from the store; returns what was done (one line each).

    ``stored`` maps each video id with clips in the shards to ``{"clips": n, "frames": n}`` (as
    :func:`signverse.io.corpus.repair.repair_corpus` reports it). A damaged ledger is kept beside
    (``ledger.sqlite.corrupt-<time>``), its readable rows are salvaged into a fresh ledger, and
    the result is reconciled with the shards. Call it with the corpus's writer lock held.
    """
    folder = Path(corpus_dir)
    path = folder / LEDGER_NAME
    if not path.is_file():
        return ["ledger: none (not built by 'signverse extract'); nothing to repair"]
    actions = []
    try:
        ledger = Ledger(folder, create=False)
    except LedgerError as exc:
        rows, meta = _salvage(path)
        aside = path.with_name(f"{LEDGER_NAME}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(f"{aside}{suffix}")
        actions.append(f"ledger: damaged ({exc.problem.split(';')[0]}); kept as {aside.name}, "
                       f"{len(rows)} row(s) salvaged into a new ledger")
        ledger = Ledger(folder)
        ledger.restore(rows, meta)
    with ledger:
        actions += ledger.reconcile(stored)
    if len(actions) == 0:
        actions.append("ledger: healthy and in step with the shards")
    return actions

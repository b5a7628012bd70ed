"""The resume ledger: one row per video in an SQLite database (WAL mode) inside the corpus folder.

States: ``pending`` (known, not finished), ``running`` (an attempt is in flight; after a crash it
counts as pending), ``done`` (its clips are durably in a closed shard; never redone), ``failed``
(the last attempt failed; the one-line reason is kept; a later run tries again).

Only the parent process writes the ledger; every change is one committed transaction with
``synchronous=FULL``, so a ``kill -9`` loses at most the change being made.

>>> import tempfile
>>> with Ledger(tempfile.mkdtemp()) as led:
...     led.register(["a", "b"])
...     attempt = led.start("a"); led.done("a", clips=3, frames=72, seconds=3.0)
...     led.counts()
2
{'pending': 1, 'running': 0, 'done': 1, 'failed': 0}
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from signverse.core.errors import InputError
from signverse.core.jsonio import dumps as json_dumps

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
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    # -- context manager -----------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _tx(self, sql: str, rows: Iterable[tuple] | tuple = ()) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(rows, tuple):
                self._db.execute(sql, rows)
            else:
                self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- writes -------------------------------------------------------------------------------
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

    def set_meta(self, key: str, value: Any) -> None:
        self._tx("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json_dumps(value)))

    # -- reads --------------------------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM videos").fetchone()[0])

    def state(self, video_id: str) -> str | None:
        row = self._db.execute("SELECT state FROM videos WHERE video_id=?", (video_id,)).fetchone()
        return None if row is None else row[0]

    def done_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT video_id FROM videos WHERE state='done'")}

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self._db.execute("SELECT state, COUNT(*) FROM videos GROUP BY state"):
            out[state] = int(n)
        return out

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

    def totals(self) -> dict[str, float]:
        clips, rejected, frames, seconds = self._db.execute(
            "SELECT COALESCE(SUM(clips),0), COALESCE(SUM(rejected),0), COALESCE(SUM(frames),0), "
            "COALESCE(SUM(seconds),0) FROM videos WHERE state='done'").fetchone()
        return {"clips": int(clips), "rejected_clips": int(rejected), "frames": int(frames),
                "hours": float(seconds) / 3600.0}

"""What the viewer shows: any PATH signverse reads, opened as a corpus store.

A corpus is used in place. A release (``.tar`` or folder), a folder of pose files or one pose file
is read once through :func:`signverse.io.sources.iter_items` into a private temporary corpus (one
clip per sequence, with QC figures), so the list, the player and the statistics work the same for
every source and memory stays bounded by one sequence. Nothing under PATH is written.

Source videos are found by id only: a corpus's ledger records each video's file, a pose file may
have a video of the same name beside it, and ``videos=DIR`` adds ``DIR/<video_id>.<ext>``. The
viewer never opens a path taken from a request.

>>> # source = open_source("demo-out/corpus"); source.table.page(ClipQuery(limit=5))
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.view.query import ClipQuery, ClipTable

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v", ".ogv")


class UnknownId(InputError):
    """A clip, video or field the source does not hold (the API answers 404)."""

    def __init__(self, what: str, value: str):
        super().__init__(None, f"unknown {what} {value!r}")


def _video_files(folder: Path) -> dict[str, Path]:
    """``stem -> file`` for the video files directly inside a folder."""
    if not folder.is_dir():
        raise InputError(folder, "no such folder of videos")
    return {p.stem: p.resolve() for p in sorted(folder.iterdir())
            if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()}


class ViewSource:
    """One opened PATH: the clip table (DuckDB), poses by id, videos by id, statistics."""

    def __init__(self, path: str | Path, *, videos: str | Path | None = None,
                 workdir: str | Path | None = None):
        from signverse.io import hub
        from signverse.io.corpus import open_corpus
        from signverse.io.sources import source_kind
        # hf:// tar shards are streamed; other hf:// paths are read from the Hub cache.
        self.path = path if hub.is_hub_path(path) else Path(path)
        self.name = str(path).rstrip("/").rsplit("/", 1)[-1]
        self.kind = source_kind(self.path)
        self._tmp: Path | None = None
        self._videos: dict[str, Path] = {}
        self.failures: list[str] = []    # sequences of PATH that could not be opened
        if self.kind == "corpus":
            root = hub.localize(self.path)
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="signverse-view-", dir=workdir))
            root = self._tmp / "corpus"
            try:
                self._import(root)
            except BaseException:
                self.close()
                raise
        self.corpus = open_corpus(root)
        self.table = ClipTable.from_parquet(self.corpus.clips_path(s) for s in self.corpus.shards)
        if videos is not None:
            self._videos.update(_video_files(Path(videos)))
        self._ledger = root / "ledger.sqlite" if self.kind == "corpus" else None
        self._lock = threading.Lock()    # the corpus reader keeps an LRU of open files
        self._stats: dict[str, Any] | None = None

    # -- building the private corpus ---------------------------------------------------------
    def _import(self, root: Path) -> None:
        from signverse.core.records import Clip
        from signverse.io.corpus import CorpusWriter
        from signverse.io.sources import iter_items
        from signverse.io.transcode import safe_name
        from signverse.ops.persons import select_person
        from signverse.pipeline.qc import clip_qc
        failures: list = []      # unreadable sequences (signverse.io.sources.Failure)
        rejected: list[str] = []  # read, but not storable
        written = 0
        with CorpusWriter(root, shard_clips=256) as writer:
            for item in iter_items(self.path, failures):
                name = safe_name(item.name)
                pose = item.pose
                try:
                    signer = select_person(pose)[0] if pose.n_persons > 1 else pose
                    qc = clip_qc(signer, pose.persons_per_frame()) if pose.n_persons else {}
                    video_id = safe_name(item.meta.get("video_id") or name)
                    written += writer.add(Clip(clip_id=name, video_id=video_id, start=0.0,
                                               end=pose.duration, text=_caption_text(item.meta),
                                               qc=qc, pose=pose))
                except SignverseError as exc:
                    rejected.append(f"{item.name}: {exc}")
                    continue
                if "path" in item.meta:
                    self._add_sibling_video(video_id, Path(item.meta["path"]))
        self.failures = [f"{f.name}: {f.reason}" for f in failures] + rejected
        if not written:
            raise InputError(self.path, "no pose sequence could be read" +
                             (f" ({self.failures[0]})" if self.failures else ""))
        log.info("%s: %d sequences opened (%d unreadable)", self.path, written, len(self.failures))

    def _add_sibling_video(self, video_id: str, pose_path: Path) -> None:
        for suffix in VIDEO_SUFFIXES:
            candidate = pose_path.with_suffix(suffix)
            if candidate.is_file():
                self._videos.setdefault(video_id, candidate.resolve())
                return

    # -- lookups by id -----------------------------------------------------------------------
    def clip(self, clip_id: str) -> dict[str, Any]:
        """Every metadata column of a clip, with QC as a dict and the video's availability."""
        import json
        row = self.table.row(clip_id)
        if row is None:
            raise UnknownId("clip", clip_id)
        qc = {k[3:]: v for k, v in row.items() if k.startswith("qc_") and k != "qc_extra"}
        extra = row.pop("qc_extra", None)
        if extra:
            try:
                qc.update(json.loads(extra))
            except ValueError:
                log.warning("clip %s: unreadable qc_extra", clip_id)
        row["qc"] = qc
        row["duration"] = _duration(row)
        row["video"] = self.video_path(row.get("video_id")) is not None
        row["fields"] = self.corpus.fields()
        return row

    def pose(self, clip_id: str, field: str | None = None) -> PoseSeq:
        if field is not None and field not in self.corpus.fields():
            raise UnknownId("pose field", field)
        with self._lock:
            clip = self.corpus.get(clip_id, field=field)
        if clip is None:
            raise UnknownId("clip", clip_id)
        if clip.pose is None:
            raise UnknownId("pose of clip", clip_id)
        return clip.pose

    def only_clip(self) -> str | None:
        """The id of the only clip, when the source holds exactly one."""
        page = self.table.page(ClipQuery(limit=2))
        return page["clips"][0]["clip_id"] if page["total"] == 1 else None

    def video_path(self, video_id: str | None) -> Path | None:
        """The source video file of a video id, when it is known and exists."""
        if not video_id:
            return None
        path = self._videos.get(video_id)
        if path is None and self._ledger is not None and self._ledger.is_file():
            path = self._ledger_video(video_id)
        if path is not None and path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            return path
        return None

    def _ledger_video(self, video_id: str) -> Path | None:
        # Read-only: the viewer must never create WAL files or change the ledger.
        try:
            con = sqlite3.connect(f"{self._ledger.resolve().as_uri()}?mode=ro", uri=True)
            try:
                row = con.execute("SELECT source FROM videos WHERE video_id = ?", [video_id]).fetchone()
            finally:
                con.close()
        except sqlite3.Error as exc:
            log.warning("%s: cannot read the ledger (%s)", self._ledger, exc)
            return None
        if not row or not row[0] or "://" in row[0]:
            return None
        source = Path(row[0])
        if source.is_absolute():
            return source.resolve()
        # A relative path is relative to where `extract` ran: most often here, else beside the corpus.
        corpus = self._ledger.parent
        for base in (Path.cwd(), corpus.parent, corpus):
            if (base / source).is_file():
                return (base / source).resolve()
        return None

    def stats(self) -> dict[str, Any]:
        """What ``signverse stats --json`` prints for this source (computed once)."""
        if self._stats is None:
            from signverse.pipeline.stats import corpus_stats
            stats = corpus_stats(self.corpus.root)
            stats["source"] = str(self.path)
            self._stats = stats
        return self._stats

    def info(self) -> dict[str, Any]:
        return {"path": str(self.path), "name": self.name, "kind": self.kind,
                "clips": len(self.table), "fields": self.corpus.fields(),
                "default_field": self.corpus.field, "columns": self.table.columns,
                "languages": self.table.distinct("sign_language"),
                "splits": self.table.distinct("split"), "failures": self.failures[:100]}

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "ViewSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _caption_text(meta: dict[str, Any]) -> str | None:
    captions = meta.get("captions")
    segments = getattr(captions, "segments", None)
    if segments:
        return " ".join(s.text for s in segments)[:2000] or None
    return None


def _duration(row: dict[str, Any]) -> float | None:
    start, end = row.get("start"), row.get("end")
    if start is not None and end is not None and end > start:
        return float(end - start)
    fps, frames = row.get("fps"), row.get("n_frames")
    return float(frames / fps) if fps and frames else None


def open_source(path: str | Path, **options) -> ViewSource:
    """Open a corpus, a release ``.tar`` or folder, a folder of pose files or one pose file."""
    return ViewSource(path, **options)

"""Acquisition: download videos and their subtitles with yt-dlp into a bounded cache.

Subtitles follow the SignVerse-2M release: every manual track, the native automatic track (YouTube
marks it ``<lang>-orig``; otherwise the video's own language), and one English automatic
translation. Files are saved as ``<cache>/<video_id>/<video_id>.<ext>`` and
``<video_id>.<lang>.vtt`` (the release's caption names).

:class:`Prefetcher` fetches ahead in a background thread but stops while the cache holds
``max_videos`` videos (or ``max_bytes`` bytes) that have not been processed yet; each processed
video is ``release``d, which deletes its files unless ``keep`` is set. Download failures are
passed on as results (with a one-line reason), never raised into the pipeline.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from signverse.core.errors import InputError, require
from signverse.core.records import VideoRecord
from signverse.pipeline.inputs import CAPTION_SUFFIXES

log = logging.getLogger(__name__)

DEFAULT_FORMAT = "best[height<=720]/bestvideo[height<=720]/best"


@dataclass(frozen=True)
class Fetched:
    """A video made local: the record (with ``path`` and ``captions`` filled) or why it failed."""

    record: VideoRecord
    error: str | None = None
    nbytes: int = 0
    downloaded: bool = False


class _YtdlpLog:
    """Route yt-dlp's messages to logging instead of stdout (the CLI owns the terminal)."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        log.info(msg)

    def error(self, msg: str) -> None:
        log.info(msg)


def choose_subtitle_languages(info: dict) -> list[str]:
    """Manual tracks, the native automatic track and one English automatic translation."""
    manual = [k for k in (info.get("subtitles") or {}) if k != "live_chat"]
    auto = info.get("automatic_captions") or {}
    chosen = list(manual)
    native = [k for k in auto if k.endswith("-orig")]
    if not native and info.get("language") in auto:
        native = [info["language"]]
    chosen += [k for k in native if k not in chosen]
    if not any(k == "en" or k.startswith("en-") for k in chosen):
        english = next((k for k in ("en", "en-US", "en-GB") if k in auto), None)
        if english:
            chosen.append(english)
    return chosen


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# Written into every cache folder the downloader creates: only folders carrying it are ever
# reused or deleted, so a manifest id equal to a folder the user keeps in --cache-dir never
# costs them that folder.
CREATED_MARKER = ".signverse-download"


class Downloader:
    """Fetches one URL (video + subtitles) into ``cache_dir/<video_id>/`` with yt-dlp."""

    def __init__(self, cache_dir: str | Path, *, format: str = DEFAULT_FORMAT, subtitles: bool = True,
                 socket_timeout: float = 30.0, retries: int = 2, ytdlp_options: dict | None = None):
        require("yt_dlp", "download")
        self.cache_dir = Path(cache_dir)
        self.format = format
        self.subtitles = subtitles
        self.options = {"socket_timeout": socket_timeout, "retries": retries, **(ytdlp_options or {})}

    def fetch(self, record: VideoRecord) -> Fetched:
        """Download ``record.url``; raises ``InputError`` with the reason on failure."""
        import yt_dlp
        if not record.url:
            raise InputError(record.video_id, "no path and no url to download")
        target = self.cache_dir / record.video_id
        if target.parent != self.cache_dir or record.video_id in ("", ".", ".."):
            raise InputError(record.video_id, "video id is not a plain folder name; not downloading")
        if target.exists() or target.is_symlink():
            if not self.created(record.video_id):
                raise InputError(target, "exists in the download cache but was not created by "
                                         "signverse; not touching it (use another --cache-dir)")
            existing = self._local(record, target)
            if existing is not None:
                return existing
        else:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            try:
                target.mkdir()
            except FileExistsError:   # appeared just now: someone else's
                raise InputError(target, "appeared in the download cache meanwhile; not touching it") from None
            (target / CREATED_MARKER).write_text("created by signverse to cache one download\n")
        opts = {
            "outtmpl": {"default": str(target / f"{record.video_id}.%(ext)s"),
                        "subtitle": str(target / f"{record.video_id}.%(ext)s")},
            "format": self.format, "quiet": True, "no_warnings": True, "noprogress": True,
            "noplaylist": True, "logger": _YtdlpLog(), "overwrites": True,
            "writesubtitles": self.subtitles, "writeautomaticsub": self.subtitles,
            "subtitlesformat": "vtt/best", "subtitleslangs": [], **self.options,
        }
        try:
            with yt_dlp.YoutubeDL(opts) as ydl:
                info = ydl.extract_info(record.url, download=False)
                if info.get("_type") in ("playlist", "multi_video"):
                    entries = [e for e in info.get("entries") or [] if e]
                    if not entries:
                        raise InputError(record.url, "the page holds no video")
                    info = entries[0]
                if self.subtitles:
                    ydl.params["subtitleslangs"] = choose_subtitle_languages(info)
                ydl.process_ie_result(info, download=True)
        except InputError:
            self.remove(record.video_id)
            raise
        except Exception as exc:  # yt-dlp raises DownloadError/ExtractorError/OSError...
            self.remove(record.video_id)
            message = " ".join(str(exc).split()).replace("ERROR: ", "")
            raise InputError(record.url, f"download failed: {message}") from None
        fetched = self._local(record, target)
        if fetched is None:
            self.remove(record.video_id)
            raise InputError(record.url, "download produced no video file")
        return dataclasses.replace(fetched, downloaded=True)

    def _local(self, record: VideoRecord, target: Path) -> Fetched | None:
        """What a finished earlier download left in ``target`` (a resumed run reuses it)."""
        if not target.is_dir():
            return None
        files = [p for p in sorted(target.iterdir()) if p.is_file()]
        videos = [p for p in files if p.suffix.lower() not in CAPTION_SUFFIXES + (".part", ".ytdl", ".json")
                  and not p.name.endswith(".part") and p.stem == record.video_id]
        if not videos:
            return None
        captions = tuple(str(p) for p in files if p.suffix.lower() in CAPTION_SUFFIXES)
        rec = dataclasses.replace(record, path=str(videos[0]),
                                  captions=record.captions or captions)
        return Fetched(rec, nbytes=_dir_bytes(target))

    def created(self, video_id: str) -> bool:
        """Whether ``cache_dir/<video_id>`` is a real folder this downloader created (marked)."""
        target = self.cache_dir / video_id
        return (target.parent == self.cache_dir and not target.is_symlink() and target.is_dir()
                and (target / CREATED_MARKER).is_file())

    def remove(self, video_id: str) -> None:
        """Delete a cache folder, only if this program created it (see CREATED_MARKER)."""
        if self.created(video_id):
            shutil.rmtree(self.cache_dir / video_id, ignore_errors=True)
        else:
            log.debug("not removing %s: not created by signverse", self.cache_dir / video_id)


_END = object()


class Prefetcher:
    """Iterate records as local files, downloading URL records ahead in a thread (bounded).

    Records that already have a ``path`` pass through untouched. Call :meth:`release` once a
    yielded video has been processed; that frees its cache slot (and deletes its files unless
    ``keep``).
    """

    def __init__(self, records: Iterable[VideoRecord], downloader: Downloader | None, *,
                 max_videos: int = 4, max_bytes: int | None = None, keep: bool = False):
        self.records = records
        self.downloader = downloader
        self.max_videos = max(1, int(max_videos))
        self.max_bytes = max_bytes
        self.keep = keep
        self._cond = threading.Condition()
        self._held: dict[str, int] = {}          # video_id -> bytes in the cache, not yet processed
        self._out: queue.Queue = queue.Queue()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="signverse-prefetch", daemon=True)
        self.peak_videos = 0
        self.peak_bytes = 0
        self.exhausted = False

    def _full(self) -> bool:
        if not self._held:
            return False   # one video always fits, however large
        if len(self._held) >= self.max_videos:
            return True
        return self.max_bytes is not None and sum(self._held.values()) >= self.max_bytes

    def _run(self) -> None:
        try:
            for rec in self.records:
                if self._stop:
                    break
                if rec.path or self.downloader is None:
                    self._out.put(Fetched(rec))
                    continue
                with self._cond:
                    while self._full() and not self._stop:
                        self._cond.wait(0.5)
                if self._stop:
                    break
                try:
                    fetched = self.downloader.fetch(rec)
                except InputError as exc:
                    self._out.put(Fetched(rec, error=str(exc.problem)))
                    continue
                with self._cond:
                    self._held[rec.video_id] = fetched.nbytes
                    self.peak_videos = max(self.peak_videos, len(self._held))
                    self.peak_bytes = max(self.peak_bytes, sum(self._held.values()))
                self._out.put(fetched)
        except BaseException as exc:  # never leave the consumer waiting forever
            log.error("prefetch stopped: %s", exc)
        finally:
            self._out.put(_END)

    def start(self) -> "Prefetcher":
        if not self._thread.is_alive() and not self.exhausted:
            self._thread.start()
        return self

    def get(self, timeout: float | None = None) -> Fetched | None:
        """The next local video; ``None`` when none is ready within ``timeout`` or all are out."""
        if self.exhausted:
            return None
        try:
            item = self._out.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self.exhausted = True
            return None
        return item

    def __iter__(self) -> Iterator[Fetched]:
        self.start()
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    def release(self, video_id: str) -> None:
        """The video is processed: free its slot; delete its downloaded files unless ``keep``."""
        with self._cond:
            held = self._held.pop(video_id, None)
            self._cond.notify_all()
        if held is not None and not self.keep and self.downloader is not None:
            self.downloader.remove(video_id)

    def held(self) -> int:
        with self._cond:
            return len(self._held)

    def close(self) -> None:
        self._stop = True
        with self._cond:
            self._cond.notify_all()

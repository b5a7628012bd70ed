"""Publishing SignVerse-compatible output: video folders and ``Sign_DWPose_NPZ_*.tar`` shards.

A video folder holds ``npz/poses.npz``, ``npz/.complete`` (written last: it marks the folder
done), ``captions/<id>.<lang>.vtt`` and ``captions/<id>.captions.json``. Its name is the video id
when that is a plain file name, else a bounded, hashed form of it (see
:func:`~signverse.io.signverse2m.release.folder_name`); ``.complete`` and ``poses.npz`` keep the
id itself, and the reader maps such folders back to it.

:class:`ShardWriter` appends video folders to plain tar shards. A shard is written as
``Sign_DWPose_NPZ_000001.tar.tmp`` and renamed when it closes, so a published ``.tar`` is always
complete. Reopening the same directory continues with the next shard number and skips video ids
that are already in a published shard; a ``.tmp`` left by a crash is discarded (its videos were
never published).

One writer per directory: a :class:`ShardWriter` holds the folder's writer lock
(``<out_dir>/.release-writer.lock``, the corpus store's ``fcntl.flock`` lock,
:class:`~signverse.io.corpus.lock.CorpusLock`) from opening to :meth:`ShardWriter.close`. A second
writer, in this or another process, is refused with a one-line error naming the folder and the
holder (pid, host, command); the kernel drops the lock when its holder dies, even by ``kill -9``,
so a crashed writer leaves no stale lock, and the next writer removes its unfinished ``.tmp``
shard. A shard is published with an exclusive create, so a finished shard is never replaced.

>>> # with ShardWriter("dataset") as shards:
>>> #     shards.add_video("abc123", pose, captions={"en": segments})
"""
from __future__ import annotations

import io
import logging
import os
import tarfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.core.records import Segment
from signverse.io.captions import captions_json_dict, format_vtt, parse_vtt
from signverse.io.signverse2m.complete import format_complete
from signverse.io.signverse2m.poses import poses_npz_bytes
from signverse.io.signverse2m.release import SHARD_PATTERN, _member_problem, _split_member, folder_name
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

SHARD_PREFIX = "Sign_DWPose_NPZ_"
RELEASE_LOCK_NAME = ".release-writer.lock"   # not the corpus's name: a folder may be both
_BLOCK = 512


def video_folder_files(video_id: str, pose: PoseSeq, *,
                       captions: Mapping[str, Sequence[Segment]] | None = None,
                       vtt: Mapping[str, str] | None = None,
                       complete: Mapping[str, object] | None = None,
                       frame_indices: Sequence[int] | None = None) -> dict[str, bytes]:
    """The files of one video folder as ``{relative path: bytes}`` (``.complete`` last).

    File names use :func:`folder_name` of ``video_id``; the id itself is stored inside.
    """
    _check_id(video_id)
    name = folder_name(video_id)
    files: dict[str, bytes] = {"npz/poses.npz": poses_npz_bytes(pose, video_id=video_id,
                                                                frame_indices=frame_indices)}
    captions = dict(captions or {})
    vtt = dict(vtt or {})
    for lang in sorted(set(captions) | set(vtt)):
        _check_language(lang)
        text = vtt[lang] if lang in vtt else format_vtt(captions[lang])
        files[f"captions/{name}.{lang}.vtt"] = text.encode("utf-8")
    if captions or vtt:
        if set(vtt) - set(captions):
            for lang in set(vtt) - set(captions):
                captions[lang] = parse_vtt(vtt[lang], language=lang)
        captions = {lang: captions[lang] for lang in sorted(captions)}
        doc = captions_json_dict(video_id, captions,
                                 vtt_paths={k: f"{name}.{k}.vtt" for k in captions})
        files[f"captions/{name}.captions.json"] = json_dumps(doc, ensure_ascii=False,
                                                                  indent=1).encode("utf-8")
    marker = {"video_id": video_id, "fps": round(pose.fps), "frames": pose.n_frames,
              "output_mode": "single_npz", "decode_mode": f"fps{round(pose.fps)}",
              "writer": "signverse"}
    marker.update(complete or {})
    marker["completed_at"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    files["npz/.complete"] = format_complete(marker).encode("utf-8")
    return files


def _check_id(value: str, what: str = "video id") -> None:
    """Ids are stored in ``.complete`` lines: they must be one line (file names come from
    :func:`folder_name`, so any other id is fine)."""
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value:
        raise InputError(None, f"bad {what} {str(value)[:80]!r} (empty or not one line)")


def _check_language(value: str) -> None:
    if not value or "/" in value or "\\" in value or value in (".", "..") or value.startswith(".") \
            or len(value) > 64:
        raise InputError(None, f"bad language {value[:80]!r} (it becomes part of a file name)")


def write_video_folder(root: str | Path, video_id: str, pose: PoseSeq, *,
                       captions: Mapping[str, Sequence[Segment]] | None = None,
                       vtt: Mapping[str, str] | None = None,
                       complete: Mapping[str, object] | None = None,
                       frame_indices: Sequence[int] | None = None) -> Path:
    """Write ``<root>/<video_id>/`` in the release layout; returns the folder.

    ``captions`` maps language -> segments (rendered to VTT and captions.json); ``vtt`` maps
    language -> WebVTT text to store as is (parsed for captions.json when no segments are given).
    ``complete`` adds/overrides ``.complete`` entries. Each file is written atomically and
    ``npz/.complete`` last, so a folder without it is unfinished.
    """
    folder = Path(root) / folder_name(video_id)
    files = video_folder_files(video_id, pose, captions=captions, vtt=vtt, complete=complete,
                               frame_indices=frame_indices)
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return folder


def _tar_size(files: Mapping[str, bytes]) -> int:
    return sum(_BLOCK + -(-len(d) // _BLOCK) * _BLOCK for d in files.values()) + 3 * _BLOCK


class ShardWriter:
    """Append video folders to ``<out_dir>/Sign_DWPose_NPZ_NNNNNN.tar`` shards.

    A shard closes after ``max_videos`` videos or before it would exceed ``max_bytes`` (a single
    larger video gets a shard of its own). ``published`` holds the ids in closed shards (found by
    scanning them on open); ``add_*`` return False for an id already written. One writer per
    directory at a time: the folder's writer lock is taken before anything is read or removed
    (a second writer raises :class:`~signverse.io.corpus.lock.CorpusLocked`) and released by
    :meth:`close`.
    """

    def __init__(self, out_dir: str | Path, *, max_videos: int = 40, max_bytes: int = 10 << 30,
                 prefix: str = SHARD_PREFIX):
        if max_videos < 1 or max_bytes < 1:
            raise InputError(out_dir, "max_videos and max_bytes must be positive")
        from signverse.io.corpus.lock import CorpusLock, write_error
        self.out_dir = Path(out_dir)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.out_dir, exc) from None
        # Before the scan: it removes unfinished shards, which are only stale when nobody holds the lock.
        self._lock = CorpusLock(self.out_dir, RELEASE_LOCK_NAME, what="release shards folder").acquire()
        self.max_videos, self.max_bytes, self.prefix = max_videos, max_bytes, prefix
        self.published: set[str] = set()
        self.shards: list[Path] = []          # shards closed by this writer
        self._tar: tarfile.TarFile | None = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._ids: list[str] = []
        self._bytes = 0
        try:
            self._next = 1 + self._scan()
        except BaseException:
            self._lock.release()
            raise

    def _scan(self) -> int:
        pattern = SHARD_PATTERN if self.prefix == SHARD_PREFIX else None
        last = 0
        for path in sorted(self.out_dir.iterdir()):
            name = path.name
            if name.startswith(self.prefix) and name.endswith(".tar.tmp"):
                log.warning("%s: unfinished shard from an interrupted run; discarded", path)
                path.unlink()
                continue
            stem = name[len(self.prefix):-4] if name.startswith(self.prefix) and name.endswith(".tar") else ""
            if pattern is not None and not pattern.match(name) or not stem.isdigit():
                continue
            last = max(last, int(stem))
            try:
                with tarfile.open(path, "r:") as tar:
                    for member in tar:
                        video_id, _ = _split_member(member.name)
                        if video_id and not _member_problem(member):
                            self.published.add(video_id)
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise InputError(path, f"published shard is unreadable ({exc}); fix or remove it "
                                       "before writing more shards") from None
        return last

    def __contains__(self, video_id: str) -> bool:
        """Whether the video (by id or by its folder name) is already written."""
        name = folder_name(video_id)
        return name in self.published or name in self._ids

    def add_video(self, video_id: str, pose: PoseSeq, *,
                  captions: Mapping[str, Sequence[Segment]] | None = None,
                  vtt: Mapping[str, str] | None = None, complete: Mapping[str, object] | None = None,
                  frame_indices: Sequence[int] | None = None) -> bool:
        """Add one video (see :func:`write_video_folder` for the arguments)."""
        if video_id in self:
            log.info("%s: already published; skipped", video_id)
            return False
        files = video_folder_files(video_id, pose, captions=captions, vtt=vtt, complete=complete,
                                   frame_indices=frame_indices)
        self._add(folder_name(video_id), files)
        return True

    def add_folder(self, folder: str | Path) -> bool:
        """Add a video folder already on disk (``<video_id>/npz/...``, ``captions/...``)."""
        folder = Path(folder)
        video_id = folder.name
        if video_id in self:
            log.info("%s: already published; skipped", video_id)
            return False
        if not (folder / "npz").is_dir():
            raise InputError(folder, "not a video folder (no npz/ inside)")
        files: dict[str, bytes] = {}
        for sub in ("npz", "captions"):
            if (folder / sub).is_symlink():
                raise InputError(folder / sub, "symbolic link refused (a video folder holds its own files)")
            for item in sorted((folder / sub).glob("*")) if (folder / sub).is_dir() else []:
                if item.is_file() and not item.is_symlink() and not item.name.endswith(".tmp"):
                    files[f"{sub}/{item.name}"] = item.read_bytes()
        if "npz/.complete" in files:   # keep the completion marker last, as on disk
            files["npz/.complete"] = files.pop("npz/.complete")
        self._add(folder_name(video_id), files)
        return True

    def _open(self) -> None:
        if not self._lock.held:   # closed: another writer may own the folder by now
            raise InputError(self.out_dir, "shard writer is closed; open a new one to add videos")
        self._final = self.out_dir / f"{self.prefix}{self._next:06d}.tar"
        self._tmp = self._final.with_name(self._final.name + ".tmp")
        self._next += 1
        self._tar = tarfile.open(self._tmp, "w", format=tarfile.GNU_FORMAT)
        self._ids, self._bytes = [], 2 * _BLOCK

    def _add(self, video_id: str, files: Mapping[str, bytes]) -> None:
        # video_id is the folder name here (plain, bounded: see folder_name)
        size = _tar_size(files)
        if self._tar is not None and self._ids and (len(self._ids) >= self.max_videos
                                                    or self._bytes + size > self.max_bytes):
            self.close_shard()
        if self._tar is None:
            self._open()
        if size > self.max_bytes:
            log.warning("%s: %d bytes, more than max_bytes; it gets a shard of its own", video_id, size)
        now = time.time()
        tar = self._tar
        dirs = [video_id] + sorted({f"{video_id}/{rel.split('/')[0]}" for rel in files})
        try:
            for name in dirs:
                info = tarfile.TarInfo(name)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, now
                tar.addfile(info)
            for rel, data in files.items():
                info = tarfile.TarInfo(f"{video_id}/{rel}")
                info.size, info.mode, info.mtime = len(data), 0o644, now
                tar.addfile(info, io.BytesIO(data))
        except OSError as exc:
            self._abandon()   # disk full etc.: a half-written tar must never be published
            from signverse.io.corpus.lock import write_error
            raise write_error(self._final, exc) from None
        self._ids.append(video_id)
        self._bytes += size + len(dirs) * _BLOCK
        if len(self._ids) >= self.max_videos:
            self.close_shard()

    def _abandon(self) -> None:
        """Drop the open shard (its videos were not published, so a rerun writes them again)."""
        tar, self._tar, self._ids = self._tar, None, []
        try:
            if tar is not None and tar.fileobj is not None:
                tar.fileobj.close()
        except OSError:
            pass
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)

    def close_shard(self) -> Path | None:
        """Finish the open shard (flush, fsync, rename to ``.tar``); returns its path."""
        if self._tar is None:
            return None
        try:
            self._tar.close()
            with open(self._tmp, "rb") as handle:
                os.fsync(handle.fileno())
        except OSError as exc:
            self._abandon()
            from signverse.io.corpus.lock import write_error
            raise write_error(self._final, exc) from None
        from signverse.io.corpus.lock import publish
        try:
            publish(self._tmp, self._final)   # never over an existing shard (exclusive create)
        except BaseException:
            self._tar, self._ids = None, []   # its videos were not published: a rerun writes them
            raise
        self.published.update(self._ids)
        self.shards.append(self._final)
        log.info("%s: %d videos", self._final, len(self._ids))
        done, self._tar, self._ids = self._final, None, []
        return done

    def close(self) -> list[Path]:
        """Close the open shard and release the folder's lock; returns every shard this writer closed."""
        try:
            self.close_shard()
        finally:
            self._lock.release()
        return list(self.shards)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        # Videos fully added before an error are complete in the tar, so publish them.
        self.close()

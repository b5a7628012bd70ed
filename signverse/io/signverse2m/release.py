"""Reading the release as published: video folders, or ``Sign_DWPose_NPZ_*.tar`` shards as streams.

Tar shards are read sequentially (``tarfile`` stream mode) and never extracted: members go to
memory, one video at a time. Members with absolute paths, ``..`` parts, links, devices, FIFOs or
sparse data (a 10 KB sparse member can claim gigabytes of zeros) are refused and never followed;
the video they claim to belong to is not yielded. A member larger than the bytes left in the file,
or than ``SIGNVERSE_MAX_MEMBER_BYTES``, is refused before it is read. A member name that occurs
twice in a shard: the last copy wins (as with ``tar -x``), and the first duplicate of each shard
is logged. In video folders, symbolic links (files, or the ``npz/`` and ``captions/`` folders
themselves) are refused and never followed. Every problem is logged and recorded in
:attr:`Release.failures`; the rest of the read carries on.

>>> # for video in (release := open_release("dataset/")): print(video.video_id, video.pose)
>>> # release.failures   # [ReleaseFailure(source, member, video_id, problem), ...]
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import os
import re
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator, Mapping

from signverse.core.errors import InputError
from signverse.core.limits import MAX_MEMBER_BYTES
from signverse.core.pose import PoseSeq
from signverse.io.captions import VideoCaptions, captions_from_dict, language_from_filename
from signverse.io.signverse2m.complete import fps_from_complete, parse_complete
from signverse.io.signverse2m.poses import (arrays_to_pose, per_frame_arrays,
                                            read_npz_arrays)

log = logging.getLogger(__name__)

SHARD_PATTERN = re.compile(r"^Sign_DWPose_NPZ_(\d+)\.tar$")
DEFAULT_MAX_MEMBER_BYTES = MAX_MEMBER_BYTES.default
# Video ids that are used as folder names unchanged (YouTube ids are 11 of these characters).
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$")


def folder_name(video_id: str) -> str:
    """The folder a video is stored under: the id itself when it is a plain, short file name;
    otherwise a cleaned prefix plus a hash of the id (``.._.._escape1`` -> ``escape1-3f2a...``),
    so that no id can escape, hide or exceed a file-name length. The writer records the id itself
    in ``npz/.complete`` and ``poses.npz``, and the reader maps the folder back to it."""
    if _PLAIN_ID.match(video_id):
        return video_id
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("._-")[:80]
    digest = hashlib.sha1(video_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{clean}-{digest}" if clean else f"id-{digest}"


@dataclass(frozen=True)
class ReleaseVideo:
    """One video of the release: its poses, captions, completion marker and raw VTT texts."""

    video_id: str
    pose: PoseSeq
    captions: dict | None = None              # captions.json as parsed JSON
    complete: dict[str, str] | None = None    # npz/.complete key=value lines
    vtt: dict[str, str] = field(default_factory=dict)   # language -> WebVTT text
    source: str = ""

    def caption_segments(self) -> VideoCaptions | None:
        """captions.json as validated :class:`~signverse.io.captions.VideoCaptions`."""
        return None if self.captions is None else captions_from_dict(self.captions, self.source)


@dataclass(frozen=True)
class ReleaseFailure:
    """A member or video that could not be read (the read carried on without it)."""

    source: str
    member: str | None
    video_id: str | None
    problem: str

    @property
    def name(self) -> str:
        """What failed, most specific first: the member, else source:video_id, else the source."""
        return self.member or (f"{self.source}:{self.video_id}" if self.video_id else self.source)

    @property
    def reason(self) -> str:
        return self.problem

    def __str__(self) -> str:
        return f"{self.name}: {self.problem}"


def _split_member(name: str) -> tuple[str | None, str | None]:
    """(video_id, path inside the video folder) from a member path, or (None, None)."""
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    for i, part in enumerate(parts):
        if part in ("npz", "captions") and i >= 1:
            return parts[i - 1], "/".join(parts[i:])
    if len(parts) == 1:
        return parts[0], ""
    return None, None


def _member_problem(member: tarfile.TarInfo) -> str | None:
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "path with '..'"
    if member.issym() or member.islnk():
        return f"link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    if member.issparse():
        return "sparse member (the release never writes them)"
    if not (member.isfile() or member.isdir()):
        return f"unsupported member type {member.type!r}"
    return None


def video_from_files(video_id: str, files: Mapping[str, Any], *, source: str, repair: bool = True,
                     person: int | None = None,
                     failures: list[ReleaseFailure] | None = None) -> ReleaseVideo:
    """Build a :class:`ReleaseVideo` from a folder's files: ``{"npz/poses.npz": bytes|Path, ...}``.

    Problems with captions or ``.complete`` are recorded in ``failures`` (the poses still load);
    problems with the poses raise InputError.
    """
    label = f"{source}:{video_id}"

    def note(member: str, problem: str) -> None:
        failure = ReleaseFailure(source, member, video_id, problem)
        log.warning("%s: %s: %s", source, member, problem)
        if failures is not None:
            failures.append(failure)

    def data(value) -> bytes:
        return value.read_bytes() if isinstance(value, Path) else value

    complete = None
    if "npz/.complete" in files:
        try:
            complete = parse_complete(data(files["npz/.complete"]).decode("utf-8-sig"),
                                      f"{label}/npz/.complete")
        except (InputError, UnicodeDecodeError) as exc:
            note(f"{video_id}/npz/.complete", str(exc))
    if "npz/poses.npz" in files:
        arrays = read_npz_arrays(data(files["npz/poses.npz"]), name=f"{label}/npz/poses.npz")
    else:
        frames = [(rel, data(v)) for rel, v in files.items()
                  if rel.startswith("npz/") and rel.endswith(".npz") and PurePosixPath(rel).stem.isdigit()]
        if not frames:
            raise InputError(label, "no npz/poses.npz and no per-frame npz files")
        arrays = per_frame_arrays(frames, fps=fps_from_complete(complete or {}, label),
                                  label=f"{label}/npz", video_id=video_id)
    stored_id = (complete or {}).get("video_id")
    if stored_id and stored_id != video_id and folder_name(stored_id) == video_id:
        video_id = stored_id   # a folder our writer named for an id that is not a plain file name
    elif arrays.video_id and arrays.video_id != video_id:
        log.warning("%s: poses.npz names video %r", label, arrays.video_id)
    pose = arrays_to_pose(arrays, repair=repair, person=person)
    captions, vtt = None, {}
    for rel, value in sorted(files.items()):
        if not rel.startswith("captions/"):
            continue
        name = PurePosixPath(rel).name
        try:
            text = data(value).decode("utf-8-sig")
        except UnicodeDecodeError:
            note(f"{video_id}/{rel}", "not UTF-8 text")
            continue
        if name.endswith(".captions.json"):
            try:
                captions = json.loads(text)
                if not isinstance(captions, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, RecursionError) as exc:   # RecursionError: nested thousands deep
                captions = None
                note(f"{video_id}/{rel}", f"bad captions.json ({str(exc)[:200]})")
        elif name.endswith(".vtt"):
            vtt[language_from_filename(name) or "und"] = text
    return ReleaseVideo(video_id, pose, captions, complete, vtt, source)


class Release:
    """An iterable over the videos of a release directory, video folder, or tar shard(s).

    Iterating yields :class:`ReleaseVideo`; unreadable members/videos are skipped, logged and
    listed in :attr:`failures` (reset at each iteration).
    """

    def __init__(self, path: str | Path, *, repair: bool = True, person: int | None = None,
                 max_member_bytes: int | None = None):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "no such file or directory")
        self.repair, self.person = repair, person
        self.max_member_bytes = MAX_MEMBER_BYTES.value() if max_member_bytes is None else max_member_bytes
        self.failures: list[ReleaseFailure] = []

    def _fail(self, source, member, video_id, problem) -> None:
        log.warning("%s: %s%s", source, f"{member}: " if member else "", problem)
        self.failures.append(ReleaseFailure(str(source), member, video_id, problem))

    def __iter__(self) -> Iterator[ReleaseVideo]:
        self.failures = []
        path = self.path
        if path.is_file():
            yield from self._tar(path)
            return
        if (path / "npz").is_dir() or (path / "npz").is_symlink():
            yield from self._folders([path])
            return
        children = sorted(path.iterdir())
        yield from self._folders([c for c in children if c.is_dir() and not c.is_symlink()
                                  and ((c / "npz").is_dir() or (c / "captions").is_dir())])
        for child in children:
            if child.is_file() and child.name.endswith(".tar"):
                yield from self._tar(child)

    def _folders(self, folders) -> Iterator[ReleaseVideo]:
        for folder in folders:
            files: dict[str, Any] = {}
            for sub in ("npz", "captions"):
                if (folder / sub).is_symlink():
                    self._fail(folder, sub, folder.name, "symbolic link refused")
                    continue
                for item in sorted((folder / sub).glob("*")) if (folder / sub).is_dir() else []:
                    if item.is_symlink():
                        self._fail(folder, f"{sub}/{item.name}", folder.name, "symbolic link refused")
                    elif item.is_file():
                        files[f"{sub}/{item.name}"] = item
            yield from self._emit(folder.name, files, str(folder.parent))

    def _emit(self, video_id: str, files, source: str) -> Iterator[ReleaseVideo]:
        try:
            video = video_from_files(video_id, files, source=source, repair=self.repair,
                                     person=self.person, failures=self.failures)
        except InputError as exc:
            self._fail(source, None, video_id, str(exc))
            return
        yield video

    def _tar(self, path: Path) -> Iterator[ReleaseVideo]:
        try:
            handle = open(path, "rb")
        except OSError as exc:
            self._fail(path, None, None, f"cannot open: {exc.strerror or exc}")
            return
        with handle:
            yield from iter_tar_videos(handle, name=str(path), release=self)


class _Recent:
    """A read-only stream wrapper that remembers the last chunks read, so that after tarfile
    stops we can look at the block it stopped on (tarfile ends quietly on a damaged header)."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.pos = raw, 0
        self.chunks: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=2)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.chunks.append((self.pos, data))
        self.pos += len(data)
        return data

    def block_at(self, offset: int, size: int = 512) -> bytes | None:
        """The bytes at ``offset`` (reading ahead if needed); None if no longer remembered."""
        if offset + size > self.pos:
            self.read(offset + size - self.pos)
        data = b"".join(chunk for start, chunk in self.chunks)
        start = self.chunks[0][0] if self.chunks else self.pos
        if offset < start:
            return None
        return data[offset - start:offset - start + size]


def iter_tar_videos(fileobj: IO[bytes], *, name: str, release: Release) -> Iterator[ReleaseVideo]:
    """Stream the videos of one plain tar (a file object read front to back, never seeked)."""
    source = name
    stream = _Recent(fileobj)
    try:
        info = os.fstat(fileobj.fileno())
        file_size: int | None = info.st_size if stat.S_ISREG(info.st_mode) else None
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        file_size = None   # a pipe or an in-memory stream: only the stated limit applies
    current: str | None = None
    files: dict[str, bytes] = {}
    bad: set[str] = set()
    done: set[str] = set()
    duplicates = 0

    def flush():
        if current is not None and current not in bad and files:
            yield from release._emit(current, dict(files), source)
        if current is not None:
            done.add(current)

    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                video_id, rel = _split_member(member.name)
                problem = _member_problem(member)
                if problem:
                    release._fail(source, member.name, video_id, f"refused: {problem}")
                    if video_id:
                        bad.add(video_id)
                    continue
                if video_id is None:
                    log.debug("%s: %s: not part of a video folder; ignored", source, member.name)
                    continue
                if video_id != current and (rel or member.isdir()):   # the next video begins
                    yield from flush()
                    files = {}
                    current = video_id
                    if video_id in done:
                        release._fail(source, member.name, video_id,
                                      "members of this video are not contiguous in the tar; the rest is ignored")
                        bad.add(video_id)
                if video_id in bad or member.isdir() or not rel:
                    continue
                if member.size > release.max_member_bytes:
                    release._fail(source, member.name, video_id,
                                  f"member too large ({member.size} bytes; limit "
                                  f"{release.max_member_bytes}, set {MAX_MEMBER_BYTES.env} to change it)")
                    bad.add(video_id)
                    continue
                if file_size is not None and member.offset_data + member.size > file_size:
                    raise tarfile.ReadError(f"member {member.name} claims {member.size} bytes but the "
                                            f"file ends {file_size - member.offset_data} bytes later")
                if rel in files:
                    duplicates += 1
                    if duplicates == 1:
                        log.warning("%s: member %s occurs more than once; the last copy is used "
                                    "(further duplicates in this shard are not reported one by one)",
                                    source, member.name)
                extracted = tar.extractfile(member)
                files[rel] = extracted.read() if extracted is not None else b""
            # tarfile ends iteration quietly on a damaged header or a cut at a member boundary;
            # a complete tar stops on the all-zero end-of-archive block.
            end = stream.block_at(tar.offset)
            if end is None or len(end) < 512 or any(end):
                where = "is cut short" if end is not None and len(end) < 512 else "has a damaged header"
                raise tarfile.ReadError(f"the archive {where} at offset {tar.offset}")
            yield from flush()
            if duplicates > 1:
                log.warning("%s: %d member names occurred more than once; the last copy of each "
                            "was used", source, duplicates)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        release._fail(source, None, current, f"damaged tar ({type(exc).__name__}: {exc}); "
                                             "the videos after this point are not read")


def open_release(path: str | Path, *, repair: bool = True, person: int | None = None,
                 max_member_bytes: int | None = None) -> Release:
    """Open a release: a directory of ``<video_id>/`` folders and/or ``*.tar`` shards, one video
    folder, or one ``Sign_DWPose_NPZ_*.tar``. Iterate the result for :class:`ReleaseVideo`;
    ``release.failures`` lists what was skipped. ``max_member_bytes`` defaults to
    ``SIGNVERSE_MAX_MEMBER_BYTES`` (8 GiB)."""
    return Release(path, repair=repair, person=person, max_member_bytes=max_member_bytes)

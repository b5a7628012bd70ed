"""Uniform iteration over anything that holds pose sequences: one file, a folder of files, a
SignVerse-2M release (tar shard or folder tree) or a signverse corpus.

Batch commands (info, convert, render) use this so a bad item is reported and the rest carries on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq

log = logging.getLogger(__name__)
POSE_SUFFIXES = (".pose", ".npz", ".json")


@dataclass
class Item:
    """One pose sequence from a source, with whatever metadata the source had."""

    name: str
    pose: PoseSeq
    meta: dict = field(default_factory=dict)


@dataclass
class Failure:
    name: str
    reason: str


def source_kind(path: str | Path) -> str:
    """``file``, ``folder``, ``release`` or ``corpus`` (``hf://`` paths too, see signverse.io.hub)."""
    from signverse.io import hub
    if hub.is_hub_tar(path):
        return "release"
    path = Path(hub.localize(path))
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_file():
        return "release" if path.suffix.lower() == ".tar" else "file"
    if not path.is_dir():   # a FIFO or a device (a link to /dev/zero) is never read
        raise InputError(path, "not a regular file or folder (a device or FIFO); refused")
    from signverse.io.openpose_json import is_openpose_folder
    if is_openpose_folder(path):
        return "file"           # a folder of OpenPose frame files is one video
    if (path / "corpus.json").exists():
        return "corpus"
    if any(path.glob("Sign_DWPose_NPZ_*.tar")) or any(path.glob("*/npz/poses.npz")) \
            or any(path.glob("*/npz/.complete")) or (path / "npz").is_dir():
        return "release"
    return "folder"


def iter_items(path: str | Path, failures: list[Failure] | None = None, **read_options) -> Iterator[Item]:
    """Yield every pose sequence under ``path``; unreadable ones go to ``failures`` (or raise)."""
    from signverse.io import hub
    if hub.is_hub_tar(path):   # streamed from the Hub, never stored
        yield from _iter_release(hub.hub_release(str(path)), failures)
        return
    path = Path(hub.localize(path))
    kind = source_kind(path)
    if kind == "file":
        from signverse.io import read_pose
        yield Item(path.stem, read_pose(path, **read_options), {"path": str(path)})
    elif kind == "folder":
        yield from _iter_folder(path, failures, read_options)
    elif kind == "release":
        from signverse.io.signverse2m import open_release
        yield from _iter_release(open_release(path), failures)
    else:
        from signverse.io.corpus import open_corpus
        # In a batch, a damaged shard is recorded and skipped whole; the other shards carry on.
        corpus = open_corpus(path, on_error="raise" if failures is None else "skip")
        for clip in corpus:
            if clip.pose is None:   # e.g. corpus.json names a pose field that holds nothing
                _record(failures, Failure(clip.clip_id, f"{path}: no stored pose in pose field "
                                                        f"{corpus.field!r}"))
                continue
            yield Item(clip.clip_id, clip.pose, clip.to_dict())
        for exc in corpus.errors:
            _record(failures, Failure(exc.path or str(path), exc.problem))


def _iter_release(release, failures: list[Failure] | None) -> Iterator[Item]:
    for video in release:
        meta: dict = {"video_id": video.video_id}
        if video.captions:
            try:   # parsed cues, so writers can carry them on (release -> release/corpus)
                meta["captions"] = video.caption_segments()
            except SignverseError as exc:
                log.warning("%s: captions not carried over: %s", video.video_id, exc)
        if video.vtt:
            meta["vtt"] = dict(video.vtt)
        yield Item(video.video_id, video.pose, meta)
    for bad in getattr(release, "failures", []):
        _record(failures, Failure(str(getattr(bad, "name", bad)), str(getattr(bad, "reason", bad))))


def _iter_folder(path: Path, failures: list[Failure] | None, read_options) -> Iterator[Item]:
    from signverse.io import read_pose
    from signverse.io.openpose_json import FRAME_FILE, is_openpose_folder, looks_like_pose_json
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in POSE_SUFFIXES and p.is_file()
                   and not FRAME_FILE.search(p.name)
                   and (p.suffix.lower() != ".json" or looks_like_pose_json(p)))
    files += sorted(p for p in path.rglob("*") if is_openpose_folder(p))
    files.sort()
    if not files:
        raise InputError(path, "no .pose, .npz, .json or OpenPose frame folders found")
    for file in files:
        try:
            name = file.relative_to(path)
            yield Item(str(name if file.is_dir() else name.with_suffix("")), read_pose(file, **read_options),
                       {"path": str(file)})
        except SignverseError as exc:
            # the failure is listed as "FAILED <file>: <reason>": do not name the file twice
            same = isinstance(exc, InputError) and exc.path == str(file)
            _record(failures, Failure(str(file), exc.problem if same else str(exc)))


def _record(failures: list[Failure] | None, failure: Failure) -> None:
    if failures is None:
        raise InputError(failure.name, failure.reason)
    log.info("%s", failure.reason)   # the caller lists failures once; a warning here would repeat it
    failures.append(failure)

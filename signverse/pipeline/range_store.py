"""Finished ranges of split videos, kept on disk so that a rerun after a kill redoes only the rest.

``signverse.pipeline.segments`` estimates a long video's frame ranges on several workers and
joins them once all are back. The parent process (the only writer of the corpus, under its
lock) saves each range as it arrives, here::

    CORPUS/.ranges/<video key>/video.json              the video id and what the ranges depend on
    CORPUS/.ranges/<video key>/r<first>-<stop|end>/    one finished range:
        xy-0000.npy, conf-0000.npy, ...                    the estimator's output, in chunks
        times.npy, boxes.npy, present.npy, act_xy.npy, act_valid.npy   frame times, signer features
        part.json                                          written last: stats and a SHA-256 per file

``part.json`` goes through a temporary name and a rename, after every file it lists, so a range
without it is unfinished; a range whose files do not match its checksums (a torn or altered
file) or whose arrays disagree is redone, never trusted. ``video.json`` holds a fingerprint (the
file's path, size and modification time, and the settings the poses depend on: rate, backend and
its options, frame size limit, hold time, signer crop); a folder with another fingerprint is
removed when its video is next split, and a range is reused only for the very same frames
``[first, stop)``. Only plain ``.npy`` arrays (no pickles) and strict JSON are read.

A video's folder is removed once its clips are committed (``discard``); folders of videos the
ledger already calls done are removed when a run starts (``prune``).

>>> import tempfile
>>> store = RangeStore(tempfile.mkdtemp())
>>> store.load(store.open_video("v", {"size": 1}), 0, 240) is None
True
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

RANGES_DIR = ".ranges"
FORMAT = 1
_MARKER = "part.json"
_VIDEO = "video.json"
_FEATURES = ("boxes", "present", "act_xy", "act_valid")
_MAX_JSON = 1 << 20


@dataclass
class StoredRange:
    """A finished range read back: its chunk files (in order), frame times, signer features
    (``SignerFeatures`` fields) and the metadata the worker reported."""

    files: list[tuple[Path, Path]]
    times: np.ndarray
    features: dict[str, np.ndarray]
    meta: dict[str, Any]


def video_key(video_id: str) -> str:
    """A bounded, plain folder name for any id: a cleaned prefix plus a hash of the whole id."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", video_id)[:40]
    return f"{prefix}-{hashlib.sha256(video_id.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def range_name(first: int, stop: int | None) -> str:
    return f"r{first}-{'end' if stop is None else stop}"


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    with open(path, "rb") as handle:
        data = handle.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise ValueError("too large")
    return json.loads(data.decode("utf-8"))


class RangeStore:
    """Finished ranges under ``root`` (``CORPUS/.ranges``); see the module docstring."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def folder(self, video_id: str) -> Path:
        return self.root / video_key(video_id)

    def open_video(self, video_id: str, fingerprint: dict[str, Any]) -> Path:
        """The video's folder, emptied first when it holds ranges made under another fingerprint."""
        folder = self.folder(video_id)
        want = json.loads(json_dumps({"format": FORMAT, "video_id": video_id, "fingerprint": fingerprint}))
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()   # never ours: ranges are only written into folders this store made
        elif folder.is_dir():
            try:
                have = _read_json(folder / _VIDEO)
            except (OSError, ValueError):
                have = None
            if have == want:
                return folder
            if have is not None:
                log.info("%s: ranges of an earlier run were made from another file or with other "
                         "settings; redoing them", video_id)
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(folder / _VIDEO, (json_dumps(want, indent=1) + "\n").encode("utf-8"))
        return folder

    @staticmethod
    def save(folder: Path, first: int, stop: int | None, chunks, times: np.ndarray,
             features: dict[str, np.ndarray], meta: dict[str, Any]) -> list[tuple[Path, Path]]:
        """Write one finished range (its ``part.json`` last); returns the chunk files in order."""
        where = folder / range_name(first, stop)
        if where.exists():
            shutil.rmtree(where)
        where.mkdir(parents=True)
        listed: dict[str, dict[str, Any]] = {}

        def put(name: str, array: np.ndarray) -> Path:
            data = _npy_bytes(array)
            path = where / name
            path.write_bytes(data)
            listed[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            return path

        files = []
        frames = []
        for i, (xy, conf) in enumerate(chunks):
            files.append((put(f"xy-{i:04d}.npy", xy), put(f"conf-{i:04d}.npy", conf)))
            frames.append(int(len(xy)))
        put("times.npy", np.asarray(times, np.float64))
        for name in _FEATURES:
            put(f"{name}.npy", features[name])
        marker = {"format": FORMAT, "first": first, "stop": stop, "frames": int(len(times)),
                  "chunk_frames": frames, "files": listed, "meta": meta}
        _write_atomic(where / _MARKER, (json_dumps(marker) + "\n").encode("utf-8"))
        return files

    def load(self, folder: Path, first: int, stop: int | None) -> StoredRange | None:
        """The finished range ``[first, stop)``, or None when there is none or it cannot be trusted
        (then its folder is removed and the caller redoes it)."""
        where = folder / range_name(first, stop)
        if not where.is_dir():
            return None
        try:
            return self._load(where, first, stop)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unusable range result (%s); redoing that range", where, " ".join(str(exc).split())[:200])
            shutil.rmtree(where, ignore_errors=True)
            return None

    @staticmethod
    def _load(where: Path, first: int, stop: int | None) -> StoredRange:
        if not (where / _MARKER).is_file():
            raise ValueError("unfinished (no part.json)")
        marker = _read_json(where / _MARKER)
        if not isinstance(marker, dict) or marker.get("format") != FORMAT:
            raise ValueError("part.json of an unknown format")
        if marker.get("first") != first or marker.get("stop") != stop:
            raise ValueError("part.json is for other frames")
        listed, frames = marker["files"], marker["chunk_frames"]
        if not isinstance(listed, dict) or not isinstance(frames, list) or not isinstance(marker["meta"], dict):
            raise ValueError("malformed part.json")
        names = [f"{kind}-{i:04d}.npy" for i in range(len(frames)) for kind in ("xy", "conf")]
        names += ["times.npy"] + [f"{name}.npy" for name in _FEATURES]
        if sorted(names) != sorted(listed):
            raise ValueError("part.json lists other files")
        for name in names:   # every byte as written: a torn or altered file is never trusted
            data = (where / name).read_bytes()
            entry = listed[name]
            if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ValueError(f"{name} does not match its checksum")
        n_frames = int(marker["frames"])
        times = np.load(where / "times.npy", allow_pickle=False)
        features = {name: np.load(where / f"{name}.npy", allow_pickle=False) for name in _FEATURES}
        files = [(where / f"xy-{i:04d}.npy", where / f"conf-{i:04d}.npy") for i in range(len(frames))]
        for (xy_path, conf_path), n in zip(files, frames):
            xy = np.load(xy_path, mmap_mode="r", allow_pickle=False)
            conf = np.load(conf_path, mmap_mode="r", allow_pickle=False)
            if xy.ndim != 4 or xy.shape[0] != n or xy.shape[-1] != 2 or conf.shape != xy.shape[:3]:
                raise ValueError(f"chunk arrays of shapes {xy.shape} / {conf.shape} for {n} frames")
        if times.shape != (n_frames,) or sum(frames) != n_frames \
                or any(a.shape[0] != n_frames for a in features.values()):
            raise ValueError("frame counts disagree")
        return StoredRange(files, times, features, marker["meta"])

    def discard(self, video_id: str) -> None:
        """Forget a video's ranges (its clips are committed, or it is processed whole)."""
        shutil.rmtree(self.folder(video_id), ignore_errors=True)

    def prune(self, done: Iterable[str]) -> int:
        """Remove the folders of videos already done (a run killed between commit and discard)."""
        if not self.root.is_dir():
            return 0
        done = set(done)
        removed = 0
        for folder in self.root.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            try:
                video_id = _read_json(folder / _VIDEO)["video_id"]
            except (OSError, ValueError, KeyError, TypeError):
                continue   # opened and cleaned when its video is next split
            if video_id in done and folder.name == video_key(video_id):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

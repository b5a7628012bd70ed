"""Persistent clip-id index: sorted 64-bit hashes of ids -> (shard, row), memory-mapped.

A lookup is one binary search over a memory-mapped ``.npy``; nothing else of the corpus is read.
The index is a cache: the clip shards are the truth, and a stale, missing or corrupt index is
rebuilt from their ``clip_id`` columns. ``index.json`` holds a CRC-32 of both arrays, so
a damaged index (even one of the right length) is detected on load, never trusted: a writer
that trusted it would miss stored ids and store duplicates. Two ids may share a hash (p ~ 1e-7 at 2 million ids); every candidate
row is therefore checked against the stored id by the reader.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from signverse.core.jsonio import dumps as json_dumps

INDEX_JSON = "index.json"
INDEX_FORMAT = 2   # 2: with checksums (an index without them is rebuilt once)

log = logging.getLogger(__name__)


def checksum(*arrays: np.ndarray) -> str:
    """CRC-32 of the arrays' bytes: detects damage (not tampering: whoever can rewrite the index
    can rewrite the shards) at a few GB/s, so opening a 2-million-clip corpus stays fast."""
    crc = 0
    for array in arrays:
        crc = zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"), crc)
    return f"crc32:{crc:08x}"


def hash_id(clip_id: str) -> int:
    """64-bit hash of a clip id (stable across runs and machines)."""
    return int.from_bytes(hashlib.blake2b(clip_id.encode("utf-8"), digest_size=8).digest(), "little")


def hash_ids(ids: Iterable[str]) -> np.ndarray:
    """``uint64`` hashes of many ids."""
    blake = hashlib.blake2b
    digest = b"".join(blake(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    return np.frombuffer(digest, dtype="<u8").astype(np.uint64)


@dataclass
class IdIndex:
    """Sorted hashes with their packed locations ``shard << 32 | row``."""

    hashes: np.ndarray
    loc: np.ndarray
    shards: tuple[int, ...] = ()

    @classmethod
    def build(cls, parts: Iterable[tuple[int, np.ndarray]]) -> "IdIndex":
        """From ``(shard number, hashes of its rows in order)`` pairs."""
        hashes, locs, shards = [], [], []
        for shard, h in parts:
            shards.append(shard)
            hashes.append(np.asarray(h, np.uint64))
            locs.append((np.uint64(shard) << np.uint64(32)) | np.arange(len(h), dtype=np.uint64))
        if not hashes:
            return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), ())
        h = np.concatenate(hashes)
        loc = np.concatenate(locs)
        order = np.argsort(h, kind="stable")
        return cls(h[order], loc[order], tuple(sorted(shards)))

    def merged(self, other: "IdIndex") -> "IdIndex":
        """This index plus the entries of ``other`` (e.g. a shard just written).

        A sorted insertion, O(n + m), so that adding shard after shard to a large index stays cheap.
        """
        shards = tuple(sorted(set(self.shards) | set(other.shards)))
        if not len(other.hashes):
            return IdIndex(self.hashes, self.loc, shards)
        at = np.searchsorted(self.hashes, other.hashes, side="right")
        return IdIndex(np.insert(np.asarray(self.hashes), at, other.hashes),
                       np.insert(np.asarray(self.loc), at, other.loc), shards)

    def candidates(self, h: int) -> list[tuple[int, int]]:
        """``(shard, row)`` of every entry with hash ``h``."""
        # Plain ndarray views of the (memory-mapped) arrays: np.memmap's subclass hooks cost
        # more than the binary search itself, which runs once per look-up.
        hashes, loc = self._plain()
        h = np.uint64(h)
        lo = int(hashes.searchsorted(h))
        out = []
        n = len(hashes)
        while lo < n and hashes[lo] == h:
            v = int(loc[lo])
            out.append((v >> 32, v & 0xFFFFFFFF))
            lo += 1
        return out

    def _plain(self) -> tuple[np.ndarray, np.ndarray]:
        plain = self.__dict__.get("_plain_views")
        if plain is None or plain[0] is not self.hashes or plain[1] is not self.loc:
            plain = self.__dict__["_plain_views"] = (self.hashes, self.loc,
                                                     np.asarray(self.hashes), np.asarray(self.loc))
        return plain[2], plain[3]

    def __len__(self) -> int:
        return len(self.hashes)

    def find(self, clip_id: str) -> list[tuple[int, int]]:
        """Candidate ``(shard, row)`` locations of an id (usually zero or one)."""
        return self.candidates(hash_id(clip_id))

    def contains_hash(self, h: int) -> bool:
        i = int(np.searchsorted(self.hashes, np.uint64(h)))
        return i < len(self.hashes) and int(self.hashes[i]) == h

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write atomically: arrays first, then ``index.json`` naming the shards they cover and the
        checksum of the arrays (a half-replaced pair fails the checksum and is rebuilt)."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("ids.npy", self.hashes), ("loc.npy", self.loc)):
            tmp = folder / f".{name}.tmp"
            try:
                with open(tmp, "wb") as handle:
                    np.save(handle, np.ascontiguousarray(array))
                os.replace(tmp, folder / name)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        tmp = folder / f".{INDEX_JSON}.tmp"
        meta = {"format": INDEX_FORMAT, "clips": len(self), "shards": list(self.shards),
                "checksum": checksum(self.hashes, self.loc)}
        try:
            tmp.write_text(json_dumps(meta) + "\n")
            os.replace(tmp, folder / INDEX_JSON)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, folder: Path, shards: Iterable[int]) -> "IdIndex | None":
        """The saved index if it covers exactly ``shards``, else None (caller rebuilds)."""
        try:
            meta = json.loads((folder / INDEX_JSON).read_text())
            hashes = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
            loc = np.load(folder / "loc.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
            return None
        if (hashes.dtype != np.uint64 or loc.dtype != np.uint64 or hashes.ndim != 1
                or loc.ndim != 1 or len(hashes) != len(loc) or len(hashes) != meta.get("clips")):
            log.warning("the id index in %s is damaged (shape or type); rebuilding it", folder)
            return None
        if not isinstance(meta.get("shards"), list) or sorted(meta["shards"]) != sorted(shards):
            return None   # stale: shards were added since it was saved
        if meta.get("checksum") != checksum(hashes, loc):
            log.warning("the id index in %s fails its checksum (corrupt); rebuilding it from the "
                        "shards", folder)
            return None
        return cls(hashes, loc, tuple(sorted(meta["shards"])))

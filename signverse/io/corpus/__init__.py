"""The signverse corpus store: sharded Parquet (LZ4 / zstd) with packed, quantised poses.

One metadata table (``clips/shard-*.parquet``) plus per-field pose files
(``poses/<field>/shard-*.parquet``), a ``corpus.json`` manifest and a memory-mapped id index.
Coordinates are quantised to ``max(width, height) / 32768`` px steps (error <= 0.0293 px at
1920 px), confidences to uint8; see :mod:`signverse.io.corpus.codec`.

>>> from signverse.io.corpus import CorpusWriter, open_corpus   # doctest: +SKIP
>>> with CorpusWriter("corpus", shard_clips=1000) as w: w.add_many(clips)  # doctest: +SKIP
>>> corpus = open_corpus("corpus"); corpus["vid-0001"].pose  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from signverse.io.corpus.clipset import ClipSet
from signverse.io.corpus.limits import ReadLimits
from signverse.io.corpus.lock import CorpusLocked, StoreWriteError
from signverse.io.corpus.reader import Corpus, UnknownClip
from signverse.io.corpus.rows import decode_pose_batch, decode_pose_row
from signverse.io.corpus.writer import CorpusWriter, DuplicateClip, add_pose_field


def open_corpus(path: str | Path, **options) -> Corpus:
    """Open a corpus store for reading (``field=`` picks a pose field other than the default;
    an ``hf://datasets/OWNER/NAME`` corpus is fetched into the Hub cache first)."""
    from signverse.io import hub
    return Corpus(hub.localize(path), **options)


__all__ = ["ClipSet", "Corpus", "CorpusLocked", "CorpusWriter", "DuplicateClip", "ReadLimits",
           "StoreWriteError", "UnknownClip", "add_pose_field", "decode_pose_batch", "decode_pose_row",
           "open_corpus"]

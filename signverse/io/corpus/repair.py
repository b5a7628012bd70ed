"""``signverse repair CORPUS``: rebuild what can be derived from the shards, never drop a clip.

The finished clip shards (``clips/shard-*.parquet``) are the truth. Under the writer lock this
removes unfinished temporary files and orphan pose files (a crash), checks every shard, rebuilds
the id index from the shards' ``clip_id`` columns (whatever state the old one was in), and
reports videos and clips found. Callers add their own derived state through ``also``: the
extraction ledger (``signverse.pipeline.ledger.repair_ledger``) is rebuilt that way, so the store
never imports the pipeline.

>>> report = repair_corpus("corpus")                     # doctest: +SKIP
>>> print("\\n".join(report.actions))                    # doctest: +SKIP
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from signverse.io.corpus import schema
from signverse.io.corpus.index import IdIndex, hash_ids
from signverse.io.corpus.lock import CorpusLock, write_error
from signverse.io.corpus.reader import list_shards

log = logging.getLogger(__name__)

# ``also`` hooks: (corpus folder, stored videos) -> one-line actions
Hook = Callable[[Path, dict[str, dict[str, Any]]], list[str]]


@dataclass
class RepairReport:
    """What ``repair_corpus`` found and did."""

    corpus: str
    shards: int = 0
    clips: int = 0
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)   # video_id -> clips, frames
    damaged: list[str] = field(default_factory=list)     # unreadable or inconsistent shard files
    duplicates: int = 0                                  # ids stored more than once (all kept)
    actions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def to_dict(self) -> dict[str, Any]:
        return {"corpus": self.corpus, "shards": self.shards, "clips": self.clips,
                "videos": len(self.videos), "damaged": self.damaged, "duplicates": self.duplicates,
                "actions": self.actions}


def _read_columns(path: Path, columns: list[str]):
    import pyarrow.parquet as pq
    schema.pa()
    return pq.read_table(path, columns=columns)


def repair_corpus(path: str | Path, *, also: Iterable[Hook] = ()) -> RepairReport:
    """Repair a corpus store in place (see the module docstring); returns the report."""
    from signverse.io.corpus.writer import clean_leftovers
    root = Path(path)
    manifest = schema.read_manifest(root)   # also refuses unsafe field names
    report = RepairReport(str(root))
    with CorpusLock(root):
        for removed in clean_leftovers(root):
            report.actions.append(f"removed unfinished file {removed.relative_to(root)}")
        shards = list_shards(root / schema.CLIPS_DIR)
        fields = [f for f in manifest.get("pose_fields", {})
                  if (root / schema.POSES_DIR / f).is_dir()]
        parts, counts = [], Counter()
        videos: dict[str, dict[str, Any]] = {}
        for shard in shards:
            clips_path = root / schema.CLIPS_DIR / schema.shard_name(shard)
            try:
                table = _read_columns(clips_path, ["clip_id", "video_id", "n_frames"])
            except Exception as exc:  # noqa: BLE001 - any Parquet/IO failure means unreadable
                report.damaged.append(f"{clips_path.relative_to(root)}: unreadable ({' '.join(str(exc).split())[:200]})")
                continue
            ids = table.column("clip_id").to_pylist()
            counts.update(ids)
            parts.append((shard, hash_ids(ids)))
            frames = table.column("n_frames").to_numpy(zero_copy_only=False)
            for vid, n in zip(table.column("video_id").to_pylist(), frames):
                entry = videos.setdefault(vid, {"clips": 0, "frames": 0})
                entry["clips"] += 1
                entry["frames"] += 0 if n is None or np.isnan(n) else int(n)
            for name in fields:
                pose_path = root / schema.POSES_DIR / name / schema.shard_name(shard)
                if not pose_path.is_file():
                    continue   # a later field may not cover every shard yet
                try:
                    pose_ids = _read_columns(pose_path, ["clip_id"]).column("clip_id").to_pylist()
                except Exception as exc:  # noqa: BLE001
                    report.damaged.append(f"{pose_path.relative_to(root)}: unreadable "
                                          f"({' '.join(str(exc).split())[:200]})")
                    continue
                if pose_ids != ids:
                    report.damaged.append(f"{pose_path.relative_to(root)}: rows do not match "
                                          f"{clips_path.relative_to(root)}")
        index = IdIndex.build(parts)
        try:
            index.save(root / schema.INDEX_DIR)
        except OSError as exc:
            raise write_error(root / schema.INDEX_DIR, exc) from None
        report.shards, report.clips, report.videos = len(shards), len(index), videos
        report.duplicates = sum(n - 1 for n in counts.values() if n > 1)
        report.actions.append(f"index: rebuilt from {len(parts)} shard(s), {len(index)} clip(s)")
        if report.duplicates:
            report.actions.append(f"{report.duplicates} clip id(s) stored more than once (kept; "
                                  "readers return the first)")
        for problem in report.damaged:
            report.actions.append(f"DAMAGED {problem}: not changed; restore it from a backup or "
                                  "move it out of the corpus")
        for hook in also:
            report.actions += hook(root, videos)
    log.info("repaired %s: %s", root, "; ".join(report.actions))
    return report


__all__ = ["RepairReport", "repair_corpus"]

"""Writing a corpus store: shard by shard, atomically, resumable by clip id."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip
from signverse.io.corpus import schema
from signverse.io.corpus.index import IdIndex, hash_id, hash_ids
from signverse.io.corpus.lock import CorpusLock, StoreWriteError, publish, write_error
from signverse.io.corpus.reader import Corpus, list_shards

log = logging.getLogger(__name__)


class DuplicateClip(SignverseError):
    """A clip id that the corpus already holds (raised when ``on_duplicate="error"``)."""


class CorpusWriter:
    """Appends clips to a corpus store, one Parquet shard per ``shard_clips`` clips.

    A shard is written to a temporary name and renamed when full (the clips file last, so it marks
    the shard as finished); finished shards are never rewritten. Reopening a corpus continues with
    the next shard number and knows every stored id: duplicates are skipped (``on_duplicate=
    "skip"``, for resumable pipelines) or raise DuplicateClip (``"error"``).

    One writer at a time: the writer holds the corpus's OS file lock (:mod:`.lock`) from opening
    to ``close()``; a second writer is refused with a one-line error naming the holder. A shard
    file is created exclusively and never replaced.

    Pose payloads are LZ4-compressed (fast to read); ``pose_compression="zstd"`` stores them ~20%
    smaller and reads ~2x slower (see ``schema.POSE_COMPRESSION``).

    >>> with CorpusWriter("my_corpus", shard_clips=1000) as writer:  # doctest: +SKIP
    ...     writer.add(clip)           # a signverse.Clip with .pose
    """

    def __init__(self, path: str | Path, *, shard_clips: int = 1000, field: str | None = None,
                 on_duplicate: str = "skip", zstd_level: int = schema.ZSTD_LEVEL,
                 pose_compression: str = schema.POSE_COMPRESSION):
        schema.pa()
        if shard_clips < 1:
            raise SignverseError(f"shard_clips must be >= 1, got {shard_clips}")
        if pose_compression not in schema.POSE_COMPRESSIONS:
            raise SignverseError(f"pose_compression must be one of {schema.POSE_COMPRESSIONS}, "
                                 f"got {pose_compression!r}")
        if on_duplicate not in ("skip", "error"):
            raise SignverseError(f"on_duplicate must be 'skip' or 'error', got {on_duplicate!r}")
        if field is not None:
            schema.check_name(field, "pose field")
        self.root = Path(path)
        self.shard_clips = int(shard_clips)
        self.on_duplicate = on_duplicate
        self.zstd_level = int(zstd_level)
        self.pose_compression = pose_compression
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(self.root, exc) from None
        # The lock comes first: nothing of the corpus is read or cleaned while another writer runs.
        self._lock = CorpusLock(self.root).acquire()
        try:
            self._open(field)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, field: str | None) -> None:
        manifest_path = self.root / schema.CORPUS_JSON
        if manifest_path.exists():
            self.manifest = schema.read_manifest(self.root)
        else:
            if any(p for p in self.root.iterdir() if not p.name.startswith(".")):
                raise InputError(self.root, "directory is not empty and has no corpus.json")
            self.manifest = schema.new_manifest(field)
            schema.write_json_atomic(manifest_path, self.manifest)
        self.field = field or self.manifest.get("default_pose_field")
        clean_leftovers(self.root)
        self._reader = Corpus(self.root, _locked=True)
        self._index = self._reader.index   # every stored id, kept current as shards land
        self._index_dirty = False
        self._pending_ids: set[str] = set()
        self._pending: list[Clip] = []
        shards = list_shards(self.root / schema.CLIPS_DIR)
        self._next_shard = (shards[-1] + 1) if shards else 0
        self.written = 0
        self.skipped = 0
        self._closed = False

    # -- ids ---------------------------------------------------------------------------------
    def __contains__(self, clip_id: object) -> bool:
        """Whether the id is stored, pending or written in this session."""
        if not isinstance(clip_id, str):
            return False
        if clip_id in self._pending_ids:
            return True
        return any(self._stored_id(s, r) == clip_id for s, r in self._index.candidates(hash_id(clip_id)))

    def _stored_id(self, shard: int, row: int) -> str:
        # A hash hit may be a collision: the stored row has the last word.
        table, offset = self._reader._files.read_row(self._reader.clips_path(shard), row, ["clip_id"])
        return table.column("clip_id")[offset].as_py()

    # -- adding ------------------------------------------------------------------------------
    def add(self, clip: Clip) -> bool:
        """Queue one clip; returns False when it was skipped as a duplicate."""
        if self._closed:
            raise SignverseError(f"writer for {self.root} is closed")
        if not isinstance(clip, Clip):
            raise SignverseError(f"CorpusWriter.add expects a Clip, got {type(clip).__name__}")
        if not clip.clip_id:
            raise InputError(None, f"clip of video {clip.video_id!r} has an empty clip_id")
        if clip.clip_id in self:
            if self.on_duplicate == "error":
                raise DuplicateClip(f"{self.root}: clip id {clip.clip_id!r} is already in the corpus")
            self.skipped += 1
            return False
        if self.field is None and clip.pose is not None:
            self.field = clip.pose.layout
        self._pending_ids.add(clip.clip_id)
        self._pending.append(clip)
        if len(self._pending) >= self.shard_clips:
            self.flush()
        return True

    def add_many(self, clips: Iterable[Clip]) -> int:
        """Queue many clips; returns how many were added (not skipped)."""
        return sum(self.add(c) for c in clips)

    def flush(self) -> None:
        """Write the pending clips as one finished shard (no-op when nothing is pending)."""
        if not self._pending:
            return
        clips, self._pending = self._pending, []
        self._pending_ids = set()
        pa = schema.pa()
        meta = pa.Table.from_pylist([schema.clip_row(c) for c in clips], schema=schema.clips_schema())
        poses = None
        if self.field is not None:
            rows = [schema.pose_row(c.clip_id, c.pose) if c.pose is not None
                    else schema.empty_pose_row(c.clip_id) for c in clips]
            poses = _pose_table(rows)
        self._write_shard(meta, poses)

    def add_tables(self, clips, poses=None) -> None:
        """Write pre-built tables (store schemas, same rows in the same order) as one shard.

        The bulk path for converters that already hold many clips as columns; ids must be new.
        """
        if self._closed:
            raise SignverseError(f"writer for {self.root} is closed")
        self.flush()
        clips = clips.select(schema.clips_schema().names).cast(schema.clips_schema())
        ids = clips.column("clip_id").to_pylist()
        if poses is not None:
            poses = poses.select(schema.poses_schema().names).cast(schema.poses_schema())
            if poses.column("clip_id").to_pylist() != ids:
                raise SignverseError("add_tables: the pose rows must hold the same clip ids in order")
            if self.field is None:
                self.field = poses.column("layout")[0].as_py()
        hashes = hash_ids(ids)
        known = np.asarray(self._index.hashes)
        hit = np.zeros(len(ids), bool)
        if len(known):
            hit = known[np.minimum(np.searchsorted(known, hashes), len(known) - 1)] == hashes
        dupes = {ids[i] for i in np.flatnonzero(hit) if ids[i] in self}
        if dupes or len(set(ids)) != len(ids):
            raise DuplicateClip(f"{self.root}: add_tables got ids already in the corpus or repeated "
                                f"(e.g. {sorted(dupes)[:3] or ids[:1]})")
        self._write_shard(clips, poses, hashes)

    def _write_shard(self, meta, poses, hashes: np.ndarray | None = None) -> None:
        number = self._next_shard
        name = schema.shard_name(number)
        pose_file = None
        if poses is not None:
            schema.check_name(self.field, "pose field")   # e.g. a layout name becoming a folder
            pose_file = self.root / schema.POSES_DIR / self.field / name
            write_pose_table(poses, pose_file, self.zstd_level, self.pose_compression)
        try:
            write_table_file(meta, self.root / schema.CLIPS_DIR / name,
                             schema.parquet_options("clips", meta.column_names, self.zstd_level))
        except BaseException:
            # Without its clips file the pose file is an orphan: remove it now (reopening would too).
            if pose_file is not None:
                pose_file.unlink(missing_ok=True)
            raise
        # The shard exists from here on.
        self._next_shard += 1
        self.written += meta.num_rows
        if hashes is None:
            hashes = hash_ids(meta.column("clip_id").to_pylist())
        self._index = self._index.merged(IdIndex.build([(number, hashes)]))
        self._index_dirty = True
        if poses is not None:
            self._note_field(set(poses.column("layout").drop_null().unique().to_pylist()))
        log.debug("wrote shard %s (%d clips)", name, meta.num_rows)

    def _note_field(self, layouts: set[str]) -> None:
        _note_field(self.root, self.manifest, self.field, layouts)

    def close(self) -> None:
        """Write the last (partial) shard and the id index, and release the writer lock."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            try:
                if self._index_dirty:
                    self._index.save(self.root / schema.INDEX_DIR)
            except OSError as exc:   # a cache: the next open rebuilds it from the shards
                log.warning("cannot save the id index of %s (%s); it is rebuilt on the next open",
                            self.root, exc)
            finally:
                self._lock.release()

    def __enter__(self) -> "CorpusWriter":
        return self

    def __exit__(self, exc_type, *_) -> None:
        # On an error the pending clips are still written: everything added so far is valid.
        if exc_type is not None and issubclass(exc_type, StoreWriteError):
            self._pending, self._pending_ids = [], set()   # the disk failed: do not try again
        self.close()


def clean_leftovers(root: Path) -> list[Path]:
    """Remove temporary files, and pose files of shards whose clips file never landed (a crash).

    Only under the writer lock: a live writer's temporary files look the same. Returns what was
    removed.
    """
    clips = set(list_shards(root / schema.CLIPS_DIR))
    removed = []
    for folder in [root / schema.CLIPS_DIR, root / schema.INDEX_DIR,
                   *(p for p in (root / schema.POSES_DIR).glob("*") if p.is_dir())]:
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            n = schema.shard_number(p.name)
            stale_pose = folder.parent.name == schema.POSES_DIR and n is not None and n not in clips
            if (p.name.startswith(".") and p.name.endswith(".tmp")) or stale_pose:
                log.warning("removing unfinished shard file %s", p)
                p.unlink()
                removed.append(p)
    return removed


def write_table_file(table, final: Path, options: dict[str, Any]) -> None:
    """Write a Parquet file under a temporary name, then publish it (exclusive create).

    A failed write (disk full...) leaves nothing: the temporary file is removed and a one-line
    :class:`StoreWriteError` says why.
    """
    import pyarrow.parquet as pq
    tmp = final.with_name(f".{final.name}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise StoreWriteError(f"{final}: already exists; refusing to replace a finished shard "
                                  "(run 'signverse repair')")
        pq.write_table(table, tmp, **options)
        with open(tmp, "rb+") as handle:   # durable before it becomes visible
            os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(final, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, final)


def write_pose_table(poses, final: Path, zstd_level: int,
                     pose_compression: str = schema.POSE_COMPRESSION) -> None:
    options = schema.parquet_options("poses", poses.column_names, zstd_level, pose_compression)
    raw = poses.column("xy").nbytes + poses.column("conf").nbytes
    options["row_group_size"] = schema.pose_row_group_size(raw, poses.num_rows)
    write_table_file(poses, final, options)


def _pose_table(rows: list[dict[str, Any]]):
    """The pose rows as a table; the per-frame person counts go in as one flat array (no loops)."""
    pa = schema.pa()
    sch = schema.poses_schema()
    counts = [r["persons"] for r in rows]
    lengths = np.array([0 if c is None else len(c) for c in counts], np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    flat = np.concatenate([c for c in counts if c is not None] or [np.zeros(0, np.uint8)]).astype(np.uint8)
    persons = pa.ListArray.from_arrays(offsets, pa.array(flat, pa.uint8()),
                                       mask=pa.array([c is None for c in counts]))
    columns = {name: pa.array([r[name] for r in rows], sch.field(name).type)
               for name in sch.names if name != "persons"}
    columns["persons"] = persons
    return pa.table([columns[n] for n in sch.names], schema=sch)


def _note_field(root: Path, manifest: dict[str, Any], field: str, layouts: set[str]) -> None:
    """Record a pose field and its layouts in corpus.json (rewritten only when something is new)."""
    schema.check_name(field, "pose field")
    entry = manifest.setdefault("pose_fields", {}).setdefault(field, {"layouts": []})
    if set(layouts) <= set(entry["layouts"]) and manifest.get("default_pose_field") is not None:
        return
    entry["layouts"] = sorted(set(entry["layouts"]) | set(layouts))
    if manifest.get("default_pose_field") is None:
        manifest["default_pose_field"] = field
    schema.write_json_atomic(root / schema.CORPUS_JSON, manifest)


def add_pose_field(path: str | Path, field: str, estimate: Callable[[Clip], PoseSeq | None], *,
                   source_field: str | None = None, zstd_level: int = schema.ZSTD_LEVEL,
                   pose_compression: str = schema.POSE_COMPRESSION) -> int:
    """A second pose pass: write ``poses/<field>/shard-N.parquet`` next to the existing shards.

    ``estimate(clip)`` gets each stored clip (with the poses of ``source_field``, default the
    corpus's default field) and returns its new poses or None. Nothing existing is rewritten;
    shards that already have the field are skipped, so an interrupted pass resumes. Returns the
    number of shards written.

    >>> add_pose_field("corpus", "coco-wholebody", lambda clip: run_estimator(clip))  # doctest: +SKIP
    """
    schema.check_name(field, "pose field")
    root = Path(path)
    with CorpusLock(root):
        clean_leftovers(root)
        corpus = Corpus(root, field=source_field, _locked=True)
        if field == corpus.field:
            raise SignverseError(f"pose field {field!r} already exists in {root}; pick a new name")
        folder = root / schema.POSES_DIR / field
        written = 0
        for shard, clips in corpus.iter_shards():
            target = folder / schema.shard_name(shard)
            if target.exists():
                continue
            rows = []
            for clip in clips:
                pose = estimate(clip)
                rows.append(schema.pose_row(clip.clip_id, pose) if pose is not None
                            else schema.empty_pose_row(clip.clip_id))
            table = _pose_table(rows)
            write_pose_table(table, target, zstd_level, pose_compression)
            written += 1
            _note_field(root, corpus.manifest, field,
                        set(table.column("layout").drop_null().unique().to_pylist()))
    return written

"""Reading a corpus store: random access by id, streaming shard by shard, metadata queries."""
from __future__ import annotations

import logging
from bisect import bisect_right
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip
from signverse.io.corpus import codec, schema
from signverse.io.corpus.group import PoseGroup
from signverse.io.corpus.index import IdIndex, hash_ids
from signverse.io.corpus.limits import ReadLimits
from signverse.io.corpus.meta import MetaRows

log = logging.getLogger(__name__)


class UnknownClip(InputError, KeyError):
    """A clip id that the corpus does not hold (also a KeyError, so ``dict``-style code works)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


def list_shards(folder: Path) -> list[int]:
    """Shard numbers of the finished ``shard-NNNNN.parquet`` files in a folder."""
    if not folder.is_dir():
        return []
    numbers = (schema.shard_number(p.name) for p in folder.iterdir())
    return sorted(n for n in numbers if n is not None)


def _arrow_errors() -> tuple[type[BaseException], ...]:
    pa = schema.pa()
    return (pa.ArrowException, OSError, ValueError)


class _Files:
    """A small LRU of open ParquetFile objects (the footer is parsed once per file)."""

    # Recently read row groups kept (shards are immutable): neighbouring ids share a row group, and
    # a trainer's random order over a shard revisits each of them. A pose row group is kept packed
    # (decompressed from LZ4/zstd, not decoded: ~5 bytes a point, ~640 bytes a dwpose frame, where
    # decoded float32 would take 1536), so 64 MiB holds ~100k dwpose frames; bounded by bytes
    # (each entry's nbytes) and by count.
    GROUP_BYTES = 64 << 20
    GROUPS = 1024
    # Read-ahead for dense random access (a trainer's first epoch in random order): once
    # AHEAD_AFTER row groups of a file were read for look-ups, a miss on a row group of at most
    # AHEAD_ROWS rows (a few long clips; those are converted whole on their first look-up anyway)
    # reads up to ``ahead`` uncached neighbours of few rows in the same Parquet call, at most
    # GROUP_BYTES / AHEAD_SHARE bytes together (by the footer), converted together (one
    # PoseGroup check instead of one per row group; measured ~15% of a fresh epoch's CPU here).
    # Each group keeps an entry of its own; members of one read share memory, so they are
    # counted once and evicted together. A sparse look-up (the first ones in a file) reads its
    # row group only.
    AHEAD_AFTER = 2
    AHEAD_ROWS = 64
    AHEAD_SHARE = 16

    def __init__(self, size: int):
        self.size = size
        self._open: OrderedDict[Path, Any] = OrderedDict()
        self._groups: OrderedDict[tuple, Any] = OrderedDict()
        self._bounds: dict[Path, list[int]] = {}   # first row of each row group, as Python ints
        self._misses: dict[Path, int] = {}         # row-group reads for look-ups, per file
        self._group_bytes = 0

    def get(self, path: Path) -> tuple[Any, np.ndarray]:
        """The open ParquetFile and the first row of each of its row groups (plus the total)."""
        entry = self._open.get(path)
        if entry is not None:
            self._open.move_to_end(path)
            return entry
        import pyarrow.parquet as pq
        if not path.is_file():
            raise InputError(path, "missing shard file")
        try:
            # pre_buffer off: on a memory-mapped file Arrow's pre-buffering only copies the
            # compressed column chunks into fresh memory before decompressing them (measured
            # ~30% of a row-group read's CPU here).
            pf = pq.ParquetFile(path, memory_map=True, pre_buffer=False)
            starts = np.concatenate([[0], np.cumsum([pf.metadata.row_group(i).num_rows
                                                     for i in range(pf.num_row_groups)])])
        except _arrow_errors() as exc:
            raise InputError(path, f"corrupt or truncated Parquet file ({exc})") from None
        self._open[path] = (pf, starts)
        self._bounds[path] = starts.tolist()
        if len(self._open) > self.size:
            self._bounds.pop(self._open.popitem(last=False)[0], None)
        return pf, starts

    def read_row(self, path: Path, row: int, columns: list[str] | None = None, guard=None):
        """The row group holding ``row`` as a Table, and the row's offset inside it.

        ``guard(pf, group, path)`` may refuse the row group before anything is read."""
        entry, offset = self._entry(path, row, columns, guard)
        if entry.table is None:   # converted by read_rows, the table let go: read it again
            self._drop(self._key(path, row, columns))
            entry, offset = self._entry(path, row, columns, guard)
        return entry.table, offset

    def _key(self, path: Path, row: int, columns: list[str] | None) -> tuple:
        pf, starts = self.get(path)
        group = int(np.searchsorted(starts, row, side="right")) - 1
        return (path, group, tuple(columns) if columns is not None else None)

    def read_rows(self, path: Path, row: int, columns: list[str] | None, guard, convert,
                  whole_after=1, ahead: int = 1):
        """Like :meth:`read_row`, with the row group as ``convert(table)``: converted once and
        kept instead of its table (what it holds, its ``nbytes``, counted against GROUP_BYTES).

        Until the row group has been asked for ``whole_after`` times (a number, or a function of
        the row group's table giving it), only the asked row is
        converted (``convert(table.slice(offset, 1))``, offset 0): sparse look-ups into a big
        corpus then never pay for converting hundreds of rows. ``ahead`` > 1 allows read-ahead
        (see AHEAD_AFTER); row groups read together are converted together, at once."""
        entry, offset = self._entry(path, row, columns, guard, ahead)
        if entry.converted is None:
            entry.hits += 1
            if entry.members is None:
                if callable(whole_after):
                    whole_after = whole_after(entry.table)
                if entry.hits < whole_after:
                    return convert(entry.table.slice(offset, 1)), 0
            converted = convert(entry.table)
            # From here on the conversion serves the group(s): the table is let go (the
            # conversion may still hold its buffers: its nbytes says what it keeps).
            kept = int(getattr(converted, "nbytes", entry.nbytes))
            for member in self._members(entry):
                member.converted = converted
                member.table = None
                self._group_bytes -= member.nbytes
                member.nbytes = 0
            entry.nbytes = kept
            self._group_bytes += kept
            self._evict(entry.members or ())
        return entry.converted, offset

    def _members(self, entry) -> list:
        """The cached entries sharing ``entry``'s read (itself included)."""
        if entry.members is None:
            return [entry]
        found = [self._groups.get(key) for key in entry.members]
        return [entry] + [m for m in found if m is not None and m is not entry]

    def _drop(self, key: tuple) -> None:
        """Forget a cached entry and the entries sharing its memory."""
        entry = self._groups.pop(key, None)
        if entry is None:
            return
        self._group_bytes -= entry.nbytes
        for other in entry.members or ():
            sibling = self._groups.pop(other, None)
            if sibling is not None:
                self._group_bytes -= sibling.nbytes

    def _evict(self, keep=()) -> None:
        while len(self._groups) > 1 and (self._group_bytes > self.GROUP_BYTES or len(self._groups) > self.GROUPS):
            key = next(iter(self._groups))
            if key in keep:   # only the read just made is left
                break
            self._drop(key)

    def _ahead(self, pf, path: Path, group: int, key: tuple, starts: list[int], ahead: int, guard) -> list[int]:
        """The row groups to read with ``group``: uncached neighbours of few rows that the guard
        accepts (a refused neighbour is left to its own look-up, which names it), ascending."""
        def small(g: int) -> bool:
            return (0 <= g < pf.num_row_groups and starts[g + 1] - starts[g] <= self.AHEAD_ROWS
                    and (path, g, key[2]) not in self._groups)

        def accepted(g: int) -> bool:
            if guard is None:
                return True
            try:
                guard(pf, g, path)
            except InputError:
                return False
            return True
        if not small(group):
            return [group]
        budget = self.GROUP_BYTES // self.AHEAD_SHARE
        meta = pf.metadata
        groups, size = [group], meta.row_group(group).total_byte_size
        for step in (1, -1):   # the following row groups first, then the preceding ones
            g = group + step
            while len(groups) < ahead and small(g):
                size += meta.row_group(g).total_byte_size
                if size > budget or not accepted(g):
                    break
                groups.append(g)
                g += step
        return sorted(groups)

    def _entry(self, path: Path, row: int, columns: list[str] | None, guard, ahead: int = 1):
        pf, _ = self.get(path)
        starts = self._bounds[path]
        group = bisect_right(starts, row) - 1   # per look-up: plain Python, not a numpy call
        if not 0 <= group < pf.num_row_groups:
            raise InputError(path, f"row {row} out of range ({starts[-1]} rows)")
        key = (path, group, columns if columns is None or type(columns) is tuple else tuple(columns))
        entry = self._groups.get(key)
        if entry is not None and (entry.table is not None or entry.converted is not None):
            self._groups.move_to_end(key)
            return entry, row - starts[group] + entry.base
        if guard is not None:   # only on a real read: a cached group has passed it
            guard(pf, group, path)
        groups = [group]
        if ahead > 1:
            misses = self._misses[path] = self._misses.get(path, 0) + 1
            if misses > self.AHEAD_AFTER:
                groups = self._ahead(pf, path, group, key, starts, ahead, guard)
        table = None
        if len(groups) > 1:
            try:
                table = pf.read_row_groups(groups, columns=columns, use_threads=False)
            except _arrow_errors():   # a damaged neighbour must not fail this look-up: read alone
                groups = [group]
        if table is None:
            try:
                table = pf.read_row_group(group, columns=columns, use_threads=False)
            except _arrow_errors() as exc:
                raise InputError(path, f"corrupt row group {group} ({exc})") from None
        if len(groups) == 1:
            entry = self._groups[key] = _Group(table)
            keys = (key,)
        else:
            keys = tuple((path, g, key[2]) for g in groups)
            base = starts[groups[0]]
            for g, k in zip(groups, keys):
                self._drop(k)   # a stale entry (its table let go by read_row)
                member = self._groups[k] = _Group(table, starts[g] - base, keys)
                if g != group:
                    member.nbytes = 0   # the read's bytes are counted once, on the asked group
            entry = self._groups[key]
            self._groups.move_to_end(key)
        self._group_bytes += entry.nbytes
        self._evict(keys)
        return entry, row - starts[group] + entry.base


class _Group:
    """A cached row group: its table, how often it was asked for, and its whole-group conversion.

    A row group read together with others (read-ahead) shares their table: ``base`` is its first
    row in it, ``members`` the keys of all of them (None: read alone)."""

    __slots__ = ("table", "hits", "converted", "nbytes", "base", "members")

    def __init__(self, table, base: int = 0, members: tuple | None = None):
        self.table = table
        self.hits = 0
        self.converted = None
        self.nbytes = table_bytes(table)
        self.base = base
        self.members = members


def table_bytes(table) -> int:
    """The memory a table's buffers take: Arrow's buffer-size sum (~1 us; ``table.nbytes``
    walks every value range and costs ~20-40 us a row group, paid per look-up group)."""
    return int(table.get_total_buffer_size())


def _binary_views(array) -> list[memoryview | None]:
    """Zero-copy views of each value of a pyarrow (large) binary array (None where null)."""
    pa = schema.pa()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    _, off_buf, data_buf = array.buffers()
    offsets = np.frombuffer(off_buf, width)[array.offset: array.offset + n + 1].tolist()
    data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    valid = array.is_valid().to_numpy(zero_copy_only=False).tolist() if array.null_count else [True] * n
    return [data[offsets[i]:offsets[i + 1]] if valid[i] else None for i in range(n)]


# Pose row groups per read while streaming: each read's rows are checked and indexed together
# (PoseGroup, ~0.2-0.5 ms however many rows) and Parquet's per-read cost is shared; 4 groups of
# ~1 MB measured ~15-20% less CPU per frame than one by one here (the chunks are not copied).
STREAM_GROUPS = 4


class PoseRows:
    """The pose rows of one row-group read: checked once (:class:`group.PoseGroup`), decoded whole
    (streaming) or row by row (random access); a row that fails a check is decoded alone by the
    reference path, which names the clip."""

    # what decoding needs (not ``persons``); a tuple: random access keys its cache by it per look-up
    COLUMNS = ("clip_id", "layout", "n_frames", "n_persons", "n_points", "fps", "width", "height",
               "xy_step", "conf_scale", "xy", "conf", "xy_escapes")

    def __init__(self, table, source: Path | str, limits: ReadLimits | None = None):
        self.source = source
        self.limits = limits or ReadLimits()
        self.table = table
        self.group = PoseGroup(table, self.limits)
        self._ids: list[str] | None = None
        self._ok: list[bool] = []
        self._scalars: list[tuple] | None = None   # streaming, per row: fps, width, height, layout
        self._layouts: list | None = None
        self._decoded: list | None = None    # every row at once (PoseGroup.decode_all), on first use
        self._views: tuple | None = None     # per-row byte views: the row-by-row path

    def __len__(self) -> int:
        return self.group.n

    @property
    def nbytes(self) -> int:
        """What the random-access cache keeps for this row group: the packed group."""
        return self.group.nbytes

    @property
    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self.table.column("clip_id").to_pylist()
        return self._ids

    def clip_id(self, i: int) -> str:
        return self.ids[i]

    def arrays(self, i: int, *, only: bool = False, copy: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """``(xy, conf)`` of row ``i``, or None for a clip stored without poses. ``only`` or
        ``copy``: decode just this row into arrays of its own (random access); otherwise the
        whole read is decoded on first use and the row's arrays are views into it (streaming)."""
        group = self.group
        if only or copy:
            if group.ok[i]:
                return group.decode_row(i)
        else:
            if self._scalars is None:
                self._make_scalars()
            if self._ok[i]:
                if self._decoded is None:
                    self._decoded = group.decode_all()
                return self._decoded[i]
        if not group.present[i]:
            return None
        return self._row_by_row(i)

    def _make_scalars(self) -> None:
        """Per-row Python values a streamed clip needs, converted once per read (a numpy scalar
        per field and clip cost ~0.2 us each; random access, which looks at a few rows of a
        group, takes them one by one)."""
        g = self.group
        self._ok = g.ok.tolist()
        self._scalars = list(zip(g.fps.tolist(), g.widths.tolist(), g.heights.tolist(),
                                 self.table.column("layout").to_pylist()))

    def _row_by_row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The reference decoder for a row the group checks left out: its error names the clip."""
        if self._views is None:
            self._views = tuple(_binary_views(self.table.column(c)) for c in ("xy", "conf", "xy_escapes"))
        xy, conf, escapes = self._views
        row = {name: self.table.column(name)[i].as_py() for name in
               ("n_frames", "n_persons", "n_points", "xy_step", "conf_scale", "width", "height")}
        shape = (row["n_frames"], row["n_persons"], row["n_points"])
        self.limits.check_shape(shape, self.clip_id(i), self.source)
        try:
            return codec.decode_arrays(xy[i], conf[i], shape, row["xy_step"], row["conf_scale"],
                                       width=row["width"], height=row["height"], escapes=escapes[i])
        except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
            raise InputError(self.source, f"clip {self.clip_id(i)!r}: damaged pose row ({exc})") from None

    def pose(self, i: int, *, only: bool = False, copy: bool = False) -> PoseSeq | None:
        arrays = self.arrays(i, only=only, copy=copy)
        if arrays is None:
            return None
        g = self.group
        if self._scalars is not None:   # streaming
            fps, width, height, layout = self._scalars[i]
            ok = self._ok[i]
        else:
            if self._layouts is None:
                self._layouts = self.table.column("layout").to_pylist()
            fps, width, height, layout = float(g.fps[i]), int(g.widths[i]), int(g.heights[i]), self._layouts[i]
            ok = g.ok[i]
        if ok:   # fps, width and height checked with the group
            return codec.trusted_pose(arrays[0], arrays[1], fps=fps, width=width, height=height, layout=layout)
        row = {name: self.table.column(name)[i].as_py() for name in ("fps", "width", "height")}
        return codec.trusted_pose(arrays[0], arrays[1], layout=layout, **row)


class Corpus:
    """A corpus store opened for reading.

    >>> corpus = open_corpus("my_corpus")            # doctest: +SKIP
    >>> clip = corpus["vid1-0003"]; clip.pose.xy.shape  # doctest: +SKIP
    (48, 1, 128, 2)
    >>> corpus.where(language="ase", split="train").shuffle(0)  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, field: str | None = None, open_files: int = 128,
                 on_error: str = "raise", limits: ReadLimits | None = None, _locked: bool = False):
        if on_error not in ("raise", "skip"):
            raise InputError(None, f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.errors: list[InputError] = []   # shards skipped while streaming with on_error="skip"
        self.root = Path(path)
        self.manifest = schema.read_manifest(self.root)
        self._check_field(field)
        self.field = field or self.manifest.get("default_pose_field")
        self.shards = list_shards(self.root / schema.CLIPS_DIR)
        self.limits = limits or ReadLimits()
        self._files = _Files(open_files)
        self._pose_files: dict[tuple[int, str], Path] = {}
        self._clip_paths: dict[int, Path] = {}
        self._index: IdIndex | None = None
        self._locked = _locked   # the caller (a writer) holds the corpus lock

    def __repr__(self) -> str:
        return f"Corpus({str(self.root)!r}, shards={len(self.shards)}, field={self.field!r})"

    # -- files -------------------------------------------------------------------------------
    def fields(self) -> list[str]:
        """Names of the pose fields (``poses/<field>/``)."""
        return sorted(self.manifest.get("pose_fields", {}))

    def clips_path(self, shard: int) -> Path:
        path = self._clip_paths.get(shard)
        if path is None:   # one Path per shard (its hash is cached): look-ups key caches by it
            path = self._clip_paths[shard] = self.root / schema.CLIPS_DIR / schema.shard_name(shard)
        return path

    def poses_path(self, shard: int, field: str | None = None) -> Path:
        return self.root / schema.POSES_DIR / (field or self.field or "") / schema.shard_name(shard)

    def _pose_file(self, shard: int, field: str) -> Path | None:
        """The pose file of a shard and field, None while it does not exist (found files are
        remembered: shards are immutable, so only a missing one is looked for again)."""
        key = (shard, field)
        path = self._pose_files.get(key)
        if path is None:
            path = self.poses_path(shard, field)
            if not path.is_file():
                return None
            self._pose_files[key] = path
        return path

    def _read_table(self, path: Path, columns: list[str] | None = None):
        # Through the open-file cache: pq.read_table's dataset discovery cost ~2 ms more per
        # shard than the read itself (0.75 ms for a 300-clip metadata shard here).
        pf, _ = self._files.get(path)
        try:
            return pf.read(columns=columns, use_threads=False)
        except _arrow_errors() as exc:
            raise InputError(path, f"corrupt or truncated Parquet file ({exc})") from None

    # -- index -------------------------------------------------------------------------------
    @property
    def index(self) -> IdIndex:
        """The id index (memory-mapped; rebuilt from the shards when missing or stale)."""
        if self._index is None:
            folder = self.root / schema.INDEX_DIR
            index = IdIndex.load(folder, self.shards)
            if index is None:
                log.info("rebuilding the id index of %s (%d shards)", self.root, len(self.shards))
                index = IdIndex.build((s, hash_ids(self._shard_ids(s))) for s in self.shards)
                self._save_index(index, folder)
            self._index = index
        return self._index

    def _save_index(self, index: IdIndex, folder: Path) -> None:
        """Save a rebuilt index, only while holding the writer lock (a writer may be running)."""
        from signverse.io.corpus.lock import CorpusLock
        lock = None
        try:
            if not self._locked:
                lock = CorpusLock(self.root)
                if not lock.try_acquire():
                    log.info("%s has an active writer: not saving the rebuilt index", self.root)
                    return
            index.save(folder)
        except (OSError, SignverseError) as exc:  # a read-only corpus still works, rebuilds each open
            log.warning("cannot save the id index in %s: %s", folder, exc)
        finally:
            if lock is not None:
                lock.release()

    def _shard_ids(self, shard: int) -> list[str]:
        return self._read_table(self.clips_path(shard), ["clip_id"]).column("clip_id").to_pylist()

    # A metadata row group is converted whole on its second look-up (256 rows of Python lists,
    # ~0.3-0.5 ms); the first converts its row only: a sparse look-up pays for one row, a
    # trainer's epoch converts each group once.
    META_WHOLE_AFTER = 2
    # A pose row group of many rows too (checking and indexing 256 rows of a corpus of short clips
    # costs a sparse look-up ~0.3-0.9 ms more here); one of a few long clips is checked whole at
    # once (checking one row first, then all, cost a first epoch ~17% more CPU here).
    @staticmethod
    def _pose_whole_after(table) -> int:
        return 1 if table.num_rows <= 64 else 2

    def _locate(self, clip_id: str) -> tuple[int, int, MetaRows, int] | None:
        """``(shard, row, metadata rows, offset)`` of an id's metadata row, or None."""
        for shard, row in self.index.find(clip_id):
            rows, offset = self._files.read_rows(self.clips_path(shard), row, None, None, MetaRows,
                                                 self.META_WHOLE_AFTER)
            if rows.clip_id(offset) == clip_id:
                return shard, row, rows, offset
        return None

    # -- mapping-like access -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, clip_id: object) -> bool:
        return isinstance(clip_id, str) and self._locate(clip_id) is not None

    def ids(self) -> list[str]:
        """All clip ids in storage order."""
        return [i for s in self.shards for i in self._shard_ids(s)]

    def __getitem__(self, clip_id: str) -> Clip:
        found = self._locate(clip_id)
        if found is None:
            raise UnknownClip(self.root, f"unknown clip id {clip_id!r}")
        shard, row, rows, offset = found
        return self._clip(shard, row, rows, offset)

    def get(self, clip_id: str, default: Clip | None = None, *, field: str | None = None) -> Clip | None:
        """The clip (with poses of ``field``, default the corpus's default field) or ``default``."""
        found = self._locate(clip_id)
        if found is None:
            return default
        shard, row, rows, offset = found
        return self._clip(shard, row, rows, offset, field)

    def pose(self, clip_id: str, field: str | None = None) -> PoseSeq | None:
        """Only the poses of one clip."""
        clip = self.get(clip_id, field=field)
        if clip is None:
            raise UnknownClip(self.root, f"unknown clip id {clip_id!r}")
        return clip.pose

    def _check_field(self, field: str | None) -> None:
        if field is not None and field not in self.manifest.get("pose_fields", {}):
            raise InputError(self.root / schema.CORPUS_JSON, f"no pose field {field!r} "
                             f"(fields: {', '.join(self.fields()) or 'none'})")

    def _clip(self, shard: int, row: int, meta: MetaRows, at: int, field: str | None = None) -> Clip:
        self._check_field(field)
        field = field or self.field
        pose = None
        path = self._pose_file(shard, field) if field else None
        if path is not None:   # a later field may not cover every shard yet
            # The pose row group is kept packed and checked (PoseRows); each access decodes its
            # row into arrays of its own, so no caller's edit reaches another read.
            rows, offset = self._files.read_rows(path, row, PoseRows.COLUMNS, self.limits.check_group,
                                                 lambda table: PoseRows(table, path, self.limits),
                                                 self._pose_whole_after, STREAM_GROUPS)
            if rows.clip_id(offset) != meta.clip_id(at):
                raise InputError(path, f"row {row} holds {rows.clip_id(offset)!r}, "
                                       f"expected {meta.clip_id(at)!r}: shard files out of step")
            pose = rows.pose(offset, only=True)
        return meta.clip(at, pose)

    # -- streaming ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Clip]:
        for _, clips in self._iter_shards():
            yield from clips

    def iter_shards(self, field: str | None = None) -> Iterator[tuple[int, list[Clip]]]:
        """``(shard number, its clips)`` one shard at a time (memory bounded by one shard)."""
        self._check_field(field)
        for shard, clips in self._iter_shards(field=field):
            yield shard, list(clips)

    def _iter_shards(self, rows: dict[int, np.ndarray] | None = None, field: str | None = None):
        for shard in self.shards:
            wanted = None if rows is None else rows.get(shard)
            if rows is not None and (wanted is None or not len(wanted)):
                continue
            clips = self._shard_clips(shard, wanted, field)
            if self.on_error == "skip":
                # A damaged shard is dropped whole (so no clip appears twice or half-read).
                try:
                    clips = list(clips)
                except InputError as exc:
                    self._skip(exc)
                    continue
            yield shard, clips

    def _skip(self, exc: InputError) -> None:
        log.warning("skipping a damaged shard: %s", exc)
        self.errors.append(exc)

    def _shard_clips(self, shard: int, wanted: np.ndarray | None, field: str | None):
        """Clips of one shard (rows ``wanted`` in ascending order, or all), pose row group by group."""
        field = field or self.field
        table = self._read_table(self.clips_path(shard))
        if wanted is not None:
            table = table.take(np.asarray(wanted))
        meta = MetaRows(table)
        if not field or not self.poses_path(shard, field).is_file():
            for at in range(len(meta)):
                yield meta.clip(at)
            return
        path = self.poses_path(shard, field)
        rows = np.arange(len(meta)) if wanted is None else np.asarray(wanted)
        at = 0
        for first, table in self._pose_reads(path, None if wanted is None else rows):
            pose_rows = PoseRows(table, path, self.limits)
            offsets = rows[(rows >= first) & (rows < first + table.num_rows)] - first
            offsets = offsets.tolist()   # Python ints
            # The two files hold the same ids in the same order: checked for the whole read at once.
            stored = pose_rows.ids
            if [stored[o] for o in offsets] != meta.ids[at:at + len(offsets)]:
                for j, o in enumerate(offsets):
                    if stored[o] != meta.ids[at + j]:
                        raise InputError(path, f"row {o + first} holds {stored[o]!r}, expected "
                                               f"{meta.ids[at + j]!r}: shard files out of step")
            for o in offsets:
                yield meta.clip(at, pose_rows.pose(o))
                at += 1

    def _pose_reads(self, path: Path, rows: np.ndarray | None = None):
        """``(first row, table)`` reads of a pose shard: up to STREAM_GROUPS consecutive row groups
        at a time (measured ~20% cheaper per frame than one by one), skipping row groups that
        hold none of ``rows``."""
        pf, starts = self._files.get(path)
        groups = list(range(pf.num_row_groups))
        if rows is not None:
            groups = np.unique(np.searchsorted(starts, rows, side="right") - 1).tolist()
        batch: list[int] = []
        for i, g in enumerate(groups):
            batch.append(g)
            if len(batch) < STREAM_GROUPS and i + 1 < len(groups) and groups[i + 1] == g + 1:
                continue
            for group in batch:
                self.limits.check_group(pf, group, path)
            try:
                table = pf.read_row_groups(batch, columns=PoseRows.COLUMNS, use_threads=False)
            except _arrow_errors() as exc:
                raise InputError(path, f"corrupt row groups {batch[0]}-{batch[-1]} ({exc})") from None
            yield int(starts[batch[0]]), table
            batch = []

    def iter_arrays(self, field: str | None = None) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(clip_id, xy, conf)`` for every clip, without building Clip/PoseSeq objects (fastest)."""
        self._check_field(field)
        field = field or self.field
        for shard in self.shards:
            path = self.poses_path(shard, field)
            if not path.is_file():
                continue
            shard_arrays = self._shard_arrays(path)
            if self.on_error == "skip":
                try:
                    shard_arrays = list(shard_arrays)
                except InputError as exc:
                    self._skip(exc)
                    continue
            yield from shard_arrays

    def _shard_arrays(self, path: Path):
        for _, table in self._pose_reads(path):
            rows = PoseRows(table, path, self.limits)
            for i in range(len(rows)):
                arrays = rows.arrays(i)
                if arrays is not None:
                    yield rows.clip_id(i), arrays[0], arrays[1]

    # -- metadata ----------------------------------------------------------------------------
    def metadata(self, columns: list[str] | None = None):
        """All metadata rows as one pyarrow Table (plus ``_shard`` and ``_row`` columns)."""
        pa = schema.pa()
        tables = []
        for shard in self.shards:
            t = self._read_table(self.clips_path(shard), columns)
            t = t.append_column("_shard", pa.array(np.full(len(t), shard, np.int32)))
            tables.append(t.append_column("_row", pa.array(np.arange(len(t), dtype=np.int32))))
        if not tables:
            schema_ = schema.clips_schema()
            if columns:
                schema_ = pa.schema([schema_.field(c) for c in columns])
            return schema_.empty_table().append_column("_shard", pa.array([], pa.int32())) \
                .append_column("_row", pa.array([], pa.int32()))
        return pa.concat_tables(tables)

    def records(self, columns: list[str] | None = None) -> list[dict[str, Any]]:
        """Metadata rows as plain dicts (no pandas needed)."""
        table = self.metadata(columns)
        return table.drop_columns(["_shard", "_row"]).to_pylist()

    # -- selections --------------------------------------------------------------------------
    def clips(self) -> "ClipSet":
        """Every clip, as a lazily iterable ClipSet."""
        from signverse.io.corpus.clipset import ClipSet
        return ClipSet(self)

    def where(self, **conditions) -> "ClipSet":
        """Clips whose metadata match, e.g. ``where(language="ase", split="train")``."""
        return self.clips().where(**conditions)

    def filter(self, predicate) -> "ClipSet":
        """Clips for which ``predicate(metadata row dict)`` is true (or a pyarrow expression)."""
        return self.clips().filter(predicate)

    def summary(self) -> dict[str, Any]:
        """Per-language videos/clips/hours, splits and QC distributions as plain dicts."""
        from signverse.io.corpus.summary import COLUMNS, summarise
        return summarise(self.metadata(COLUMNS))

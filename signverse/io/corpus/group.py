"""One pose row-group read, checked once for the whole group and decoded whole or row by row.

Every per-row check the decoder needs (payload sizes against the claimed shape, the read limits,
escape lists, the stored fps) runs as a few numpy operations over the group's columns, and the
fused kernel's per-row descriptors are built once. Then:

* streaming decodes every row in one kernel call per row width (:meth:`PoseGroup.decode_all`),
  each clip's arrays being non-overlapping views into the group's arrays;
* random access decodes one row per call into arrays of its own (:meth:`PoseGroup.decode_row`),
  so the group can stay cached in its packed form (5 bytes a point, not the 12 of decoded
  float32) and no caller can reach another caller's arrays.

A row that fails a check is left to the caller's row-by-row path, which names the clip; the
other rows still decode. Both paths give the same bits as :func:`codec.decode_arrays`.
"""
from __future__ import annotations

import sys
import threading

import numpy as np

from signverse.io.corpus import codec, schema
from signverse.io.corpus.kernel import readonly
from signverse.io.corpus.limits import ReadLimits

_INTS = ("n_frames", "n_persons", "n_points", "width", "height")
_FLOATS = ("xy_step", "conf_scale", "fps")


def _binary(array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (int64, ``len + 1``), data bytes (read-only uint8, zero-copy) and the validity
    mask (None: no nulls) of a pyarrow (large_)binary array."""
    width = np.int64 if array.type.id == _large_binary_id() else np.int32
    _, off_buf, data_buf = array.buffers()
    n = len(array)
    offsets = np.frombuffer(off_buf, width)[array.offset: array.offset + n + 1].astype(np.int64, copy=False)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else None
    return offsets, readonly(data), valid


def _payload(column) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Per row: start in its chunk's bytes, size, and chunk number; the chunks' bytes; the
    validity mask (None: no nulls), of a (chunked) pyarrow binary column."""
    parts = [_binary(chunk) for chunk in column.chunks] if column.num_chunks else [_binary(column.combine_chunks())]
    if len(parts) == 1:
        offsets, data, valid = parts[0]
        return offsets[:-1], np.diff(offsets), [data], np.zeros(len(offsets) - 1, np.intp), valid
    starts = np.concatenate([offsets[:-1] for offsets, _, _ in parts])
    sizes = np.concatenate([np.diff(offsets) for offsets, _, _ in parts])
    chunk = np.repeat(np.arange(len(parts)), [len(offsets) - 1 for offsets, _, _ in parts])
    valid = None
    if any(v is not None for _, _, v in parts):
        valid = np.concatenate([v if v is not None else np.ones(len(o) - 1, bool) for o, _, v in parts])
    return starts, sizes, [data for _, data, _ in parts], chunk, valid


def _large_binary_id() -> int:
    global _LARGE_BINARY
    if _LARGE_BINARY is None:   # once: schema.pa() goes through importlib on every call
        _LARGE_BINARY = schema.pa().large_binary().id
    return _LARGE_BINARY


_LARGE_BINARY = None


def _one_chunk(column):
    """A table column as one Array: zero-copy for one row-group read (one chunk); a read of
    several row groups is combined (copied)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _numbers(array, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as ``dtype`` (0 where null) and its validity mask (None: no nulls)."""
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        values = np.zeros(len(array), dtype)
        values[valid] = array.drop_null().to_numpy(zero_copy_only=False)
        return values, valid
    return array.to_numpy(zero_copy_only=False).astype(dtype, copy=False), None


class _Outputs(threading.local):
    """Output buffers of whole-read decodes, reused once nothing refers to them any more.

    A read's decoded arrays are ~1.5 KB a frame of fresh memory; memory new to the process costs
    a page fault per 4 KB on first write (here about as much as decoding it), and the C allocator
    hands big blocks back to the system when they are freed. So each thread keeps up to
    POOL_BYTES of buffers: a buffer is handed out again only when no array (view, memoryview,
    tensor made from it) refers to it any more, which its reference count says exactly; in-use
    buffers are never touched.
    """

    POOL_BYTES = 32 << 20   # all pooled buffers together, in use or idle
    POOL_COUNT = 64

    def __init__(self):
        self.pool: list[np.ndarray] = []

    def take(self, nbytes: int) -> np.ndarray:
        """``nbytes`` of writable uint8 memory that no live array shares."""
        for buf in self.pool:
            if buf.nbytes >= nbytes and sys.getrefcount(buf) <= _IDLE_REFS:
                return buf[:nbytes]
        size = 1 << max(16, (nbytes - 1).bit_length())   # a power of two: reusable by similar sizes
        held = sum(b.nbytes for b in self.pool)
        if held + size > self.POOL_BYTES or len(self.pool) >= self.POOL_COUNT:
            keep, count = [], len(self.pool)
            for old in self.pool:   # make room from idle buffers, oldest first
                if ((held + size > self.POOL_BYTES or count >= self.POOL_COUNT)
                        and sys.getrefcount(old) <= _IDLE_REFS):
                    held -= old.nbytes
                    count -= 1
                else:
                    keep.append(old)
            self.pool = keep
        if held + size > self.POOL_BYTES or len(self.pool) >= self.POOL_COUNT:
            return np.empty(nbytes, np.uint8)   # not pooled: exactly what was asked for
        buf = np.empty(size, np.uint8)
        self.pool.append(buf)
        return buf[:nbytes]


def _idle_refs() -> int:
    """The reference count of a pooled buffer that nobody else holds, seen as in ``take``."""
    pool = [np.empty(1, np.uint8)]
    for buf in pool:
        return sys.getrefcount(buf)
    return 0


_IDLE_REFS = _idle_refs()
_OUTPUTS = _Outputs()


def _outputs(frames: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``xy [frames, width]`` and ``conf [frames, width // 2]`` float32 in one pooled buffer."""
    a = frames * width * 4
    buf = _OUTPUTS.take(a + frames * (width // 2) * 4)
    return buf[:a].view(np.float32).reshape(frames, width), buf[a:].view(np.float32).reshape(frames, width // 2)


class PoseGroup:
    """The pose rows of one table read (``reader.PoseRows.COLUMNS``), checked and indexed.

    ``ok[i]``: row ``i`` decodes here; a row stored without poses (null payload) has
    ``present[i]`` False; any other row is left to the row-by-row path (damaged, degenerate or
    over the limits), which raises the one-line error naming the clip.
    """

    def __init__(self, table, limits: ReadLimits | None = None):
        limits = limits or ReadLimits()
        # Few, whole-column numpy operations: a row group holds ~10-250 rows, and each numpy
        # call costs ~1-2 us however short its arrays.
        self.n = n = table.num_rows
        xy, conf = table.column("xy"), table.column("conf")
        if [len(c) for c in xy.chunks] != [len(c) for c in conf.chunks]:   # never from one read
            xy, conf = xy.combine_chunks(), conf.combine_chunks()
        # A read of several row groups has one chunk per group: each chunk's bytes stay where
        # Arrow put them (``chunk[i]`` says which), nothing is copied.
        self.xy_start, xy_size, self.xy_datas, self.chunk, present = _payload(xy)
        self.cf_start, cf_size, self.cf_datas, _, cf_valid = _payload(conf)
        self.es_off, self.es_data, _ = _binary(_one_chunk(table.column("xy_escapes")))
        self.present = present if present is not None else np.ones(n, bool)
        ok = self.present.copy()
        if cf_valid is not None:
            ok &= cf_valid
        ints = np.empty((len(_INTS), n), np.int64)
        floats = np.empty((len(_FLOATS), n), np.float64)
        for out, names in ((ints, _INTS), (floats, _FLOATS)):
            for j, name in enumerate(names):
                out[j], valid = _numbers(_one_chunk(table.column(name)), out.dtype)
                if valid is not None:
                    ok &= valid
        shape = ints[:3]
        t, p, k = shape
        # Degenerate shapes go row by row (codec.decode_arrays handles them); a claimed size is
        # compared in float64 first, so a hostile product cannot wrap around int64.
        ok &= (shape > 0).all(0) & (shape.prod(0, dtype=np.float64) <= limits.max_clip_values)
        ok &= ((ints[3:5] >= 0) & (ints[3:5] <= codec.MAX_FRAME_SIDE)).all(0)   # else refused row by row
        values = np.where(ok, shape.prod(0) * 2, 0)
        ok &= (xy_size == 2 * values) & (cf_size == values // 2)
        # finite step, confidence scale and fps; step and fps positive (else trusted_pose's
        # checked constructor would refuse the fps)
        ok &= np.isfinite(floats).all(0) & (floats[0] > 0) & (floats[2] > 0)
        self.frames, self.persons, self.points = t, p, k
        self.widths, self.heights = ints[3], ints[4]
        self.steps, self.scales, self.fps = floats
        self.row_width = p * k * 2
        self.esc_pos, self.esc_val, esc_range = self._escapes(ok, values)
        self.ok = ok
        # The frame centre in steps (codec.centre_steps, vectorised) starts the int32 sums.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            centres = np.rint(np.maximum(ints[3:5], 0) / 2.0 / np.where(ok, self.steps, 1.0))
        ok &= (np.abs(centres) < 2 ** 31).all(0)
        centres[:, ~ok] = 0
        # The kernel's per-row descriptor (reader row = output row 0: one row decoded alone) and
        # scales, exactly as codec._kernel_rows builds them.
        desc = np.empty((n, 8), np.int64)
        desc[:, 0] = self.xy_start
        desc[:, 1] = self.cf_start
        desc[:, 2] = t
        desc[:, 3] = 0
        desc[:, 4:6] = centres.T
        desc[:, 6:8] = esc_range
        self.desc = readonly(desc)
        self.centres = desc[:, 4:6]
        scale = np.empty((n, 2), np.float32)
        scale[:, 0] = self.steps
        scale[:, 1] = self.scales / codec.CONF_LEVELS
        self.scale = readonly(scale)
        self.table = table

    @property
    def nbytes(self) -> int:
        """What a cache keeping this group holds: the table's buffers plus the small index arrays
        (Arrow's buffer-size sum: ``table.nbytes`` costs ~20-40 us a group)."""
        return int(self.table.get_total_buffer_size()) + 100 * self.n

    def _escapes(self, ok: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every ``ok`` row's escapes gathered at once: positions (int64) and values (int32) of all
        rows end to end, and each row's ``[start, end)`` in them. A row whose list is damaged
        (not whole pairs, a position beyond its payload) is marked not ``ok``; a row whose
        positions are not strictly ascending (never written so) is put in order by
        ``codec._ordered_escapes``, as the kernel walks them in order."""
        n = self.n
        esc_range = np.zeros((n, 2), np.int64)
        size = np.diff(self.es_off)
        rows = np.flatnonzero(ok & (size > 0))
        if not rows.size:
            return readonly(codec._NO_POS), readonly(codec._NO_VAL), esc_range
        pairs = size[rows] // 8
        whole = pairs * 8 == size[rows]
        ok[rows[~whole]] = False
        rows, pairs = rows[whole], pairs[whole]
        ends = np.cumsum(pairs)
        starts = ends - pairs
        row_of = np.repeat(np.arange(rows.size), pairs)
        j = np.arange(int(ends[-1]) if ends.size else 0) - starts[row_of]
        first = self.es_off[rows][row_of] + 4 * j
        four = np.arange(4)
        pos = self.es_data[(first[:, None] + four)].view("<u4").ravel().astype(np.int64)
        val = self.es_data[(first + 4 * pairs[row_of])[:, None] + four].view("<i4").ravel().astype(np.int32)
        beyond = pos >= values[rows][row_of]
        unordered = np.zeros(pos.size, bool)
        unordered[1:] = (pos[1:] <= pos[:-1]) & (row_of[1:] == row_of[:-1])
        if beyond.any() or unordered.any():
            bad = np.zeros(rows.size, bool)
            bad[row_of[beyond]] = True
            ok[rows[bad]] = False
            fix = np.zeros(rows.size, bool)
            fix[row_of[unordered]] = True
            pos_parts, val_parts = [], []
            for r in range(rows.size):
                p, v = pos[starts[r]:ends[r]], val[starts[r]:ends[r]]
                if bad[r]:
                    p, v = p[:0], v[:0]
                elif fix[r]:
                    p, v = codec._ordered_escapes(p, v)
                pos_parts.append(p)
                val_parts.append(v)
            pos, val = np.concatenate(pos_parts), np.concatenate(val_parts)
            pairs = np.array([p.size for p in pos_parts], np.int64)
            ends = np.cumsum(pairs)
            starts = ends - pairs
        esc_range[rows, 0] = starts
        esc_range[rows, 1] = ends
        return readonly(pos), readonly(val), esc_range

    def shape(self, i: int) -> tuple[int, int, int]:
        return int(self.frames[i]), int(self.persons[i]), int(self.points[i])

    def _patches(self, rows: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Escapes of ``rows`` for the numpy path, keyed by position in ``rows``."""
        out = {}
        for j, i in enumerate(rows):
            a, b = self.desc[i, 6], self.desc[i, 7]
            if b > a:
                out[j] = self.esc_pos[a:b], self.esc_val[a:b]
        return out

    def _numpy(self, rows: list[int], width: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
        sources = []
        lengths = []
        for i in rows:
            t = int(self.frames[i])
            a, c = int(self.xy_start[i]), int(self.cf_start[i])
            xy, conf = self.xy_datas[self.chunk[i]], self.cf_datas[self.chunk[i]]
            sources.append((xy[a:a + t * width], xy[a + t * width:a + 2 * t * width], conf[c:c + t * width // 2]))
            lengths.append(t)
        centres = [(int(self.centres[i, 0]), int(self.centres[i, 1])) for i in rows]
        return codec._decode_rows(sources, lengths, width, self.steps[rows].tolist(),
                                  self.scales[rows].tolist(), centres, self._patches(rows))

    def decode_row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(xy [T, P, K, 2], conf [T, P, K])`` of an ``ok`` row, in arrays of its own."""
        t, p, k = self.shape(i)
        c = self.chunk[i]
        width = p * k * 2
        run = codec._runner(t)
        if run is None:
            xy, conf, _ = self._numpy([i], width)
        else:
            xy, conf = _outputs(t, width)
            run(self.xy_datas[c], self.cf_datas[c], self.desc[i:i + 1], self.scale[i:i + 1], self.esc_pos,
                self.esc_val, xy, conf)
        return xy.reshape(t, p, k, 2), conf.reshape(t, p, k)

    def decode_all(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Every ``ok`` row decoded (None for the others): one kernel call per row width, each
        row's arrays views of its own, non-overlapping part of the group's arrays."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * self.n
        ok_rows = np.flatnonzero(self.ok)
        if not ok_rows.size:
            return out
        run = codec._runner(int(self.frames[ok_rows].sum()))
        # rows of one chunk and one width per kernel call
        kinds = self.row_width[ok_rows] * len(self.xy_datas) + self.chunk[ok_rows]
        for kind in np.unique(kinds).tolist():
            members = ok_rows[kinds == kind]
            width, chunk = divmod(kind, len(self.xy_datas))
            lengths = self.frames[members]
            bounds = np.zeros(members.size + 1, np.int64)
            np.cumsum(lengths, out=bounds[1:])
            if run is None:
                xy, conf, _ = self._numpy(members.tolist(), width)
            else:
                desc = self.desc[members]   # a copy: the output rows are set for this call
                desc[:, 3] = bounds[:-1]
                xy, conf = _outputs(int(bounds[-1]), width)
                run(self.xy_datas[chunk], self.cf_datas[chunk], readonly(desc), readonly(self.scale[members]),
                    self.esc_pos, self.esc_val, xy, conf)
            for i, s, e, p, k in zip(members.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(),
                                     self.persons[members].tolist(), self.points[members].tolist()):
                out[i] = xy[s:e].reshape(e - s, p, k, 2), conf[s:e].reshape(e - s, p, k)
        return out

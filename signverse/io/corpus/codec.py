"""Pack a PoseSeq into compact byte strings and back (numpy only, no per-point Python loops).

Coordinates: each coordinate is quantised to an integer number of steps of
``step = max(width, height) / XY_LEVELS`` pixels, measured from the frame centre, so the rounding
error is at most half a step: ``max(width, height) / 65536`` px (0.0293 px for a 1920-px-wide
frame), plus the float32 rounding of the decoded value (< 1.3e-4 px for coordinates within
+-4096 px). The centre is snapped to whole steps. A missing point repeats the previous frame's value (its delta is 0 and costs almost
nothing after zstd); missing-ness itself is carried by the confidence (0 = missing). Values are
delta-coded along time, zigzag-mapped to uint16 and stored as two byte planes (all low bytes,
then all high bytes): the high plane of small motion deltas is nearly all zero, which the Parquet
codec (LZ4 by default, zstd on request) squeezes out. The rare delta beyond +-32767 steps (a point jumping more than a frame
side, e.g. an estimator's far off-frame guess) is an "escape": its position and int32 value are
stored apart and patched in on decode.

Confidences: ``q = clip(round(conf / conf_scale * 255), 1, 255)`` for detected points, 0 for missing,
with ``conf_scale = max(1, max conf)`` (some estimators emit scores slightly above 1), so the error
is at most ``conf_scale / 255``.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from signverse.core import limits as core_limits
from signverse.core.pose import PoseSeq
from signverse.io.corpus.kernel import kernel, loaded_kernel, readonly

CODEC = "centre-delta-zigzag-u16-byteplanes-escapes-v1"
XY_LEVELS = 32768          # steps per max(width, height)
CONF_LEVELS = 255
ERROR_BOUND_FRACTION = 0.5 / XY_LEVELS   # max |error| / max(width, height), before float32 rounding
_LIMIT = 2 ** 30           # keeps values inside int32 even for absurd off-frame points
_ESCAPE = 32767
_EMPTY = b""
_NO_POS = np.zeros(0, np.int64)
_NO_VAL = np.zeros(0, np.int32)
_NAN_PAIR = np.array([np.nan, np.nan], np.float32).view(np.uint64)[0]


# A row stating a larger frame side than any writer holds is damaged (a 1e9-px frame overflowed
# the decoder's centre offsets).
MAX_FRAME_SIDE = core_limits.MAX_FRAME_SIDE


def check_frame_size(width: int, height: int) -> None:
    if not (0 <= int(width) <= MAX_FRAME_SIDE and 0 <= int(height) <= MAX_FRAME_SIDE):
        raise ValueError(f"frame size {width}x{height} outside 0-{MAX_FRAME_SIDE} px")


def xy_step(width: int, height: int) -> float:
    """Pixels per quantisation step for a frame size (1/64 px when the size is unknown)."""
    size = max(int(width), int(height))
    return size / XY_LEVELS if size > 0 else 1.0 / 64.0


def centre_steps(width: int, height: int, step: float) -> tuple[int, int]:
    """The frame centre in whole steps: quantised values are measured from it (so they stay small)."""
    return round(max(int(width), 0) / 2.0 / step), round(max(int(height), 0) / 2.0 / step)


@dataclass(frozen=True)
class Packed:
    """The stored form of one pose sequence."""

    xy: bytes          # two byte planes of zigzag uint16 deltas, [T, P, K, 2] order
    escapes: bytes     # uint32 flat positions then int32 deltas of the escaped values ("" if none)
    conf: bytes        # uint8 [T, P, K]
    persons: np.ndarray  # uint8 [T] people with at least one point
    step: float
    conf_scale: float


def encode(pose: PoseSeq) -> Packed:
    """Quantise and pack ``pose`` (see the module docstring for the error bounds)."""
    step = xy_step(pose.width, pose.height)
    valid = pose.conf > 0
    centre = np.array(centre_steps(pose.width, pose.height, step))
    q = np.rint(np.clip(np.nan_to_num(pose.xy.astype(np.float64) / step), -_LIMIT, _LIMIT)).astype(np.int64)
    if q.shape[0] and not valid.all():
        # Hold the last detected value through gaps: index of the latest valid frame per point;
        # a point not yet seen sits at the centre (delta 0 in the first frame).
        t = np.arange(q.shape[0])[:, None, None]
        last = np.maximum.accumulate(np.where(valid, t, 0), axis=0)
        q = np.take_along_axis(q, last[..., None], axis=0)
        q[~valid & (last == 0) & ~valid[:1]] = centre
    d = np.diff(q, axis=0, prepend=np.zeros_like(q[:1]))
    if len(d):
        d[0] -= centre   # the first frame is stored relative to the frame centre
    d = d.ravel()
    over = np.flatnonzero(np.abs(d) > _ESCAPE)
    escapes = _EMPTY
    if len(over):
        escapes = over.astype("<u4").tobytes() + d[over].astype("<i4").tobytes()
        d[over] = 0
    z = ((d << 1) ^ (d >> 63)).astype("<u2")
    planes = np.ascontiguousarray(z.view(np.uint8).reshape(-1, 2).T)
    scale = float(max(1.0, pose.conf.max())) if pose.conf.size else 1.0
    cq = np.where(valid, np.clip(np.rint(pose.conf / scale * CONF_LEVELS), 1, CONF_LEVELS), 0)
    persons = np.minimum(valid.any(-1).sum(-1), 255).astype(np.uint8)
    return Packed(planes.tobytes(), escapes, cq.astype(np.uint8).tobytes(), persons, step, scale)


def _prefix_sum_rows(d: np.ndarray) -> np.ndarray:
    """In-place running sum over axis 0 of a ``[T, W]`` int32 array.

    numpy's accumulate is element-serial, and a plain row loop costs one Python step per frame;
    blocks of ~sqrt(T) rows summed side by side, then carried over, need ~2 sqrt(T) steps.
    """
    t_len = d.shape[0]
    if t_len < 8:
        return np.cumsum(d, axis=0, dtype=np.int32, out=d)
    add = np.add
    block = int(math.isqrt(t_len))
    n_blocks = t_len // block
    x = d[: n_blocks * block].reshape(n_blocks, block, d.shape[1])
    for j in range(1, block):
        add(x[:, j], x[:, j - 1], out=x[:, j])
    carry = np.cumsum(x[:, block - 1], axis=0, dtype=np.int32)
    x[1:] += carry[:-1, None, :]
    for t in range(n_blocks * block, t_len):
        add(d[t], d[t - 1], out=d[t])
    return d


def _escapes(raw: np.ndarray, n: int, what: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions (< ``n``) and int32 values of an escape list, None when empty; ValueError if damaged."""
    if not raw.size:
        return None
    m = raw.size // 8
    if raw.size != 8 * m:
        raise ValueError(f"{what}: escape list of {raw.size} bytes is not whole (position, value) pairs")
    pos = raw[:4 * m].copy().view("<u4")
    if int(pos.max()) >= n:
        raise ValueError(f"{what}: escape position beyond the payload of {n} values")
    return pos, raw[4 * m:].copy().view("<i4")


# Values decoded per numpy chunk (work buffers of 10 bytes a value, reused by the thread): each
# numpy call costs ~1-2 us here, so chunks must be large; 2**13 values ran 2.5x slower per frame.
CHUNK_VALUES = 1 << 18
_local = threading.local()


def _work_buffers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three int16 and one int32 buffer of ``n`` values, reused by the thread (warm in cache)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or bufs[0].size < n:
        bufs = (np.empty(n, np.int16), np.empty(n, np.int16), np.empty(n, np.int16), np.empty(n, np.int32))
        _local.bufs = bufs
    return bufs


def _decode_rows(sources: list[tuple[np.ndarray, np.ndarray, np.ndarray]], lengths: list[int], width: int,
                 steps: list[float], scales: list[float], centres: list[tuple[int, int]],
                 escapes: dict[int, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Decode rows into ``(xy [frames, width] float32, conf [frames, width // 2] float32, bounds)``:
    row ``j`` is ``[bounds[j]:bounds[j + 1]]`` of both.

    ``sources[j]`` holds row ``j``'s low plane, high plane and confidences (uint8). The frames of
    all rows are decoded in chunks of about CHUNK_VALUES values, a chunk spanning several short
    rows or part of a long one: the planes are gathered straight into int16 work buffers (the cast
    is the copy), un-zigzagged, widened, and summed along time in one pass; each row's first frame
    in the chunk is corrected first by its centre (or, for a row continued from the previous chunk,
    its last absolute frame there) and by the previous row's sum (int32 arithmetic wraps, so the
    correction is exact). Every numpy operation runs on same-type arrays: a mixed-type ufunc goes
    through numpy's buffered casting, several times slower per value.
    """
    bounds = [0]
    for t in lengths:
        bounds.append(bounds[-1] + t)
    total = bounds[-1]
    xy = np.empty((total, width), np.float32)
    conf = np.empty((total, width // 2), np.float32)
    per_chunk = max(1, CHUNK_VALUES // width)
    hi16, lo16, tmp16, d32 = _work_buffers(min(total, per_chunk) * width)
    carry = None   # last absolute frame of a row that continues into the next chunk
    j = 0
    for g0 in range(0, total, per_chunk):
        g1 = min(total, g0 + per_chunk)
        n = (g1 - g0) * width
        hi, lo, tmp = hi16[:n], lo16[:n], tmp16[:n]
        pieces = []   # (row, first frame in row, end frame in row, first frame in chunk)
        while j < len(lengths) and bounds[j] < g1:
            f0, f1 = max(0, g0 - bounds[j]), min(lengths[j], g1 - bounds[j])
            if f1 > f0:
                pieces.append((j, f0, f1, bounds[j] + f0 - g0))
            if bounds[j + 1] > g1:
                break
            j += 1
        for r, f0, f1, at in pieces:
            lo_r, hi_r, cq_r = sources[r]
            a, b = at * width, (at + f1 - f0) * width
            np.copyto(hi[a:b], hi_r[f0 * width:f1 * width], casting="unsafe")
            np.copyto(lo[a:b], lo_r[f0 * width:f1 * width], casting="unsafe")
            np.copyto(conf[g0 + at:g0 + at + f1 - f0], cq_r[f0 * width // 2:f1 * width // 2].reshape(-1, width // 2),
                      casting="unsafe")
        # zigzag u = hi << 8 | lo decodes to (u >> 1) ^ -(u & 1): exact in int16
        hi <<= 7
        np.right_shift(lo, 1, out=tmp)
        hi |= tmp
        lo &= 1
        np.negative(lo, out=lo)
        hi ^= lo
        d = d32[:n].reshape(g1 - g0, width)
        np.copyto(d.reshape(-1), hi, casting="unsafe")
        flat = d.reshape(-1)
        for r, f0, f1, at in pieces:
            if r in escapes:
                pos, values = escapes[r]
                sel = (pos >= f0 * width) & (pos < f1 * width)
                if sel.any():
                    flat[pos[sel].astype(np.int64) + (at - f0) * width] = values[sel]
            first = d[at]
            if f0 == 0:   # a row's first frame is stored relative to the frame centre
                cx, cy = centres[r]
                first[0::2] += cx
                first[1::2] += cy
            else:
                first += carry
        ends = [d[at:at + f1 - f0].sum(axis=0, dtype=np.int32) for _, f0, f1, at in pieces[:-1]]
        for (_, _, _, at), last in zip(pieces[1:], ends):
            d[at] -= last
        _prefix_sum_rows(d)
        r, _, f1, _ = pieces[-1]
        carry = d[-1].copy() if f1 < lengths[r] else None
        out = xy[g0:g1]
        np.copyto(out, d, casting="unsafe")
        cf = conf[g0:g1]
        missing = cf == 0
        for r, f0, f1, at in pieces:
            out[at:at + f1 - f0] *= np.float32(steps[r])
            cf[at:at + f1 - f0] *= np.float32(scales[r] / CONF_LEVELS)
        if missing.any():
            # One 8-byte (x, y) NaN pair per missing point: a contiguous inner loop, not a stride-2 one.
            np.copyto(out.view(np.uint64), _NAN_PAIR, where=missing)
    return xy, conf, bounds



# The fused kernel (numba) or numpy: None = numpy for the first KERNEL_AFTER_FRAMES frames a
# process decodes, then the kernel; True / False = always / never the kernel. Loading numba and
# its cached kernel costs ~0.5-1.5 s once per process (measured here under load), which a
# command reading a few clips would only lose; 100k frames are ~0.1 s of numpy decoding.
USE_KERNEL: bool | None = None
KERNEL_AFTER_FRAMES = 100_000
_frames_seen = 0


def _runner(frames: int):
    """The kernel to decode ``frames`` more frames with, or None for the numpy path."""
    global _frames_seen
    if USE_KERNEL is False:
        return None
    run = loaded_kernel()
    if run is None:
        _frames_seen += frames
        if USE_KERNEL or _frames_seen > KERNEL_AFTER_FRAMES:
            run = kernel()
    return run


def _ordered_escapes(pos: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Escapes in ascending position, the last of a repeated position winning (as numpy's
    ``d[pos] = values`` does): the fused kernel walks them in order."""
    if pos.size > 1 and bool((pos[1:] <= pos[:-1]).any()):
        order = np.argsort(pos, kind="stable")
        pos, values = pos[order], values[order]
        keep = np.append(pos[1:] != pos[:-1], True)
        pos, values = pos[keep], values[keep]
    return pos, values


def _kernel_rows(run, xy_data: np.ndarray, cf_data: np.ndarray, xy_starts: list[int], cf_starts: list[int],
                 lengths: list[int], width: int, steps: list[float], scales: list[float],
                 centres: list[tuple[int, int]], escapes: dict[int, tuple[np.ndarray, np.ndarray]]):
    """:func:`_decode_rows` done by the fused kernel (:mod:`.kernel`): the same arrays, bit for bit."""
    bounds = [0]
    for t in lengths:
        bounds.append(bounds[-1] + t)
    xy = np.empty((bounds[-1], width), np.float32)
    conf = np.empty((bounds[-1], width // 2), np.float32)
    esc = [(0, 0)] * len(lengths)
    pos_parts, val_parts, at = [], [], 0
    for j in sorted(escapes):
        pos, values = _ordered_escapes(*escapes[j])
        esc[j] = (at, at + pos.size)
        at += pos.size
        pos_parts.append(pos.astype(np.int64))
        val_parts.append(values.astype(np.int32))
    rows = np.array([(a, c, t, o, cx, cy, e0, e1) for a, c, t, o, (cx, cy), (e0, e1)
                     in zip(xy_starts, cf_starts, lengths, bounds, centres, esc)], np.int64)
    scale = np.array([(step, np.float32(s / CONF_LEVELS)) for step, s in zip(steps, scales)], np.float32)
    run(readonly(xy_data), readonly(cf_data), readonly(rows), readonly(scale),
        readonly(np.concatenate(pos_parts) if pos_parts else _NO_POS),
        readonly(np.concatenate(val_parts) if val_parts else _NO_VAL), xy, conf)
    return xy, conf, bounds


def decode_arrays(xy: bytes | memoryview, conf: bytes | memoryview, shape: tuple[int, int, int],
                  step: float, conf_scale: float, *, width: int, height: int,
                  escapes: bytes | memoryview | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unpack to ``xy [T, P, K, 2]`` float32 (NaN where missing) and ``conf [T, P, K]`` float32."""
    check_frame_size(width, height)
    t, p, k = (int(s) for s in shape)
    n = t * p * k * 2
    planes = np.frombuffer(xy, np.uint8)
    if planes.size != n * 2:
        raise ValueError(f"xy payload has {planes.size} bytes, expected {n * 2} for shape {shape}")
    cq = np.frombuffer(conf, np.uint8)
    if cq.size != n // 2:
        raise ValueError(f"conf payload has {cq.size} bytes, expected {n // 2} for shape {shape}")
    patch = _escapes(np.frombuffer(escapes, np.uint8) if escapes is not None else planes[:0], n,
                     f"shape {shape}")
    if n == 0:
        return np.zeros((t, p, k, 2), np.float32), np.zeros((t, p, k), np.float32)
    centre = [centre_steps(width, height, step)]
    patches = {} if patch is None else {0: patch}
    run = _runner(t)
    if run is not None:
        out_xy, out_conf, _ = _kernel_rows(run, planes, cq, [0], [0], [t], p * k * 2, [step], [conf_scale],
                                           centre, patches)
    else:
        out_xy, out_conf, _ = _decode_rows([(planes[:n], planes[n:], cq)], [t], p * k * 2, [step],
                                           [conf_scale], centre, patches)
    return out_xy.reshape(t, p, k, 2), out_conf.reshape(t, p, k)


def _offsets_and_data(array) -> tuple[list[int], np.ndarray]:
    """Value offsets (``len + 1`` Python ints) and the data bytes of a pyarrow (large_)binary array."""
    import pyarrow as pa
    if isinstance(array, pa.ChunkedArray):
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    _, off_buf, data_buf = array.buffers()
    n = len(array)
    offsets = np.frombuffer(off_buf, width)[array.offset: array.offset + n + 1].tolist()
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def decode_batch(xy, conf, escapes, n_frames, n_persons, n_points, steps, conf_scales, widths,
                 heights) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Decode every row of a pose row-group read at once: ``(xy, conf)`` per row, None where null.

    ``xy``, ``conf``, ``escapes`` are the pyarrow binary columns; the others are per-row lists.
    Rows with the same number of values per frame are decoded together by :func:`_decode_rows`
    (their planes gathered end to end, every numpy pass run once over the batch); the arrays of a
    row are views into the batch arrays.
    Raises ValueError for a row whose payload does not fit its shape (callers then fall back to
    :func:`decode_arrays` row by row to name the clip).
    """
    xy_off, xy_data = _offsets_and_data(xy)
    cf_off, cf_data = _offsets_and_data(conf)
    es_off, es_data = _offsets_and_data(escapes)
    xy_valid = xy.is_valid().to_numpy(zero_copy_only=False).tolist() if xy.null_count else None
    rows = len(n_frames)
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * rows
    groups: dict[int, list[int]] = {}
    run = _runner(sum(int(t) for t in n_frames if isinstance(t, int) and t > 0))
    for i in range(rows):
        if xy_valid is not None and not xy_valid[i]:
            continue
        t, p, k = int(n_frames[i]), int(n_persons[i]), int(n_points[i])
        if t <= 0 or p <= 0 or k <= 0:   # degenerate shapes: the row-by-row path handles them
            out[i] = decode_arrays(memoryview(xy_data[xy_off[i]:xy_off[i + 1]]),
                                   memoryview(cf_data[cf_off[i]:cf_off[i + 1]]), (t, p, k),
                                   steps[i], conf_scales[i], width=widths[i], height=heights[i],
                                   escapes=memoryview(es_data[es_off[i]:es_off[i + 1]]))
            continue
        # Sizes first, so that nothing is allocated for a shape the payload does not back.
        n = t * p * k * 2
        if xy_off[i + 1] - xy_off[i] != 2 * n:
            raise ValueError(f"row {i}: xy payload has {xy_off[i + 1] - xy_off[i]} bytes, expected {2 * n}")
        if cf_off[i + 1] - cf_off[i] != n // 2:
            raise ValueError(f"row {i}: conf payload has {cf_off[i + 1] - cf_off[i]} bytes, expected {n // 2}")
        groups.setdefault(p * k * 2, []).append(i)
    for width, members in groups.items():
        lengths = [int(n_frames[i]) for i in members]
        sources = None if run is not None else [
            (xy_data[xy_off[i]:xy_off[i] + t * width], xy_data[xy_off[i] + t * width:xy_off[i + 1]],
             cf_data[cf_off[i]:cf_off[i + 1]]) for i, t in zip(members, lengths)]
        patches = {}
        for j, i in enumerate(members):
            if es_off[i + 1] > es_off[i]:
                patches[j] = _escapes(es_data[es_off[i]:es_off[i + 1]], lengths[j] * width, f"row {i}")
        args = ([steps[i] for i in members], [conf_scales[i] for i in members],
                [centre_steps(widths[i], heights[i], steps[i]) for i in members], patches)
        if run is not None:
            xy_rows, conf_rows, bounds = _kernel_rows(run, xy_data, cf_data, [xy_off[i] for i in members],
                                                      [cf_off[i] for i in members], lengths, width, *args)
        else:
            xy_rows, conf_rows, bounds = _decode_rows(sources, lengths, width, *args)
        for j, i in enumerate(members):
            s, e = bounds[j], bounds[j + 1]
            t, p, k = lengths[j], int(n_persons[i]), int(n_points[i])
            out[i] = xy_rows[s:e].reshape(t, p, k, 2), conf_rows[s:e].reshape(t, p, k)
    return out


def trusted_pose(xy: np.ndarray, conf: np.ndarray, *, fps: float, width: int, height: int,
                 layout: str) -> PoseSeq:
    """A PoseSeq from decoder output without re-checking the arrays.

    The decoder already guarantees PoseSeq's invariants (float32, ``[T, P, K, 2]`` / ``[T, P, K]``,
    NaN exactly where the confidence is 0); the full check costs about as much as decoding. The
    scalars still come from the file, so they are checked.
    """
    fps = float(fps) if fps is not None else float("nan")
    if not (fps > 0 and math.isfinite(fps)):
        return PoseSeq(xy, conf, fps=fps, width=width, height=height, layout=layout)  # raises
    pose = object.__new__(PoseSeq)
    # The frozen dataclass's fields set directly (``z`` keeps its class default, None).
    pose.__dict__.update(xy=xy, conf=conf, fps=fps, width=int(width), height=int(height), layout=layout)
    return pose

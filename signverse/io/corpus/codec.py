"""Pack a PoseSeq into compact byte strings and back (numpy only, no per-point Python loops).

Coordinates: each coordinate is quantised to an integer number of steps of
``step = max(width, height) / XY_LEVELS`` pixels, measured from the frame centre, so the rounding
error is at most half a step: ``max(width, height) / 65536`` px (0.0293 px for a 1920-px-wide
frame), plus the float32 rounding of the decoded value (< 1.3e-4 px for coordinates within
+-4096 px). The centre is snapped to whole steps. A missing point repeats the previous frame's value (its delta is 0 and costs almost
nothing after zstd); missing-ness itself is carried by the confidence (0 = missing). Values are
delta-coded along time, zigzag-mapped to uint16 and stored as two byte planes (all low bytes,
then all high bytes): the high plane of small motion deltas is nearly all zero, which the Parquet
zstd codec squeezes out. The rare delta beyond +-32767 steps (a point jumping more than a frame
side, e.g. an estimator's far off-frame guess) is an "escape": its position and int32 value are
stored apart and patched in on decode.

Confidences: ``q = clip(round(conf / conf_scale * 255), 1, 255)`` for detected points, 0 for missing,
with ``conf_scale = max(1, max conf)`` (some estimators emit scores slightly above 1), so the error
is at most ``conf_scale / 255``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from signverse.core.pose import PoseSeq

CODEC = "centre-delta-zigzag-u16-byteplanes-escapes-v1"
XY_LEVELS = 32768          # steps per max(width, height)
CONF_LEVELS = 255
ERROR_BOUND_FRACTION = 0.5 / XY_LEVELS   # max |error| / max(width, height), before float32 rounding
_LIMIT = 2 ** 30           # keeps values inside int32 even for absurd off-frame points
_ESCAPE = 32767
_EMPTY = b""
_NAN_PAIR = np.array([np.nan, np.nan], np.float32).view(np.uint64)[0]


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


def decode_arrays(xy: bytes | memoryview, conf: bytes | memoryview, shape: tuple[int, int, int],
                  step: float, conf_scale: float, *, width: int, height: int,
                  escapes: bytes | memoryview | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unpack to ``xy [T, P, K, 2]`` float32 (NaN where missing) and ``conf [T, P, K]`` float32."""
    t, p, k = (int(s) for s in shape)
    n = t * p * k * 2
    planes = np.frombuffer(xy, np.uint8)
    if planes.size != n * 2:
        raise ValueError(f"xy payload has {planes.size} bytes, expected {n * 2} for shape {shape}")
    cq = np.frombuffer(conf, np.uint8)
    if cq.size != n // 2:
        raise ValueError(f"conf payload has {cq.size} bytes, expected {n // 2} for shape {shape}")
    # zigzag u = hi << 8 | lo decodes to (u >> 1) ^ -(u & 1); built from the planes in 4 int32 passes
    lo = planes[:n]
    d = planes[n:].astype(np.int32)
    d <<= 7
    d |= lo >> 1
    d ^= np.negative((lo & 1).view(np.int8))
    if escapes is not None and len(escapes):
        raw = np.frombuffer(escapes, np.uint8)
        m = raw.size // 8
        pos = raw[:4 * m].view("<u4")
        if raw.size != 8 * m or (m and int(pos.max()) >= n):
            raise ValueError(f"escape list of {raw.size} bytes does not fit shape {shape}")
        d[pos] = raw[4 * m:].view("<i4")
    rows = d.reshape(t, p * k * 2)
    if t:
        cx, cy = centre_steps(width, height, step)
        first = rows[0].reshape(-1, 2)
        first[:, 0] += cx
        first[:, 1] += cy
    q = _prefix_sum_rows(rows).reshape(t, p, k, 2)
    out_xy = np.multiply(q, np.float32(step), dtype=np.float32)
    cq = cq.reshape(t, p, k)
    missing = cq == 0
    if missing.any():
        # One 8-byte (x, y) NaN pair per missing point: a contiguous inner loop, not a stride-2 one.
        np.copyto(out_xy.view(np.uint64)[..., 0], _NAN_PAIR, where=missing)
    out_conf = np.multiply(cq, np.float32(conf_scale / CONF_LEVELS), dtype=np.float32)
    return out_xy, out_conf


def _offsets_and_data(array) -> tuple[np.ndarray, np.ndarray]:
    """Value offsets (int64, ``len + 1``) and the data bytes of a pyarrow (large_)binary array."""
    import pyarrow as pa
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    _, off_buf, data_buf = array.buffers()
    n = len(array)
    offsets = np.frombuffer(off_buf, width)[array.offset: array.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def _zigzag_into(dst: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """``dst`` (int32) = zigzag-decoded ``hi << 8 | lo``, in four passes without temporaries of int32."""
    np.left_shift(hi, 7, out=dst, dtype=np.int32)
    dst |= lo >> 1
    dst ^= np.negative((lo & 1).view(np.int8))


def decode_batch(xy, conf, escapes, n_frames, n_persons, n_points, steps, conf_scales, widths,
                 heights) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Decode every row of a pose row-group read at once: ``(xy, conf)`` per row, None where null.

    ``xy``, ``conf``, ``escapes`` are the pyarrow binary columns; the others are per-row lists.
    Rows with the same number of values per frame are decoded together: their zigzag deltas are
    laid end to end in one ``[frames, values]`` int32 array and summed along time in one pass,
    each clip's first row having been corrected by the previous clip's last absolute row (int32
    arithmetic wraps, so the correction is exact), then NaN-filled and the confidences dequantised
    once for the whole batch. The arrays of a row are views into the batch arrays.
    Raises ValueError for a row whose payload does not fit its shape (callers then fall back to
    :func:`decode_arrays` row by row to name the clip).
    """
    xy_off, xy_data = _offsets_and_data(xy)
    cf_off, cf_data = _offsets_and_data(conf)
    es_off, es_data = _offsets_and_data(escapes)
    xy_valid = xy.is_valid().to_numpy(zero_copy_only=False) if xy.null_count else None
    rows = len(n_frames)
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * rows
    groups: dict[int, list[int]] = {}
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
        if int(xy_off[i + 1] - xy_off[i]) != 2 * n:
            raise ValueError(f"row {i}: xy payload has {int(xy_off[i + 1] - xy_off[i])} bytes, expected {2 * n}")
        if int(cf_off[i + 1] - cf_off[i]) != n // 2:
            raise ValueError(f"row {i}: conf payload has {int(cf_off[i + 1] - cf_off[i])} bytes, expected {n // 2}")
        groups.setdefault(p * k * 2, []).append(i)
    for width, members in groups.items():
        _decode_group(out, members, width, xy_off, xy_data, cf_off, cf_data, es_off, es_data,
                      n_frames, n_persons, n_points, steps, conf_scales, widths, heights)
    return out


def _decode_group(out, members, width, xy_off, xy_data, cf_off, cf_data, es_off, es_data,
                  n_frames, n_persons, n_points, steps, conf_scales, widths, heights) -> None:
    lengths = np.array([int(n_frames[i]) for i in members], np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    total = int(lengths.sum())
    d = np.empty((total, width), np.int32)
    flat = d.reshape(-1)
    cq = np.empty((total, width // 2), np.uint8)
    cflat = cq.reshape(-1)
    for j, i in enumerate(members):
        n = int(lengths[j]) * width
        a, b = int(xy_off[i]), int(xy_off[i + 1])   # sizes checked in decode_batch
        c0, c1 = int(cf_off[i]), int(cf_off[i + 1])
        at = int(starts[j]) * width
        dst = flat[at:at + n]
        _zigzag_into(dst, xy_data[a:a + n], xy_data[a + n:b])
        cflat[at // 2:(at + n) // 2] = cf_data[c0:c1]
        e0, e1 = int(es_off[i]), int(es_off[i + 1])
        if e1 > e0:
            raw = es_data[e0:e1]
            m = raw.size // 8
            if raw.size != 8 * m:
                raise ValueError(f"row {i}: escape list of {raw.size} bytes")
            pos = raw[:4 * m].copy().view("<u4")
            if m and int(pos.max()) >= n:
                raise ValueError(f"row {i}: escape position beyond the payload")
            dst[pos] = raw[4 * m:].copy().view("<i4")
        cx, cy = centre_steps(widths[i], heights[i], steps[i])
        first = d[int(starts[j])]
        first[0::2] += cx
        first[1::2] += cy
    if len(members) > 1:
        # One running sum over all clips, restarting at each clip: at the end of clip j it holds
        # clip j's last absolute row, which is the sum of clip j's own deltas; so clip j + 1's
        # first row gives that back. (A per-clip sum along time is vectorised across the row;
        # np.add.reduceat along axis 0 is not.)
        ends = [d[int(starts[j]):int(starts[j + 1])].sum(axis=0, dtype=np.int32)
                for j in range(len(members) - 1)]
        for j, last in enumerate(ends):
            d[int(starts[j + 1])] -= last
    _prefix_sum_rows(d)
    xy_out = np.empty((total, width), np.float32)
    for j, i in enumerate(members):   # a scalar factor per clip: twice as fast as a broadcast column
        s, e = int(starts[j]), int(starts[j] + lengths[j])
        np.multiply(d[s:e], np.float32(steps[i]), out=xy_out[s:e], dtype=np.float32)
    missing = cq == 0
    if missing.any():
        np.copyto(xy_out.view(np.uint64), _NAN_PAIR, where=missing)
    scale_rows = np.repeat(np.array([conf_scales[i] / CONF_LEVELS for i in members], np.float32),
                           lengths)[:, None]
    conf_out = np.multiply(cq, scale_rows, dtype=np.float32)
    for j, i in enumerate(members):
        s, e = int(starts[j]), int(starts[j] + lengths[j])
        t, p, k = int(n_frames[i]), int(n_persons[i]), int(n_points[i])
        out[i] = xy_out[s:e].reshape(t, p, k, 2), conf_out[s:e].reshape(t, p, k)


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
    for name, value in (("xy", xy), ("conf", conf), ("fps", fps), ("width", int(width)),
                        ("height", int(height)), ("layout", layout)):
        object.__setattr__(pose, name, value)
    return pose

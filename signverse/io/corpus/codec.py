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

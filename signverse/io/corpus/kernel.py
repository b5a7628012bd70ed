"""The fused decode kernel of the corpus store's pose payloads (optional: needs numba).

:func:`signverse.io.corpus.codec.decode_batch` decodes with numpy in about ten whole-array passes
(zigzag, running sum along time, scale, NaN fill, confidences); each pass re-reads and re-writes
every value. This kernel does the same arithmetic in one pass per frame, compiled by numba, and
gives bit-identical arrays (same int32 wrap-around sums, the same float32 products, the same NaN).
Without numba (the ``fast`` extra) the numpy path is used; nothing else changes. A process
decodes its first ``codec.KERNEL_AFTER_FRAMES`` frames with numpy and only then loads numba (about
a second, once), so a command that reads a few clips does not pay for it.

The kernel trusts its inputs: the caller has checked every payload size, shape and escape position
against the buffers (as the numpy path does) before calling it.
"""
from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

_STATE: dict[str, object] = {}
_NAN_PAIR = np.array([np.nan, np.nan], np.float32).view(np.uint64)[0]   # the numpy path's NaN pair


def _source(xy_data, cf_data, rows, scale, esc_pos, esc_val, xy_out, conf_out):
    # rows[r] = (xy start, conf start, frames, first output row, centre x, centre y, first escape,
    # end of escapes) and scale[r] = (step, confidence factor): two arrays, not ten, because each
    # argument costs numba's dispatcher ~1-2 us per call, which random access pays per clip.
    # Written so that LLVM vectorises the inner loops: per-frame slices, explicit int32/uint32
    # arithmetic (numba would otherwise widen to int64), one loop per kind of work (measured ~3x
    # faster than one loop doing everything with 2-d indexing).
    width = xy_out.shape[1]
    half = width // 2
    acc = np.empty(width, np.int32)
    pairs_out = xy_out.view(np.uint64)
    nan_pair = _NAN_PAIR
    one, eight = np.uint32(1), np.uint32(8)
    for r in range(rows.shape[0]):
        t_len = rows[r, 2]
        n = t_len * width
        lo = xy_data[rows[r, 0]:rows[r, 0] + n]
        hi = xy_data[rows[r, 0] + n:rows[r, 0] + 2 * n]
        cq = cf_data[rows[r, 1]:rows[r, 1] + t_len * half]
        out_row = rows[r, 3]
        step = scale[r, 0]
        factor = scale[r, 1]
        for w in range(0, width, 2):   # the first frame is stored relative to the frame centre
            acc[w] = rows[r, 4]
            acc[w + 1] = rows[r, 5]
        e = rows[r, 6]
        e_end = rows[r, 7]
        for t in range(t_len):
            base = t * width
            lo_t = lo[base:base + width]
            hi_t = hi[base:base + width]
            row = xy_out[out_row + t]
            for w in range(width):
                u = np.uint32(lo_t[w]) | (np.uint32(hi_t[w]) << eight)
                a = np.int32(acc[w] + (np.int32(u >> one) ^ -np.int32(u & one)))
                acc[w] = a
                row[w] = np.float32(a) * step
            # an escaped delta replaces the zigzag one (positions ascending, checked by the caller)
            while e < e_end and esc_pos[e] < base + width:
                w = esc_pos[e] - base
                u = np.uint32(lo_t[w]) | (np.uint32(hi_t[w]) << eight)
                a = np.int32(acc[w] - (np.int32(u >> one) ^ -np.int32(u & one)) + esc_val[e])
                acc[w] = a
                row[w] = np.float32(a) * step
                e += 1
            c = cq[t * half:(t + 1) * half]
            crow = conf_out[out_row + t]
            for k in range(half):
                crow[k] = np.float32(c[k]) * factor
            # the (x, y) pair of a missing point as one 8-byte NaN pair: a select, which
            # vectorises (a branch per point ran ~3x slower)
            pairs = pairs_out[out_row + t]
            for k in range(half):
                pairs[k] = nan_pair if c[k] == 0 else pairs[k]


def readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view: numba compiles one variant per writability, so every input is read-only."""
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def _warm_up(run) -> None:
    """Compile (or load from numba's cache) with the argument types decode_batch passes."""
    rows = np.array([[0, 0, 1, 0, 0, 0, 0, 0]], np.int64)
    run(readonly(np.zeros(4, np.uint8)), readonly(np.ones(1, np.uint8)), readonly(rows),
        readonly(np.ones((1, 2), np.float32)), readonly(np.zeros(0, np.int64)), readonly(np.zeros(0, np.int32)),
        np.empty((1, 2), np.float32), np.empty((1, 1), np.float32))


def loaded_kernel():
    """The kernel if :func:`kernel` has already loaded it, else None (nothing is loaded)."""
    return _STATE.get("kernel")


def kernel():
    """The compiled kernel, or None when numba is missing, disabled (``SIGNVERSE_NO_NUMBA=1``) or
    fails to compile (then logged once). The first call compiles, or loads numba's on-disk cache."""
    if "kernel" in _STATE:
        return _STATE["kernel"]
    compiled = None
    if os.environ.get("SIGNVERSE_NO_NUMBA", "") in ("", "0"):
        try:
            import numba
        except ImportError:
            numba = None
        failure = None
        # numba's on-disk cache first (no compile after the first run); without it when the
        # package folder and the user cache are not writable.
        for cache in (True, False) if numba is not None else ():
            try:
                compiled = numba.njit(cache=cache, nogil=True, boundscheck=False)(_source)
                _warm_up(compiled)
                break
            except Exception as exc:  # noqa: BLE001 - any numba failure falls back to numpy
                failure, compiled = exc, None
        if compiled is None and failure is not None:
            log.warning("numba decode kernel unavailable (%s); decoding with numpy", failure)
    _STATE["kernel"] = compiled
    return compiled

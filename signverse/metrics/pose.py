"""Pose-sequence distances: DTW over frames with the mean per-joint error (DTW-MJE) as frame cost.

Inputs are ``[T, K, 2]`` (or ``[T, K, D]``) arrays with optional ``[T, K]`` bool masks (True =
present); NaN coordinates count as missing too. ``PoseSeq`` objects are accepted by
``pose_metrics`` (first person).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq

_PARTS = ("body", "face", "left_hand", "right_hand")


def _prep(points, mask) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3:
        raise SignverseError(f"keypoints must be [T, K, D], got shape {pts.shape}")
    valid = np.isfinite(pts).all(-1)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != valid.shape:
            raise SignverseError(f"mask must be {valid.shape}, got {mask.shape}")
        valid &= mask
    return np.where(valid[..., None], pts, 0.0), valid


def _cost_matrices(p: np.ndarray, pv: np.ndarray, r: np.ndarray, rv: np.ndarray,
                   groups: Sequence[slice]) -> list[np.ndarray]:
    """One ``[T1, T2]`` mean-error matrix per joint group, all from one pass over the distances."""
    t1, t2, k = p.shape[0], r.shape[0], p.shape[1]
    # Coordinate-major, contiguous blocks of about 250k values, reused buffers: an order of
    # magnitude faster than np.linalg.norm(axis=-1) over a [T1, T2, K, 2] array, and bounded
    # memory for 543-point poses over hundreds of frames.
    pc = np.ascontiguousarray(np.moveaxis(p, -1, 0))   # [D, T1, K]
    rc = np.ascontiguousarray(np.moveaxis(r, -1, 0))
    pvf, rvf = pv.astype(np.float64), rv.astype(np.float64)
    totals = [np.empty((t1, t2)) for _ in groups]
    step = max(1, 250_000 // max(1, t2 * k))
    sq = np.empty((min(step, t1), t2, k))
    diff = np.empty_like(sq)
    for a in range(0, t1, step):
        n = min(step, t1 - a)
        s, df = sq[:n], diff[:n]
        s.fill(0.0)
        for d in range(pc.shape[0]):
            np.subtract(pc[d, a:a + n, None], rc[d, None], out=df)
            df *= df
            s += df
        np.sqrt(s, out=s)
        s *= pvf[a:a + n, None]                        # zero where a joint is missing
        s *= rvf[None]
        for total, g in zip(totals, groups):
            total[a:a + n] = s[..., g].sum(-1)
    out = []
    for total, g in zip(totals, groups):
        count = pvf[:, g] @ rvf[:, g].T                # joints present in both frames
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    return out


def frame_cost_matrix(pred, ref, pred_mask=None, ref_mask=None) -> np.ndarray:
    """``[T1, T2]`` mean L2 error over the joints present in both frames (NaN if none is shared)."""
    p, pv = _prep(pred, pred_mask)
    r, rv = _prep(ref, ref_mask)
    if p.shape[1:] != r.shape[1:]:
        raise SignverseError(f"pred has {p.shape[1:]} points per frame, ref has {r.shape[1:]}")
    return _cost_matrices(p, pv, r, rv, [slice(None)])[0]


def dtw_path(cost: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    """Classic DTW (steps (1,0), (0,1), (1,1)) over a finite cost matrix: total cost and path.

    The accumulated cost is filled one anti-diagonal at a time (each cell depends only on the two
    previous diagonals), so the Python loop runs T1 + T2 times, not T1 x T2.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        raise SignverseError("DTW needs at least one frame on each side")
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):                 # d = i + j in 1-based accumulated indices
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    # Backtrack, preferring the diagonal on ties (shortest path among equals).
    i, j, path = n, m, [(n - 1, m - 1)]
    while (i, j) != (1, 1):
        options = []
        if i > 1 and j > 1:
            options.append((acc[i - 1, j - 1], 0, (i - 1, j - 1)))
        if i > 1:
            options.append((acc[i - 1, j], 1, (i - 1, j)))
        if j > 1:
            options.append((acc[i, j - 1], 1, (i, j - 1)))
        i, j = min(options)[2]
        path.append((i - 1, j - 1))
    return float(acc[n, m]), path[::-1]


def _fill(cost: np.ndarray) -> np.ndarray | None:
    # A frame pair with no joint in common gets the mean finite cost: neutral, so missing frames
    # neither attract nor repel the alignment. All-missing -> no distance at all.
    finite = np.isfinite(cost)
    if not finite.any():
        return None
    return np.where(finite, cost, cost[finite].mean())


def _dtw_mje_from_cost(cost: np.ndarray) -> tuple[float, list[tuple[int, int]]]:
    filled = _fill(cost)
    if filled is None:
        return float("nan"), []
    total, path = dtw_path(filled)
    return total / len(path), path


def dtw_mje(pred, ref, pred_mask=None, ref_mask=None, *, return_path: bool = False):
    """DTW-MJE: DTW over frames with the mean per-joint L2 error as frame cost, divided by the
    length of the warping path (so it stays in coordinate units). Missing joints are ignored in a
    frame's cost. NaN when the sequences share no present joint at all.

    >>> import numpy as np
    >>> ref = np.zeros((2, 1, 2)); pred = np.array([[[0., 0.]], [[0., 0.]], [[3., 4.]]])
    >>> round(dtw_mje(pred, ref), 4)   # path (0,0),(1,0),(2,1): costs 0, 0, 5 -> 5 / 3
    1.6667
    """
    value, path = _dtw_mje_from_cost(frame_cost_matrix(pred, ref, pred_mask, ref_mask))
    return (value, path) if return_path else value


def normalize_keypoints(points, mask=None, *, layout=None, center: str | int | None = "neck",
                        left: str | int = "left_shoulder", right: str | int = "right_shoulder",
                        strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Centre on the neck (or the shoulder midpoint when the layout has no neck) and divide by
    the median shoulder width over the sequence. Returns ``(points, mask)``. When the shoulders
    are never visible the points are returned unchanged, or, with ``strict``, all marked missing
    (so a normalised distance becomes NaN instead of mixing pixels with shoulder widths).
    Anchors are names of ``layout`` anchors or indices.
    """
    pts, valid = _prep(points, mask)

    def index(a):
        if a is None or isinstance(a, (int, np.integer)):
            return a
        if layout is None:
            raise SignverseError(f"anchor '{a}' needs a layout")
        from signverse.layouts import get_layout
        lay = get_layout(layout)
        return lay.anchor(a) if lay.has_anchor(a) else None

    li, ri, ci = index(left), index(right), index(center)
    if li is None or ri is None:
        raise SignverseError("normalisation needs left and right shoulder anchors")
    both = valid[:, li] & valid[:, ri]
    if not both.any():
        if strict:
            return np.full(pts.shape, np.nan), np.zeros(valid.shape, bool)
        return np.where(valid[..., None], pts, np.nan), valid
    width = np.median(np.linalg.norm(pts[both, li] - pts[both, ri], axis=-1))
    if ci is not None and valid[:, ci].any():
        origin = np.median(pts[valid[:, ci], ci], axis=0)
    else:
        origin = np.median((pts[both, li] + pts[both, ri]) / 2, axis=0)
    out = (pts - origin) / max(width, 1e-9)
    return np.where(valid[..., None], out, np.nan), valid


def ndtw_mje(pred, ref, pred_mask=None, ref_mask=None, *, layout="dwpose") -> float:
    """DTW-MJE after normalising both sequences (neck-centred, shoulder-width scaled): a
    translation- and scale-free distance in shoulder widths. NaN when either sequence never
    shows both shoulders."""
    p, pm = normalize_keypoints(pred, pred_mask, layout=layout, strict=True)
    r, rm = normalize_keypoints(ref, ref_mask, layout=layout, strict=True)
    return dtw_mje(p, r, pm, rm)


def aligned_l2(pred, ref, pred_mask=None, ref_mask=None, path: Sequence[tuple[int, int]] | None = None
               ) -> float:
    """Mean L2 error over every joint pair present in both frames along a DTW path (computed
    here when not given): a joint-weighted error, where DTW-MJE weights each frame pair equally."""
    p, pv = _prep(pred, pred_mask)
    r, rv = _prep(ref, ref_mask)
    if path is None:
        _, path = dtw_mje(p, r, pv, rv, return_path=True)
    if not path:
        return float("nan")
    ii, jj = np.array(path).T
    both = pv[ii] & rv[jj]
    if not both.any():
        return float("nan")
    return float(np.linalg.norm(p[ii] - r[jj], axis=-1)[both].mean())


def length_error(pred_frames: int, ref_frames: int) -> float:
    """Relative length error ``|T_pred - T_ref| / T_ref``."""
    if ref_frames <= 0:
        raise SignverseError("reference has no frames")
    return abs(int(pred_frames) - int(ref_frames)) / int(ref_frames)


def _as_points(x, layout) -> tuple[np.ndarray, np.ndarray, str | None]:
    if isinstance(x, PoseSeq):
        return x.xy[:, 0], x.valid[:, 0], x.layout
    arr = np.asarray(x, dtype=np.float64)
    return arr, np.isfinite(arr).all(-1), layout


def pose_metrics(pred, ref, *, layout: str | None = None, parts: Sequence[str] = _PARTS) -> dict:
    """All pose metrics of one prediction against one reference (arrays or ``PoseSeq``).

    Keys: ``dtw_mje``, ``ndtw_mje`` (when the layout has shoulder anchors), ``dtw_mje_<part>`` and
    ``ndtw_mje_<part>`` for each layout component in ``parts``, ``l2_aligned``, ``length_error``.
    A ``PoseSeq`` prediction in another layout than the reference is converted first. The cost
    matrices of all parts come from one pass over the joint distances (two with normalisation).
    """
    if isinstance(pred, PoseSeq) and isinstance(ref, PoseSeq) and pred.layout != ref.layout:
        from signverse.layouts import convert
        pred = convert(pred, ref.layout)
    p, pm, lay_p = _as_points(pred, layout)
    r, rm, lay_r = _as_points(ref, layout)
    p, pm = _prep(p, pm)
    r, rm = _prep(r, rm)
    if p.shape[1:] != r.shape[1:]:
        raise SignverseError(f"pred has {p.shape[1:]} points per frame, ref has {r.shape[1:]}")
    lay_name = layout or lay_r or lay_p
    lay = None
    if lay_name is not None:
        from signverse.layouts import get_layout
        lay = get_layout(lay_name)
    names = [part for part in parts if lay is not None and lay.has(part)]
    groups = [slice(None)] + [lay.slice(part) for part in names]
    costs = _cost_matrices(p, pm, r, rm, groups)
    value, path = _dtw_mje_from_cost(costs[0])
    out = {"dtw_mje": value, "l2_aligned": aligned_l2(p, r, pm, rm, path=path),
           "length_error": length_error(len(p), len(r))}
    for part, cost in zip(names, costs[1:]):
        out[f"dtw_mje_{part}"] = _dtw_mje_from_cost(cost)[0]
    if lay is not None and lay.has_anchor("left_shoulder") and lay.has_anchor("right_shoulder"):
        pn, pnm = normalize_keypoints(p, pm, layout=lay, strict=True)
        rn, rnm = normalize_keypoints(r, rm, layout=lay, strict=True)
        pn, pnm = _prep(pn, pnm)
        rn, rnm = _prep(rn, rnm)
        ncosts = _cost_matrices(pn, pnm, rn, rnm, groups)
        out["ndtw_mje"] = _dtw_mje_from_cost(ncosts[0])[0]
        for part, cost in zip(names, ncosts[1:]):
            out[f"ndtw_mje_{part}"] = _dtw_mje_from_cost(cost)[0]
    return out

"""Signer-invariant frame features for the SignDW pose encoder (islr, langid, pose2text).

Any pose (MediaPipe Holistic, COCO-WholeBody, OpenPose, DWPose) is converted to DWPose and reduced
to 54 points: 12 upper-body points (nose, neck, shoulders, elbows, wrists, eyes, ears) and the two
21-point hands. Then, per sequence:

1. Normalise: centre on the neck, divide by the shoulder width (medians over the sequence), so a
   signer's position, distance to the camera and body size do not matter.
2. Canonicalise handedness: when the left hand is the more active one (seen in more frames, then
   moving more), mirror x and swap left/right, so the dominant hand is always in the right slot.
   (Whether a student's webcam image was mirrored is unknown, so handedness carries no meaning.)
3. (Training) augment: random rotation / scale / shear / shift, per-point jitter, speed change,
   temporal crop, dropped hand frames and a hidden span of frames.
4. Per-frame features (``FEATURE_DIM`` = 194): body xy (24), both hands' xy relative to the neck
   (84), both hands' wrist-relative shapes scaled by hand size (80), hand presence (2), hand-centre
   velocity (4). Missing values are 0 and flagged by the presence channels.

Training-set feature mean/std (``FeatureStats``) standardise the features; they are stored with
the checkpoint.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import convert, get_layout

_BODY = (0, 1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17)   # dwpose body indices kept (no hips/legs)
_LH = tuple(range(86, 107))
_RH = tuple(range(107, 128))
POINTS = _BODY + _LH + _RH                          # 54 dwpose indices
N_POINTS = len(POINTS)
LH = slice(len(_BODY), len(_BODY) + 21)
RH = slice(len(_BODY) + 21, N_POINTS)
NECK, L_SH, R_SH = 1, 5, 2                          # local indices (dwpose body order)
FEATURE_DIM = 24 + 84 + 80 + 2 + 4
# "motion" features add per-point hand velocities at lags 1 and 2 frames and body velocities
# (what tells PLEASE's circling from MY's still hand on the chest).
# "shape" adds, per hand, the distances between the 5 fingertips, the wrist and the 4 finger bases
# (45 pairs) divided by the hand size: a handshape description that no rotation, mirroring or
# camera distance changes (what the wrist-relative xy shapes alone do not give across signers).
_SHAPE_POINTS = (4, 8, 12, 16, 20, 0, 5, 9, 13, 17)
_SHAPE_PAIRS = np.triu_indices(len(_SHAPE_POINTS), 1)
N_SHAPE = len(_SHAPE_PAIRS[0])
# "shape3d" is "shape" with the handshape distances measured in 3D where the source has depth
# (MediaPipe's relative z): a finger pointing at the camera is short in 2D but not in 3D (meant
# to keep YOU / GOOD / THANKS apart across camera angles; no gain measured on 5 folds, see
# benchmarks/islr.py). Points then carry a third channel (``prepare_points(..., depth=True)``;
# 0 where there is no depth, which makes it "shape" exactly).
FEATURE_DIMS = {"base": FEATURE_DIM, "motion": FEATURE_DIM + 2 * 84 + 24, "shape": FEATURE_DIM + 2 * N_SHAPE,
                "shape3d": FEATURE_DIM + 2 * N_SHAPE}
DEPTH_FEATURES = ("shape3d",)


def _mirror_perm() -> np.ndarray:
    full = get_layout("dwpose").mirror_permutation
    where = {g: i for i, g in enumerate(POINTS)}
    return np.array([where[int(full[g])] for g in POINTS])


MIRROR = _mirror_perm()


def pose_points(pose: PoseSeq, person: int = 0, depth: bool = False) -> np.ndarray:
    """``[T, 54, 2]`` float32 upper-body + hand points of one person, NaN where missing; with
    ``depth``, ``[T, 54, 3]``: the pose's z as third channel (0 where the source has none)."""
    if get_layout(pose.layout).name != "dwpose":
        pose = convert(pose, "dwpose")
    p = min(person, pose.n_persons - 1)
    xy = pose.xy[:, p][:, list(POINTS)].astype(np.float32)
    if depth:
        z = np.zeros(xy.shape[:2], np.float32) if pose.z is None else pose.z[:, p][:, list(POINTS)]
        xy = np.concatenate([xy, np.nan_to_num(z)[..., None].astype(np.float32)], -1)
    xy[pose.conf[:, p][:, list(POINTS)] <= 0] = np.nan
    return xy


def normalise_points(pts: np.ndarray) -> np.ndarray:
    """Neck-centred, shoulder-width-scaled copy of ``[T, 54, 2]`` (sequence medians); a depth
    channel (``[T, 54, 3]``) is scaled alike and not centred (only differences within a hand are used)."""
    xy = pts[..., :2]
    width = np.linalg.norm(xy[:, L_SH] - xy[:, R_SH], axis=-1)
    width = width[np.isfinite(width) & (width > 1e-6)]
    neck = xy[:, NECK]
    neck = neck[np.isfinite(neck).all(-1)]
    shift = np.zeros(pts.shape[-1], pts.dtype)
    if len(width) and len(neck):
        shift[:2] = np.median(neck, 0)
        return (pts - shift) / np.median(width)
    # No shoulders at all: centre and scale on whatever is visible, so features stay bounded.
    seen = xy[np.isfinite(xy).all(-1)]
    if not len(seen):
        return pts.copy()
    shift[:2] = np.median(seen, 0)
    return (pts - shift) / max(float(np.ptp(seen, 0).max()), 1e-6)


def _activity(hand: np.ndarray) -> tuple[float, float]:
    hand = hand[..., :2]
    present = np.isfinite(hand).all(-1).any(-1)
    c = np.nanmean(np.where(np.isfinite(hand), hand, np.nan), axis=1) if present.any() else None
    motion = 0.0
    if c is not None and present.sum() > 1:
        d = np.diff(c[present], axis=0)
        motion = float(np.linalg.norm(d, axis=-1).mean())
    return float(present.mean()), motion


def canonicalise(pts: np.ndarray) -> tuple[np.ndarray, bool]:
    """Mirror so that the more active hand is the right one; returns (points, mirrored)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN frames in nanmean
        lp, lm = _activity(pts[:, LH])
        rp, rm = _activity(pts[:, RH])
    if (lp, lm) > (rp, rm) and not (abs(lp - rp) < 1e-9 and abs(lm - rm) < 1e-9):
        out = pts[:, MIRROR].copy()
        out[..., 0] = -out[..., 0]
        return out, True
    return pts, False


@dataclass
class AugmentConfig:
    """Ranges of the random training augmentations (0 disables one)."""

    rotate_deg: float = 12.0
    scale: float = 0.15
    shear: float = 0.1
    shift: float = 0.15
    jitter: float = 0.01
    speed: float = 0.25          # resample the clip to (1 +- speed) x its length
    crop: float = 0.15           # drop up to this fraction of frames at the ends
    hand_drop: float = 0.05      # probability that a hand is hidden in a frame
    hand_rotate_deg: float = 10.0
    # hide one span of up to this fraction of the frames (every point missing there): the clip
    # must be recognised from what is left (added later; 0 keeps earlier runs' augmentation)
    time_mask: float = 0.0


def augment_points(pts: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random geometric and temporal variant of normalised ``[T, 54, 2]`` points."""
    T = len(pts)
    # temporal: crop ends, then resample speed (linear interpolation between neighbour frames)
    if cfg.crop > 0 and T > 8:
        a = int(rng.integers(0, int(cfg.crop * T / 2) + 1))
        b = int(rng.integers(0, int(cfg.crop * T / 2) + 1))
        pts = pts[a:T - b]
        T = len(pts)
    if cfg.speed > 0 and T > 2:
        new_t = max(4, int(round(T * rng.uniform(1 - cfg.speed, 1 + cfg.speed))))
        pos = np.linspace(0, T - 1, new_t)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, T - 1)
        w = (pos - lo)[:, None, None]
        a, b = pts[lo], pts[hi]
        # where one side is missing, take the other (keeps detections instead of blending NaN)
        pts = np.where(np.isfinite(a) & np.isfinite(b), a * (1 - w) + b * w, np.where(w < 0.5, a, b))
    # geometric: one affine map per clip
    th = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    sc = np.diag(1 + rng.uniform(-cfg.scale, cfg.scale, 2))
    sh = np.array([[1, rng.uniform(-cfg.shear, cfg.shear)], [rng.uniform(-cfg.shear, cfg.shear), 1]])
    m = rot @ sc @ sh
    pts = pts.astype(np.float64)          # (a copy; float64 as the affine map's result always was)
    pts[..., :2] = pts[..., :2] @ m.T + rng.uniform(-cfg.shift, cfg.shift, 2)
    # hand shapes: small independent rotation about each wrist
    if cfg.hand_rotate_deg > 0:
        for sl in (LH, RH):
            th = np.deg2rad(rng.uniform(-cfg.hand_rotate_deg, cfg.hand_rotate_deg))
            r = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
            hand = pts[:, sl, :2]
            wrist = hand[:, :1]
            pts[:, sl, :2] = (hand - wrist) @ r.T + wrist
    if cfg.jitter > 0:
        pts = pts + rng.normal(0, cfg.jitter, pts.shape)
    if cfg.hand_drop > 0:
        for sl in (LH, RH):
            drop = rng.random(len(pts)) < cfg.hand_drop
            pts[drop, sl] = np.nan
    if cfg.time_mask > 0 and len(pts) > 4:
        span = int(rng.integers(0, int(cfg.time_mask * len(pts)) + 1))
        if span:
            start = int(rng.integers(0, len(pts) - span + 1))
            pts[start:start + span] = np.nan
    return pts.astype(np.float32)


def _velocity(x: np.ndarray, lag: int) -> np.ndarray:
    """``x[t] - x[t - lag]`` (0 for the first frames and where either side is missing)."""
    v = np.zeros_like(x)
    if len(x) > lag:
        v[lag:] = x[lag:] - x[:-lag]
    return np.nan_to_num(v)


def frame_features(pts: np.ndarray, kind: str = "base") -> np.ndarray:
    """``[T, FEATURE_DIMS[kind]]`` float32 features of normalised (canonical) ``[T, 54, 2]`` points
    (``[T, 54, 3]`` with depth: only "shape3d" reads the third channel)."""
    if kind not in FEATURE_DIMS:
        raise ValueError(f"unknown feature set {kind!r} (known: {', '.join(FEATURE_DIMS)})")
    full, pts = pts, pts[..., :2]
    T = len(pts)
    body = np.nan_to_num(pts[:, :len(_BODY)].reshape(T, -1))
    out = [body]
    shapes, presence, centres = [], [], []
    for sl in (LH, RH):
        hand = pts[:, sl]
        ok = np.isfinite(hand).all(-1).all(-1)
        rel = hand - hand[:, :1]
        size = np.linalg.norm(rel[:, 9], axis=-1)          # wrist -> middle-finger base
        size = np.where(np.isfinite(size) & (size > 1e-6), size, 1.0)
        shape = rel[:, 1:] / size[:, None, None]
        out.append(np.where(ok[:, None], np.nan_to_num(hand.reshape(T, -1)), 0.0))
        shapes.append(np.where(ok[:, None], np.nan_to_num(shape.reshape(T, -1)), 0.0))
        presence.append(ok.astype(np.float32))
        centres.append(np.where(ok[:, None], np.nan_to_num(hand.mean(1)), np.nan))
    out += shapes
    out.append(np.stack(presence, -1))
    for c in centres:
        v = np.zeros((T, 2), np.float32)
        if T > 1:
            d = np.diff(c, axis=0)
            v[1:] = np.nan_to_num(d)
        out.append(v)
    if kind in ("shape", *DEPTH_FEATURES):
        hands = full if kind in DEPTH_FEATURES else pts
        for sl in (LH, RH):
            out.append(hand_distances(hands[:, sl]))
    if kind == "motion":
        hands = pts[:, len(_BODY):].reshape(T, -1)
        out += [_velocity(hands, 1), _velocity(hands, 2),
                _velocity(pts[:, :len(_BODY)].reshape(T, -1), 1)]
    feats = np.concatenate(out, -1).astype(np.float32)
    return np.clip(feats, -20, 20)


def hand_distances(hand: np.ndarray) -> np.ndarray:
    """``[T, 45]`` pairwise distances of a ``[T, 21, 2]`` (or ``[T, 21, 3]``: in 3D) hand's tips,
    wrist and finger bases over its size (wrist -> middle-finger base); 0 in frames without the hand."""
    sel = hand[:, list(_SHAPE_POINTS)]
    d = np.linalg.norm(sel[:, :, None] - sel[:, None], axis=-1)[:, _SHAPE_PAIRS[0], _SHAPE_PAIRS[1]]
    size = np.linalg.norm(hand[:, 9] - hand[:, 0], axis=-1)
    ok = np.isfinite(hand).all(-1).all(-1) & np.isfinite(size) & (size > 1e-6)   # as frame_features: all 21 seen
    return np.where(ok[:, None], np.nan_to_num(d / np.where(ok, size, 1.0)[:, None]), 0.0).astype(np.float32)


def fill_hand_gaps(pts: np.ndarray, max_gap: int) -> np.ndarray:
    """Copy of ``[T, 54, 2]`` where a hand missing for at most ``max_gap`` frames between two
    frames that show it is interpolated linearly (the estimator drops hands in single frames)."""
    if max_gap <= 0:
        return pts
    out = pts.copy()
    for sl in (LH, RH):
        seen = np.isfinite(pts[:, sl]).all(-1).all(-1)
        idx = np.flatnonzero(seen)
        for a, b in zip(idx[:-1], idx[1:]):
            if 1 < b - a <= max_gap + 1:
                w = (np.arange(a + 1, b) - a)[:, None, None] / (b - a)
                out[a + 1:b, sl] = pts[a, sl][None] * (1 - w) + pts[b, sl][None] * w
    return out


def prepare_points(pose: PoseSeq, canonical: bool = True, depth: bool = False) -> np.ndarray:
    """Pose -> normalised (and canonicalised) ``[T, 54, 2]`` points (``[T, 54, 3]`` with
    ``depth``), the cached per-sample input."""
    pts = normalise_points(pose_points(pose, depth=depth))
    if canonical:
        pts, _ = canonicalise(pts)
    return pts.astype(np.float32)

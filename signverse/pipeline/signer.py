"""Signer selection and tracking over a video's per-frame multi-person pose detections.

Estimators return people per frame in arbitrary order. This stage:

1. **tracks** people: each detection's box (from its valid points) is matched to existing tracks by
   Hungarian assignment (``scipy``; greedy when scipy is missing) on ``1 - IoU`` against the track's
   constant-velocity prediction plus a centre-distance term, with a gate so far-away boxes never
   match; tracks survive gaps of up to ``max_gap`` frames;
2. **scores** tracks: presence (fraction of frames), size (box height relative to the largest track),
   centrality (distance of the box centre from the frame centre) and hand activity (wrist/hand motion
   per frame relative to body size, relative to the most active track); the best track is the signer;
3. **fixes hands**: when the layout has left/right hand components, a frame whose hands sit on the
   opposite body wrists (or, without body wrists, jumped to the other side since the previous frame)
   gets its two hand components swapped back.

>>> import numpy as np
>>> xy = np.random.default_rng(0).uniform(0, 100, (4, 2, 5, 2)).astype(np.float32)
>>> sel = select_signer(xy, np.ones((4, 2, 5), np.float32), "custom")
>>> sel.xy.shape, sel.persons_per_frame.tolist()
((4, 1, 5, 2), [2, 2, 2, 2])
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignerConfig:
    """Tuning of tracking and scoring (defaults suit 24-30 fps video)."""

    min_points: int = 3            # a detection needs this many valid points to count as a person
    max_gap: int = 12              # frames a track may be unseen and still be continued
    min_iou: float = 0.1           # gate: match when IoU >= min_iou ...
    max_center_shift: float = 0.6  # ... or centre moved less than this many box heights
    weight_size: float = 0.35
    weight_center: float = 0.25
    weight_activity: float = 0.4
    fix_hands: bool = True
    prefer: str = "auto"           # auto (score above) | largest | left | right | center


SIGNER_CHOICES = ("auto", "largest", "left", "right", "center")


@dataclass
class SignerSelection:
    """Result of ``select_signer``.

    ``xy [T, 1, K, 2]`` / ``conf [T, 1, K]``: the signer's points (NaN/0 where not seen);
    ``persons_per_frame [T]``: people detected in each frame; ``signer_index [T]``: which input person
    slot was the signer in each frame (-1: absent); ``track_ids [T, P]``: track of each input slot
    (-1: no person); ``report``: JSON-ready summary (tracks, scores, chosen track, hand swaps).
    """

    xy: np.ndarray
    conf: np.ndarray
    persons_per_frame: np.ndarray
    signer_index: np.ndarray
    track_ids: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    def to_pose(self, *, fps: float, width: int, height: int, layout: str) -> PoseSeq:
        return PoseSeq(self.xy, self.conf, fps=fps, width=width, height=height, layout=layout)


# -- geometry -------------------------------------------------------------------------------------
def _boxes(xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``[..., K, 2]`` points -> ``[..., 4]`` boxes over valid points (NaN when none)."""
    big = np.where(valid[..., None], xy, np.nan)
    with np.errstate(all="ignore"), _quiet():
        lo = np.nanmin(big, axis=-2)
        hi = np.nanmax(big, axis=-2)
    return np.concatenate([lo, hi], -1)


class _quiet:
    """Silence numpy's all-NaN RuntimeWarnings inside a block."""

    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``[n, 4]`` x ``[m, 4]`` -> ``[n, m]``."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost matching of rows to columns; entries >= 1e6 are forbidden."""
    if cost.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
        rows, cols = linear_sum_assignment(cost)
        pairs = list(zip(rows.tolist(), cols.tolist()))
    except ImportError:  # greedy fallback: cheapest pair first
        pairs, used_r, used_c = [], set(), set()
        for flat in np.argsort(cost, axis=None, kind="stable"):
            r, c = divmod(int(flat), cost.shape[1])
            if r not in used_r and c not in used_c:
                pairs.append((r, c))
                used_r.add(r)
                used_c.add(c)
    return [(r, c) for r, c in pairs if cost[r, c] < 1e6]


@dataclass
class _Track:
    box: np.ndarray
    last_t: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    frames: list[int] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)

    def predict(self, t: int) -> np.ndarray:
        shift = self.velocity * (t - self.last_t)
        return self.box + np.concatenate([shift, shift])


def _track(boxes: np.ndarray, present: np.ndarray, cfg: SignerConfig) -> np.ndarray:
    """Track ids ``[T, P]`` (-1 where no person) from per-frame boxes ``[T, P, 4]``."""
    n_frames, n_slots = present.shape
    ids = np.full((n_frames, n_slots), -1, np.int64)
    tracks: list[_Track] = []
    for t in range(n_frames):
        dets = np.flatnonzero(present[t])
        alive = [i for i, tr in enumerate(tracks) if t - tr.last_t <= cfg.max_gap]
        cost = np.full((len(alive), len(dets)), 1e6)
        if alive and len(dets):
            pred = np.stack([tracks[i].predict(t) for i in alive])
            det_boxes = boxes[t, dets]
            iou = _iou(pred, det_boxes)
            centers_p = (pred[:, :2] + pred[:, 2:]) / 2
            centers_d = (det_boxes[:, :2] + det_boxes[:, 2:]) / 2
            height = np.maximum(pred[:, 3] - pred[:, 1], 1e-6)[:, None]
            shift = np.linalg.norm(centers_p[:, None] - centers_d[None], axis=-1) / height
            size_d = (det_boxes[:, 3] - det_boxes[:, 1])[None]
            size_ratio = np.abs(np.log(np.maximum(size_d, 1e-6) / height))
            ok = (iou >= cfg.min_iou) | (shift <= cfg.max_center_shift)
            cost = np.where(ok, (1 - iou) + 0.5 * shift + 0.5 * size_ratio, 1e6)
        matched = set()
        for r, c in _assign(cost):
            tr, slot = tracks[alive[r]], int(dets[c])
            box = boxes[t, slot]
            step = ((box[:2] + box[2:]) / 2 - (tr.box[:2] + tr.box[2:]) / 2) / max(t - tr.last_t, 1)
            # Smoothed velocity: enough to carry a track through a crossing, not to overshoot.
            tr.velocity = step if not tr.frames[1:] else 0.5 * tr.velocity + 0.5 * step
            tr.box, tr.last_t = box, t
            tr.frames.append(t)
            tr.slots.append(slot)
            ids[t, slot] = alive[r]
            matched.add(c)
        for c, slot in enumerate(dets):
            if c not in matched:
                tracks.append(_Track(boxes[t, slot].copy(), t, frames=[t], slots=[int(slot)]))
                ids[t, slot] = len(tracks) - 1
    return ids


# -- hands ----------------------------------------------------------------------------------------
def _hand_setup(layout_name: str):
    """(left hand slice, right hand slice, left wrist, right wrist) or None when not applicable."""
    try:
        from signverse.layouts import get_layout
        layout = get_layout(layout_name)
    except SignverseError:
        return None
    if not (layout.has("left_hand") and layout.has("right_hand")):
        return None
    lw = layout.anchor("left_wrist") if layout.has_anchor("left_wrist") else None
    rw = layout.anchor("right_wrist") if layout.has_anchor("right_wrist") else None
    return layout.slice("left_hand"), layout.slice("right_hand"), lw, rw


def _hand_center(xy: np.ndarray, conf: np.ndarray) -> np.ndarray | None:
    ok = (conf > 0) & np.isfinite(xy).all(-1)
    if not ok.any():
        return None
    return xy[ok].mean(0)


def fix_hand_swaps(xy: np.ndarray, conf: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Swap left/right hand components of ``[T, K, 2]``/``[T, K]`` where they sit on the wrong side.

    Reference per frame: the body's wrists when both are valid, else the hand positions of the
    previous frame. A frame is swapped when the crossed assignment is closer than the straight one
    by a margin (so near-touching hands are left alone). With one hand visible it is moved to the
    other component when it is clearly at the other wrist. Returns new arrays and the swap count.
    """
    xy, conf, swaps, _ = HandFixer(layout)(xy, conf)
    return xy, conf, swaps


class HandFixer:
    """``fix_hand_swaps`` over a sequence given in pieces: the previous frame's hands carry over,
    so fixing chunk by chunk gives exactly the result of fixing the whole sequence at once."""

    def __init__(self, layout: str):
        self.setup = _hand_setup(layout)
        self.prev: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
        self.swaps = 0

    def __call__(self, xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Fixed copies of ``xy``/``conf``, swaps in this piece, swaps so far."""
        if self.setup is None:
            return xy, conf, 0, 0
        ls, rs, lw, rw = self.setup
        xy, conf = xy.copy(), conf.copy()
        swaps = 0
        prev = self.prev
        for t in range(xy.shape[0]):
            hl, hr = _hand_center(xy[t, ls], conf[t, ls]), _hand_center(xy[t, rs], conf[t, rs])
            if hl is None and hr is None:
                continue
            if lw is not None and rw is not None and conf[t, lw] > 0 and conf[t, rw] > 0:
                ref_l, ref_r = xy[t, lw], xy[t, rw]
            else:
                ref_l, ref_r = prev
            swap = False
            if ref_l is not None and ref_r is not None:
                scale = max(float(np.linalg.norm(ref_l - ref_r)), 1e-6)
                if hl is not None and hr is not None:
                    straight = np.linalg.norm(hl - ref_l) + np.linalg.norm(hr - ref_r)
                    crossed = np.linalg.norm(hl - ref_r) + np.linalg.norm(hr - ref_l)
                    swap = crossed < straight - 0.25 * scale
                elif hl is not None:
                    swap = np.linalg.norm(hl - ref_r) < np.linalg.norm(hl - ref_l) - 0.25 * scale
                else:
                    swap = np.linalg.norm(hr - ref_l) < np.linalg.norm(hr - ref_r) - 0.25 * scale
            if swap:
                xy[t, ls], xy[t, rs] = xy[t, rs].copy(), xy[t, ls].copy()
                conf[t, ls], conf[t, rs] = conf[t, rs].copy(), conf[t, ls].copy()
                hl, hr = hr, hl
                swaps += 1
            prev = (hl if hl is not None else prev[0], hr if hr is not None else prev[1])
        self.prev = prev
        self.swaps += swaps
        return xy, conf, swaps, self.swaps


# -- scoring --------------------------------------------------------------------------------------
def _wrist_points(layout_name: str, n_points: int) -> list[int]:
    setup = _hand_setup(layout_name)
    points: list[int] = []
    try:
        from signverse.layouts import get_layout
        layout = get_layout(layout_name)
        points = [layout.anchor(a) for a in ("left_wrist", "right_wrist") if layout.has_anchor(a)]
    except SignverseError:
        pass
    if setup is not None:
        points += list(range(n_points))[setup[0]] + list(range(n_points))[setup[1]]
    return points


@dataclass
class SignerFeatures:
    """What tracking and scoring need from each frame's detections, a small fraction of the points.

    ``boxes [T, P, 4]``, ``present [T, P]`` (enough valid points to count as a person) and the
    wrist/hand points used for hand activity, ``act_xy [T, P, A, 2]`` / ``act_valid [T, P, A]``.
    Built batch by batch (:meth:`of`, then :meth:`concat`), so a whole video's pose need not be
    held in memory to choose its signer.
    """

    boxes: np.ndarray
    present: np.ndarray
    act_xy: np.ndarray
    act_valid: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.present.shape[0]

    @classmethod
    def of(cls, xy: np.ndarray, conf: np.ndarray, layout: str,
           config: SignerConfig | None = None) -> "SignerFeatures":
        cfg = config or SignerConfig()
        n_points = conf.shape[-1]
        valid = (conf > 0) & np.isfinite(xy).all(-1)
        present = valid.sum(-1) >= min(cfg.min_points, n_points)
        points = _wrist_points(layout, n_points) or list(range(n_points))
        return cls(_boxes(xy, valid), present, np.ascontiguousarray(xy[:, :, points]),
                   np.ascontiguousarray(valid[:, :, points]))

    @classmethod
    def concat(cls, parts: list["SignerFeatures"]) -> "SignerFeatures":
        """Join per-batch features; the person axis is padded to the widest batch."""
        width = max((p.present.shape[1] for p in parts), default=1)

        def pad(a: np.ndarray, fill) -> np.ndarray:
            if a.shape[1] == width:
                return a
            out = np.full((a.shape[0], width, *a.shape[2:]), fill, a.dtype)
            out[:, :a.shape[1]] = a
            return out
        if not parts:
            return cls(np.full((0, 1, 4), np.nan), np.zeros((0, 1), bool), np.zeros((0, 1, 0, 2), np.float32),
                       np.zeros((0, 1, 0), bool))
        return cls(np.concatenate([pad(p.boxes, np.nan) for p in parts]),
                   np.concatenate([pad(p.present, False) for p in parts]),
                   np.concatenate([pad(p.act_xy, np.nan) for p in parts]),
                   np.concatenate([pad(p.act_valid, False) for p in parts]))


@dataclass
class SignerChoice:
    """Which input person slot is the signer in each frame (``signer_index``, -1: absent)."""

    signer_index: np.ndarray
    persons_per_frame: np.ndarray
    track_ids: np.ndarray
    report: dict[str, Any]


def choose_signer(features: SignerFeatures, *, width: float | None = None, height: float | None = None,
                  config: SignerConfig | None = None) -> SignerChoice:
    """Track people over the video and pick the signer's track (see the module docstring).

    ``config.prefer`` picks by the weighted score (``auto``), by size (``largest``) or by the
    horizontal position of the track's median box centre (``left``/``right``/``center``); every
    choice is weighted by presence, so a person glimpsed for a few frames does not win.
    """
    cfg = config or SignerConfig()
    if cfg.prefer not in SIGNER_CHOICES:
        raise SignverseError(f"unknown signer choice '{cfg.prefer}' (known: {', '.join(SIGNER_CHOICES)})")
    boxes, present = features.boxes, features.present
    n_frames = present.shape[0]
    persons = present.sum(-1).astype(np.int64)
    ids = _track(boxes, present, cfg)
    signer_index = np.full(n_frames, -1, np.int64)
    n_tracks = int(ids.max()) + 1 if (ids >= 0).any() else 0
    report: dict[str, Any] = {"frames": n_frames, "tracks": n_tracks, "signer_track": None,
                              "frames_with_signer": 0, "frames_multi_person": int((persons > 1).sum()),
                              "max_persons": int(persons.max()) if n_frames else 0,
                              "hand_swaps": 0, "prefer": cfg.prefer, "scores": {}}
    if n_tracks == 0:
        return SignerChoice(signer_index, persons, ids, report)

    if width is None or height is None:
        with _quiet():
            ext = np.nanmax(boxes[..., 2:].reshape(-1, 2), axis=0)
        width = width or float(np.nan_to_num(ext[0], nan=1.0))
        height = height or float(np.nan_to_num(ext[1], nan=1.0))
    frame_center = np.array([width / 2, height / 2])

    stats = []
    for track in range(n_tracks):
        t_idx, s_idx = np.nonzero(ids == track)
        b = boxes[t_idx, s_idx]
        box_h = np.maximum(b[:, 3] - b[:, 1], 1e-6)
        centers = (b[:, :2] + b[:, 2:]) / 2
        off = np.abs(centers - frame_center) / np.maximum(frame_center, 1e-6)
        centrality = float(np.clip(1 - np.linalg.norm(off, axis=-1) / np.sqrt(2), 0, 1).mean())
        # Hand activity: mean per-frame displacement of wrist/hand points over consecutive frames,
        # in box heights, so a near and a far signer are comparable.
        pts = features.act_xy[t_idx, s_idx]
        ok = features.act_valid[t_idx, s_idx]
        moves = []
        for i in range(1, len(t_idx)):
            both = ok[i] & ok[i - 1]
            if both.any() and t_idx[i] - t_idx[i - 1] <= 2:
                moves.append(float(np.linalg.norm(pts[i, both] - pts[i - 1, both], axis=-1).mean()
                                   / box_h[i]))
        hands_seen = float(ok.any(-1).mean()) if ok.shape[-1] else 0.0
        stats.append({"frames": len(t_idx), "presence": len(t_idx) / n_frames,
                      "size": float(np.median(box_h)), "centrality": centrality,
                      "x": float(np.clip(np.median(centers[:, 0]) / max(width, 1e-6), 0, 1)),
                      "activity": (float(np.mean(moves)) if moves else 0.0) * (0.5 + 0.5 * hands_seen)})
    max_size = max(s["size"] for s in stats) or 1.0
    max_act = max(s["activity"] for s in stats)
    for s in stats:
        act = s["activity"] / max_act if max_act > 0 else 0.0
        s["score"] = s["presence"] * (cfg.weight_size * s["size"] / max_size
                                      + cfg.weight_center * s["centrality"] + cfg.weight_activity * act)
    pick = {"auto": lambda s: s["score"],
            "largest": lambda s: s["presence"] * s["size"] / max_size,
            "left": lambda s: s["presence"] * (1 - s["x"]),
            "right": lambda s: s["presence"] * s["x"],
            "center": lambda s: s["presence"] * s["centrality"]}[cfg.prefer]
    best = int(np.argmax([pick(s) for s in stats]))
    report["signer_track"] = best
    report["scores"] = {str(i): {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
                        for i, s in enumerate(stats)}
    t_idx, s_idx = np.nonzero(ids == best)
    signer_index[t_idx] = s_idx
    report["frames_with_signer"] = int((signer_index >= 0).sum())
    return SignerChoice(signer_index, persons, ids, report)


def gather_signer(xy: np.ndarray, conf: np.ndarray, signer_index: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The signer's points ``[T, 1, K, 2]`` / ``[T, 1, K]`` from all people's (NaN/0 where absent)."""
    n_frames, _, n_points = conf.shape
    out_xy = np.full((n_frames, 1, n_points, 2), np.nan, np.float32)
    out_conf = np.zeros((n_frames, 1, n_points), np.float32)
    t_idx = np.flatnonzero(signer_index >= 0)
    s_idx = signer_index[t_idx]
    out_xy[t_idx, 0] = xy[t_idx, s_idx]
    out_conf[t_idx, 0] = conf[t_idx, s_idx]
    missing = ~(out_conf > 0) | ~np.isfinite(out_xy).all(-1)   # PoseSeq's "missing" invariant
    out_xy[missing] = np.nan
    out_conf[missing] = 0
    return out_xy, out_conf


def select_signer(xy: np.ndarray, conf: np.ndarray, layout: str, *, width: float | None = None,
                  height: float | None = None, config: SignerConfig | None = None) -> SignerSelection:
    """Track the people of ``xy [T, P, K, 2]`` / ``conf [T, P, K]`` and pick the signer.

    ``layout`` names the points (for hands and wrists; an unknown name disables hand logic and uses
    all points for activity). ``width``/``height`` are the frame size for the centrality score
    (default: the extent of all points). Returns a ``SignerSelection``. (The extraction pipeline
    runs the same steps in pieces: :class:`SignerFeatures`, :func:`choose_signer`,
    :func:`gather_signer`, :class:`HandFixer`.)
    """
    cfg = config or SignerConfig()
    xy = np.asarray(xy, np.float32)
    conf = np.asarray(conf, np.float32)
    if xy.ndim != 4 or xy.shape[-1] != 2 or conf.shape != xy.shape[:3]:
        raise SignerInputError(f"expected xy [T, P, K, 2] and conf [T, P, K], got {xy.shape}, {conf.shape}")
    choice = choose_signer(SignerFeatures.of(xy, conf, layout, cfg), width=width, height=height,
                           config=cfg)
    out_xy, out_conf = gather_signer(xy, conf, choice.signer_index)
    if cfg.fix_hands and choice.report["tracks"]:
        fixed_xy, fixed_conf, swaps, _ = HandFixer(layout)(out_xy[:, 0], out_conf[:, 0])
        out_xy[:, 0], out_conf[:, 0] = fixed_xy, fixed_conf
        choice.report["hand_swaps"] = swaps
    log.debug("signer selection: %s", choice.report)
    return SignerSelection(out_xy, out_conf, choice.persons_per_frame, choice.signer_index,
                           choice.track_ids, choice.report)


def select_signer_pose(pose: PoseSeq, config: SignerConfig | None = None) -> tuple[PoseSeq, SignerSelection]:
    """``select_signer`` on a multi-person ``PoseSeq``; returns the one-person sequence and the details."""
    sel = select_signer(pose.xy, pose.conf, pose.layout, width=pose.width, height=pose.height,
                        config=config)
    return pose.replace(xy=sel.xy, conf=sel.conf), sel


class SignerInputError(SignverseError):
    """Arrays handed to ``select_signer`` have the wrong shapes."""


__all__ = ["HandFixer", "SIGNER_CHOICES", "SignerChoice", "SignerConfig", "SignerFeatures",
           "SignerInputError", "SignerSelection", "choose_signer", "fix_hand_swaps", "gather_signer",
           "select_signer", "select_signer_pose"]

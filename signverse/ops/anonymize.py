"""Anonymisation: everyone on one canonical skeleton, their motion kept.

What carries the language (joint angles over time, hand shapes, facial movement) is kept; what
carries the person's build is replaced. Every sequence is retargeted (``signverse.ops.retarget``)
to a canonical ``Target``: population-mean body and hand bone lengths (in shoulder widths), the
population-mean face shape with each person's expression kept as displacement from their own mean
face, and the population-mean placement in the frame (so where a signer sat before their webcam
does not single them out either). ``jitter`` adds a small per-sequence randomisation of the
lengths and placement (seeded per sequence, so a corpus anonymises reproducibly).

The population is the data itself: each sequence is measured (median over its frames), the
measurements are averaged per signer where signers are known (so prolific signers do not weigh
more), then over signers. Missing points stay missing; nothing is invented.

Methods:

* ``canonical``: the canonical skeleton only (bone lengths, face shape, rest directions,
  placement); timing untouched, so joint angles frame by frame are the source's.
* ``canonical-tempo``: after retargeting, the tempo is canonicalised
  (``canonical_tempo``: frames re-timed so the arms and hands progress along their path at
  constant speed, removing the signer's rhythm: holds, accelerations; the path itself and the
  frame count are kept) and tracking noise is removed (``smooth_time``: a centred moving average
  over 1/6 s, i.e. 5 frames at 30 fps, which keeps signing movements of a few hertz and removes
  the frame-to-frame jitter that is a signature of the person's camera and estimator). Measured
  on the shared ISLR data it lowers re-identification more than the skeleton alone while sign
  recognition by unseen signers loses less (figures in the README privacy section).
* ``canonical-dominant``: ``canonical-tempo``, with each sequence first mirrored when
  its left hand signs more than its right (``dominant_right``), so the leading hand is always in
  the right-hand slots. Which hand leads singles out left-handers and students whose webcam
  mirrors the image; mirroring per sequence (not per signer) also moves the signers whose lead
  hand varies onto one convention. Then every bone is turned by a constant random angle per
  sequence (``METHOD_ROTATE``, 10 degrees standard deviation, seeded per sequence): a blur of
  habitual posture small enough for sign recognition. Measured on the shared ISLR data: less
  re-identification than ``canonical-tempo`` for the same recognition by unseen signers (README).
* ``canonical-space``: ``canonical-dominant`` with each sequence's signing space randomised
  (``randomize_workspace``: each hand's path moved and stretched, the hand turned about its
  wrist, the arm re-solved), ``METHOD_SPACE``.
* ``canonical-quiet``: ``canonical-space`` that also quietens what moves with the person rather
  than the sign (``METHOD_QUIET``): the head's, shoulders' and lower body's movement around their
  usual direction (``Target.rest_motion``; nods and shrugs go with it), the face's expression
  (``signverse.ops.anonymize_face.damp_face``; mouthing and eyebrows go with it). The ridge
  yardstick reads neither, SignDW reads the head's points (nose, eyes, ears) but not the face;
  the README privacy section says what this trades away.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.ops.anonymize_face import damp_face
from signverse.ops.retarget import Target, measure, retarget
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)
METHODS = ("canonical-quiet", "canonical-space", "canonical-dominant", "canonical-tempo", "canonical")
DEFAULT_METHOD = "canonical-space"
# Per-sequence constant random turn of every bone (degrees, standard deviation) each method
# applies unless told otherwise: ``canonical-dominant`` blurs habitual posture by 10 degrees
# (measured on the shared ISLR data, after mirroring: re-identification 0.650 without a turn,
# 0.616 with 5 degrees, 0.555 with 10, for ISLR top-1 0.671, 0.667, 0.665).
METHOD_ROTATE = {"canonical-dominant": 10.0, "canonical-space": 10.0, "canonical-quiet": 10.0}
# Per-sequence randomisation of the signing space (``randomize_workspace``) each method applies
# unless told otherwise: (shift in shoulder widths, amplitude as a log-scale standard deviation,
# hand turn in degrees), chosen on the shared ISLR data (README privacy section).
METHOD_SPACE = {"canonical-space": (0.2, 0.2, 12.0), "canonical-quiet": (0.2, 0.2, 0.0)}
# What ``canonical-quiet`` keeps of the movement that carries the person more than the language
# (``quiet``): (the fraction of each sequence's facial expression kept, ``damp_face``; the
# fraction of the rest bones' movement around their usual direction kept: head, shoulders, lower
# body, ``Target.rest_motion``), chosen on the shared ISLR data (README privacy section).
METHOD_QUIET = {"canonical-quiet": (0.0, 0.0)}
# The methods that put the leading hand in the right-hand slots first (``dominant_right``).
MIRRORING_METHODS = ("canonical-dominant", "canonical-space", "canonical-quiet")
# Low-pass window of ``canonical-tempo`` in seconds (5 frames at 30 fps).
SMOOTH_SECONDS = 1 / 6


# Bones that carry no language, only the person and their camera: the lower body (in a webcam
# frame mostly guessed by the estimator) and the head's usual tilt. Their usual direction becomes
# the population's; their movement around it (nods, shifts) is kept.
_REST_WORDS = ("shoulder", "nose", "eye", "ear", "mouth", "hip", "knee", "ankle", "heel", "toe", "foot")


def rest_bones(layout: str) -> list[int]:
    """Indices of the points whose bone takes the population's usual direction."""
    lay = get_layout(layout)
    out = []
    for i, name in enumerate(lay.point_names):
        comp, point = name.split(".", 1)
        if comp == "feet" or (comp == "body" and any(w in point for w in _REST_WORDS)):
            out.append(i)
    return out


def canonical_target(poses: Iterable[PoseSeq], layout: str | None = None, *,
                     groups: Sequence[str | None] | None = None) -> Target:
    """The population-mean ``Target`` of ``poses`` (person 0 of each), for ``layout`` (default:
    the first pose's). ``groups`` (e.g. signer ids, aligned with ``poses``) averages within each
    group first. Sequences without shoulders are skipped."""
    measured: dict[str, list[Target]] = {}
    lay = None
    for i, pose in enumerate(poses):
        lay = lay or get_layout(layout or pose.layout)
        try:
            target = measure(pose, lay.name, rest=rest_bones(lay.name))
        except SignverseError:
            continue
        key = str(groups[i]) if groups is not None and groups[i] is not None else f"#{i}"
        measured.setdefault(key, []).append(target)
    if not measured:
        raise SignverseError("no sequence with shoulders to measure a canonical skeleton from")
    per_group = [_mean_target(targets) for targets in measured.values()]
    mean = _mean_target(per_group)
    log.info("canonical skeleton from %d group(s), %d sequence(s)", len(per_group),
             sum(len(t) for t in measured.values()))
    return mean


def _mean_target(targets: list[Target]) -> Target:
    def nanmean(arrays):
        stack = np.stack(arrays)
        count = np.isfinite(stack).sum(0)
        total = np.nansum(stack, 0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    centers = np.array([t.center for t in targets])
    rest = None
    if all(t.rest_angles is not None for t in targets):
        # directions average as unit vectors (angles wrap around)
        cos = nanmean([np.cos(t.rest_angles) for t in targets])
        sin = nanmean([np.sin(t.rest_angles) for t in targets])
        rest = np.arctan2(sin, cos)
    return Target(targets[0].layout, nanmean([t.lengths for t in targets]),
                  nanmean([t.face_shape for t in targets]),
                  (float(centers[:, 0].mean()), float(centers[:, 1].mean())),
                  float(np.mean([t.shoulder for t in targets])), None, rest)


def sequence_seed(name: str, seed: int = 0) -> int:
    """A stable per-sequence seed (the same name and seed anonymise the same way every run)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def smooth_time(pose: PoseSeq, seconds: float = SMOOTH_SECONDS) -> PoseSeq:
    """Centred moving average over ``seconds`` (an odd number of frames, at least 1), each point
    averaged over the frames where it is present. Missing points stay missing; a present point
    is never moved towards a missing one."""
    half = int(round(seconds * pose.fps)) // 2
    if half < 1 or pose.n_frames < 2:
        return pose
    xy = pose.xy.astype(np.float64)
    present = np.isfinite(xy[..., 0])
    filled = np.where(present[..., None], xy, 0.0)
    total, count = np.zeros_like(xy), np.zeros(present.shape)
    n = pose.n_frames
    for shift in range(-half, half + 1):
        lo, hi = max(0, -shift), min(n, n - shift)
        total[lo:hi] += filled[lo + shift:hi + shift]
        count[lo:hi] += present[lo + shift:hi + shift]
    out = np.where(present[..., None], total / np.maximum(count, 1)[..., None], np.nan)
    return pose.replace(xy=out.astype(np.float32))


# A hand moving this many shoulder widths a frame on average counts as much as one seen in every
# frame (30 fps signing moves the dominant wrist about 0.05-0.2 shoulder widths a frame).
_MOTION_WEIGHT = 5.0


def hand_activity(pose: PoseSeq, side: str, *, person: int = 0) -> float:
    """How much ``side`` ("left"/"right") signs in ``pose``: the fraction of frames its hand is
    seen (the hand component's wrist, else the body wrist) plus ``_MOTION_WEIGHT`` times the mean
    per-frame movement of the body wrist in shoulder widths (missing frames move 0)."""
    from signverse.ops.retarget import shoulder_width
    lay = get_layout(pose.layout)
    xy = pose.xy[:, person].astype(np.float64)
    hand = f"{side}_hand"
    seen_point = lay.slice(hand).start if lay.has(hand) else \
        (lay.anchor(f"{side}_wrist") if lay.has_anchor(f"{side}_wrist") else None)
    seen = float(np.isfinite(xy[:, seen_point, 0]).mean()) if seen_point is not None else 0.0
    if not lay.has_anchor(f"{side}_wrist") or pose.n_frames < 2:
        return seen
    width = _nanmedian(shoulder_width(pose, lay)[:, person])
    steps = np.linalg.norm(np.diff(xy[:, lay.anchor(f"{side}_wrist")], axis=0), axis=-1)
    if not (np.isfinite(width) and width > 0):
        return seen
    return seen + _MOTION_WEIGHT * float(np.nansum(steps)) / (pose.n_frames - 1) / width


def _nanmedian(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def dominant_right(pose: PoseSeq, *, person: int = 0) -> PoseSeq:
    """``pose`` mirrored (``signverse.ops.augment.flip``) when its left hand signs more than its
    right (``hand_activity``), so the dominant hand is always in the right-hand slots. Why:
    which hand leads (a left-hander, or a mirrored webcam) singles a signer out, while a sign
    is the same sign with either hand. Layouts without left/right wrists are returned as they are."""
    from signverse.ops.augment import flip
    lay = get_layout(pose.layout)
    if not (lay.has_anchor("left_wrist") and lay.has_anchor("right_wrist")):
        return pose
    if hand_activity(pose, "left", person=person) > hand_activity(pose, "right", person=person):
        return flip(pose)
    return pose


def _motion_points(layout: str) -> np.ndarray:
    """The arms and hands: the points whose path defines the signing's progress."""
    lay = get_layout(layout)
    names = [f"{side}_{joint}" for side in ("left", "right") for joint in ("elbow", "wrist")]
    idx = [lay.anchor(name) for name in names if lay.has_anchor(name)]
    for comp in ("left_hand", "right_hand"):
        if any(c.name == comp for c in lay.components):
            sl = lay.slice(comp)
            idx.extend(range(sl.start, sl.stop))
    return np.array(sorted(set(idx)), np.int64)


def canonical_tempo(pose: PoseSeq, *, person: int = 0) -> PoseSeq:
    """The same movement at constant speed: frames re-timed so that the arms and hands (of
    ``person``; the others follow the same clock) advance by equal steps along their path, the
    frame count, first and last frames unchanged. Why: a signer's rhythm (where they hold, how
    they accelerate) identifies them, while the sign is the path. A point at a time between two
    frames is interpolated where it is present in both, else taken from the nearer frame
    (missing there: missing), so nothing is invented. No motion at all: returned unchanged."""
    n = pose.n_frames
    points = _motion_points(pose.layout)
    if n < 3 or not len(points):
        return pose
    xy = pose.xy.astype(np.float64)
    steps = np.linalg.norm(np.diff(xy[:, person, points], axis=0), axis=-1)    # [T-1, points]
    moved = np.isfinite(steps)
    speed = np.where(moved, steps, 0.0).sum(1) / np.maximum(moved.sum(1), 1)   # mean over points
    progress = np.concatenate([[0.0], np.cumsum(speed)])
    if not progress[-1] > 0:
        return pose
    # fractional source time of each output frame: progress is uniform over the output frames
    at = np.interp(np.linspace(0, progress[-1], n), progress, np.arange(n, dtype=np.float64))
    lo = np.clip(np.floor(at).astype(int), 0, n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = (at - lo)[:, None, None]
    nearer = np.where(frac[:, 0, 0] < 0.5, lo, hi)
    both = np.isfinite(xy[lo, ..., 0]) & np.isfinite(xy[hi, ..., 0])
    mixed = xy[lo] * (1 - frac[..., None]) + xy[hi] * frac[..., None]
    out = np.where(both[..., None], mixed, xy[nearer])
    conf = pose.conf.astype(np.float64)
    conf = np.where(both, conf[lo] * (1 - frac) + conf[hi] * frac, conf[nearer])
    conf = np.where(np.isfinite(out[..., 0]), conf, 0.0)
    return pose.replace(xy=out.astype(np.float32), conf=conf.astype(np.float32))


def method_rotate(method: str, rotate: float | None = None) -> float:
    """The per-sequence turn (degrees) ``method`` applies: ``rotate``, or the method's default."""
    return float(METHOD_ROTATE.get(method, 0.0) if rotate is None else rotate)


def method_space(method: str, shift: float | None = None, amplitude: float | None = None,
                 hand_turn: float | None = None) -> tuple[float, float, float]:
    """The signing-space randomisation (shift, amplitude, hand turn) ``method`` applies: the
    given values, else the method's defaults (``METHOD_SPACE``; 0 for methods without one)."""
    own = METHOD_SPACE.get(method, (0.0, 0.0, 0.0))
    return tuple(float(o if v is None else v) for o, v in zip(own, (shift, amplitude, hand_turn)))


def method_quiet(method: str, expression: float | None = None,
                 rest_motion: float | None = None) -> tuple[float, float]:
    """(fraction of facial expression kept, fraction of the rest bones' movement kept) that
    ``method`` applies: the given values, else the method's (``METHOD_QUIET``; 1, 1: all kept)."""
    own = METHOD_QUIET.get(method, (1.0, 1.0))
    return tuple(float(o if v is None else v) for o, v in zip(own, (expression, rest_motion)))


def anonymize(pose: PoseSeq, target: Target, *, method: str = DEFAULT_METHOD, jitter: float = 0.0,
              rotate: float | None = None, seed: int | None = None, shift: float | None = None,
              amplitude: float | None = None, hand_turn: float | None = None,
              expression: float | None = None, rest_motion: float | None = None) -> PoseSeq:
    """``pose`` on the canonical skeleton ``target`` (see ``canonical_target``), in its own frame;
    with ``method="canonical-tempo"`` then re-timed and low-passed, with ``"canonical-dominant"``
    also mirrored first when the left hand leads, with the default ``"canonical-space"`` then
    also the signing space randomised (``randomize_workspace``; see the module docstring).

    ``jitter`` (e.g. 0.03): each bone length, the face size and the placement scaled by
    ``1 + N(0, jitter)`` for this sequence; ``rotate`` (degrees, e.g. 5): each bone turned by a
    constant ``N(0, rotate)`` for this sequence, blurring a person's habitual posture while the
    movement stays (``seed`` makes both reproducible, None is 0; see ``sequence_seed``).
    ``rotate=None``: the method's own (``METHOD_ROTATE``: 10 for ``canonical-dominant`` and
    ``canonical-space``, else 0). ``shift``, ``amplitude``, ``hand_turn``: the signing-space
    randomisation (``randomize_workspace``), None for the method's own (``METHOD_SPACE``).
    ``expression``, ``rest_motion`` (fractions in [0, 1]; None: the method's own,
    ``METHOD_QUIET``, 1 for all but ``canonical-quiet``): how much of each sequence's facial
    expression (``signverse.ops.anonymize_face.damp_face``) and of the head's, shoulders' and
    lower body's movement around their usual direction (``Target.rest_motion``) is kept.
    """
    if method not in METHODS:
        raise SignverseError(f"unknown anonymisation method '{method}' (known: {', '.join(METHODS)})")
    rotate = method_rotate(method, rotate)
    shift, amplitude, hand_turn = method_space(method, shift, amplitude, hand_turn)
    expression, rest_motion = method_quiet(method, expression, rest_motion)
    if min(jitter, rotate, shift, amplitude, hand_turn) < 0:
        raise SignverseError(f"jitter, rotate, shift, amplitude and hand_turn must be >= 0, got "
                             f"{jitter}, {rotate}, {shift}, {amplitude} and {hand_turn}")
    if not (0 <= expression <= 1 and 0 <= rest_motion <= 1):
        raise SignverseError(f"expression and rest_motion must be in [0, 1], got {expression} "
                             f"and {rest_motion}")
    target = replace(target, frame=None, rest_motion=rest_motion)
    if jitter > 0 or rotate > 0:
        target = target.jittered(np.random.default_rng(0 if seed is None else seed), jitter, rotate)
    if method in MIRRORING_METHODS:
        # Mirrored before retargeting, so the output's bones still have the canonical lengths.
        pose = dominant_right(pose)
    out = retarget(pose, target)
    if method != "canonical":
        # After retargeting (measured: re-timing and smoothing the source first cost 0.016 more
        # ISLR top-1 on the shared data). Both steps average neighbouring frames, which shortens
        # a turning bone a little (the chord): retargeting once more restores the canonical
        # lengths exactly, keeping the smoothed directions (no second turn of any bone).
        out = retarget(smooth_time(canonical_tempo(out)),
                       replace(target, rest_angles=None, rotations=None))
    if shift > 0 or amplitude > 0 or hand_turn > 0:
        # its own random stream, so adding it leaves the turns and lengths above as they were
        out = randomize_workspace(out, np.random.default_rng([0 if seed is None else seed, 1]),
                                  shift=shift, amplitude=amplitude, hand_turn=hand_turn)
    if expression < 1:
        out = damp_face(out, expression)
    return out


# -- per-sequence randomisation of the signing space ----------------------------------------------
def randomize_workspace(pose: PoseSeq, rng: np.random.Generator, *, shift: float = 0.0,
                        amplitude: float = 0.0, hand_turn: float = 0.0, person: int = 0) -> PoseSeq:
    """Each hand's path moved and stretched by a random amount for this sequence and the hand
    turned about its wrist, the arm re-solved so that every bone keeps its length.

    Per side, the wrist path relative to the shoulder midpoint is moved by ``N(0, shift)``
    shoulder widths (x and y) and scaled about its own mean by ``exp(N(0, amplitude))`` (x and y
    apart); the hand (the hand component and the body's finger points) moves with its wrist and
    turns rigidly about it by ``N(0, hand_turn)`` degrees (hand shape kept); the elbow is
    re-solved (two-bone inverse kinematics, bending to the same side as in the source), so the
    upper arm and forearm keep their lengths. A wrist out of reach is pulled back onto the
    reachable circle. Why: where a signer holds their hands, how widely they move and how they
    hold their hand (the signing space) is what still singles them out on a canonical skeleton
    (README ablation), while the sign is the path's shape and the handshape.
    Only present points move; missing points stay missing. Where the shoulder or elbow is
    missing in a frame, the elbow (if present) and the hand are moved rigidly with the wrist.
    """
    if shift <= 0 and amplitude <= 0 and hand_turn <= 0:
        return pose
    from signverse.ops.retarget import shoulder_mid, shoulder_width
    lay = get_layout(pose.layout)
    needed = [f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist")]
    if not all(lay.has_anchor(n) for n in needed):
        return pose
    xy = pose.xy.astype(np.float64)
    p = xy[:, person]                                          # [T, K, 2], a view into xy
    unit = _nanmedian(shoulder_width(pose, lay)[:, person])
    if not (np.isfinite(unit) and unit > 0):
        return pose
    body = shoulder_mid(pose, lay)[:, person]                  # [T, 2]
    names = lay.point_names
    for side in ("left", "right"):
        # draws in a fixed order (both sides always draw), so a seed means the same everywhere
        move = shift * rng.standard_normal(2) * unit
        stretch = np.exp(amplitude * rng.standard_normal(2))
        turn = np.radians(hand_turn) * rng.standard_normal()
        s_i, e_i, w_i = (lay.anchor(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist"))
        hand = [k for k, n in enumerate(names)
                if n.startswith(f"{side}_hand.") or n in (f"body.{side}_pinky", f"body.{side}_index",
                                                           f"body.{side}_thumb")]
        hand_wrist = names.index(f"{side}_hand.wrist") if f"{side}_hand.wrist" in names else None
        wrist = p[:, w_i].copy()
        if hand_wrist is not None:                             # body wrist missing: the hand's
            wrist = np.where(np.isfinite(wrist), wrist, p[:, hand_wrist])
        rel = wrist - body
        mean = np.nanmean(rel, 0) if np.isfinite(rel).any() else None
        if mean is None or not np.isfinite(mean).all():
            continue
        goal = body + mean + (rel - mean) * stretch + move
        # frames without a shoulder midpoint: the offset only (no body to stretch about)
        goal = np.where(np.isfinite(body), goal, wrist + move)
        shoulder, elbow = p[:, s_i], p[:, e_i]
        solve = np.isfinite(shoulder).all(-1) & np.isfinite(elbow).all(-1) & np.isfinite(p[:, w_i]).all(-1)
        new_elbow = elbow.copy()
        if solve.any():
            upper = np.linalg.norm(elbow - shoulder, axis=-1)
            fore = np.linalg.norm(p[:, w_i] - elbow, axis=-1)
            reach = goal - shoulder
            dist = np.linalg.norm(reach, axis=-1)
            lo, hi = np.abs(upper - fore) * 1.001 + 1e-9, (upper + fore) * 0.999
            clipped = np.clip(dist, lo, hi)
            direction = reach / np.where(dist > 1e-12, dist, 1.0)[:, None]
            direction = np.where((dist > 1e-12)[:, None], direction, np.array([0.0, 1.0]))
            goal = np.where(solve[:, None], shoulder + direction * clipped[:, None], goal)
            # the elbow bends to the side it bent to in the source
            src_reach = p[:, w_i] - shoulder
            cross = src_reach[:, 0] * (elbow - shoulder)[:, 1] - src_reach[:, 1] * (elbow - shoulder)[:, 0]
            bend = np.where(cross < 0, -1.0, 1.0)
            cos_a = np.clip((upper ** 2 + clipped ** 2 - fore ** 2) /
                            np.maximum(2 * upper * clipped, 1e-12), -1.0, 1.0)
            angle = bend * np.arccos(cos_a)
            c, s_ = np.cos(angle), np.sin(angle)
            turned = np.stack([c * direction[:, 0] - s_ * direction[:, 1],
                               s_ * direction[:, 0] + c * direction[:, 1]], -1)
            new_elbow = np.where(solve[:, None], shoulder + turned * upper[:, None], elbow)
        delta = goal - wrist                                   # [T, 2]: how far the hand moves
        rigid = ~solve & np.isfinite(delta).all(-1) & ~np.isfinite(shoulder).all(-1)
        new_elbow = np.where(rigid[:, None], elbow + delta, new_elbow)
        p[:, e_i] = np.where(np.isfinite(elbow), new_elbow, np.nan)
        delta = np.where(np.isfinite(delta), delta, 0.0)
        pivot = wrist + delta
        c, s_ = np.cos(turn), np.sin(turn)
        for k in [w_i] + hand:
            # the hand turns rigidly about its wrist (its shape kept), then moves with it
            off = p[:, k] - wrist
            p[:, k] = pivot + np.stack([c * off[:, 0] - s_ * off[:, 1], s_ * off[:, 0] + c * off[:, 1]], -1)
    return pose.replace(xy=xy.astype(np.float32))


# -- saving the canonical skeleton (so another corpus can be put on the same one) ----------------
def save_target(target: Target, path: str | Path) -> Path:
    def clean(a):
        return [None if not np.isfinite(v) else round(float(v), 6) for v in np.ravel(a)]
    path = Path(path)
    path.write_text(json_dumps({"layout": target.layout, "lengths": clean(target.lengths),
                                "face_shape": clean(target.face_shape),
                                "rest_angles": None if target.rest_angles is None
                                else clean(target.rest_angles),
                                "center": list(target.center), "shoulder": target.shoulder}))
    return path


def load_target(path: str | Path) -> Target:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lay = get_layout(data["layout"])
        lengths = np.array([np.nan if v is None else v for v in data["lengths"]], np.float64)
        face = np.array([np.nan if v is None else v for v in data["face_shape"]], np.float64)
        center = (float(data["center"][0]), float(data["center"][1]))
        shoulder = float(data["shoulder"])
        rest = data.get("rest_angles")
        rest = None if rest is None else np.array([np.nan if v is None else v for v in rest], np.float64)
    except (OSError, ValueError, KeyError, TypeError, IndexError, SignverseError) as exc:
        raise InputError(path, f"not a canonical skeleton file ({exc})") from None
    if lengths.shape != (lay.num_points,) or face.size % 2 or \
            (rest is not None and rest.shape != lengths.shape):
        raise InputError(path, f"does not fit layout {lay.name}")
    return Target(lay.name, lengths, face.reshape(-1, 2), center, shoulder, None, rest)

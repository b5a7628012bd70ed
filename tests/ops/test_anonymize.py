"""Temporal steps of ``canonical-tempo`` anonymisation: low-pass and tempo canonicalisation."""
from __future__ import annotations

import numpy as np
import pytest

from signverse.core import PoseSeq
from signverse.core.errors import SignverseError
from signverse.layouts import get_layout
from signverse.ops.anonymize import anonymize, canonical_tempo, smooth_time

LAYOUT = "dwpose"


def arm_on_path(times: np.ndarray) -> PoseSeq:
    """A right elbow and wrist moving rigidly along an L-shaped path (right 100 px, then down
    60 px), at ``times`` in [0, 1] of the path (so the speed is whatever ``times`` makes it);
    the neck and shoulders stand still and every other point is missing."""
    lay = get_layout(LAYOUT)
    n = len(times)
    xy = np.full((n, 1, lay.num_points, 2), np.nan)
    xy[:, 0, lay.anchor("neck")] = (300, 100)
    xy[:, 0, lay.anchor("left_shoulder")] = (340, 100)
    xy[:, 0, lay.anchor("right_shoulder")] = (260, 100)
    along = times * 160.0
    offset = np.stack([np.minimum(along, 100), np.maximum(along - 100, 0)], -1)
    xy[:, 0, lay.anchor("right_elbow")] = np.array([240, 150]) + offset
    xy[:, 0, lay.anchor("right_wrist")] = np.array([230, 200]) + offset
    xy = xy.astype(np.float32)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, 640, 480, LAYOUT)


def distance_to_polyline(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Distance of each of ``points`` to the polyline through ``polyline`` (skipping NaN)."""
    best = np.full(len(points), np.inf)
    for a, b in zip(polyline[:-1], polyline[1:]):
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            continue
        span = b - a
        t = np.clip(((points - a) @ span) / max(span @ span, 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * span), axis=1))
    return best


def test_canonical_tempo_keeps_the_path():
    pose = arm_on_path(np.linspace(0, 1, 16) ** 3)          # slow start, fast finish, a corner
    out = canonical_tempo(pose)
    lay = get_layout(LAYOUT)
    assert out.n_frames == pose.n_frames
    assert np.allclose(out.xy[[0, -1]], pose.xy[[0, -1]], equal_nan=True)
    for joint in ("right_elbow", "right_wrist"):
        k = lay.anchor(joint)
        path = pose.xy[:, 0, k].astype(np.float64)
        assert distance_to_polyline(out.xy[:, 0, k].astype(np.float64), path).max() < 1e-3
    # still points stay where they were; points missing throughout stay missing
    assert np.array_equal(out.xy[:, 0, lay.anchor("neck")], pose.xy[:, 0, lay.anchor("neck")])
    assert np.array_equal(np.isnan(out.xy[..., 0]).all(0), np.isnan(pose.xy[..., 0]).all(0))


def test_canonical_tempo_makes_the_speed_constant():
    pose = arm_on_path(0.6 * np.linspace(0, 1, 16) ** 3)    # a straight stretch, accelerating
    lay = get_layout(LAYOUT)
    wrist = lay.anchor("right_wrist")
    source_steps = np.linalg.norm(np.diff(pose.xy[:, 0, wrist], axis=0), axis=1)
    assert source_steps.max() > 5 * source_steps.min()
    steps = np.linalg.norm(np.diff(canonical_tempo(pose).xy[:, 0, wrist], axis=0), axis=1)
    assert np.allclose(steps, 96 / 15, atol=1e-3)


def test_canonical_tempo_invents_no_point():
    pose = arm_on_path(np.linspace(0, 1, 20) ** 2)
    lay = get_layout(LAYOUT)
    xy = pose.xy.copy()
    hand = lay.slice("right_hand")
    xy[:, 0, hand] = xy[:, 0, lay.anchor("right_wrist"), None] + np.arange(21)[:, None]
    xy[5:9, 0, hand] = np.nan                   # hand lost for a while
    xy[12, 0, lay.anchor("right_elbow")] = np.nan
    pose = pose.replace(xy=xy, conf=np.isfinite(xy[..., 0]).astype(np.float32))
    out = canonical_tempo(pose)
    present = np.isfinite(out.xy[..., 0])
    assert np.array_equal(out.conf > 0, present)
    assert np.array_equal(present.any(0), np.isfinite(pose.xy[..., 0]).any(0))
    # every present output point is a source point or lies between two consecutive present ones
    for k in (lay.anchor("right_elbow"), hand.start, hand.start + 20):
        shown = present[:, 0, k]
        assert shown.any() and not shown.all()
        path = pose.xy[:, 0, k].astype(np.float64)
        assert distance_to_polyline(out.xy[shown, 0, k].astype(np.float64), path).max() < 1e-3


def test_canonical_tempo_leaves_still_or_short_poses_alone():
    still = arm_on_path(np.zeros(10))
    assert canonical_tempo(still) is still
    short = arm_on_path(np.array([0.0, 1.0]))
    assert canonical_tempo(short) is short


def test_smooth_time_removes_jitter_and_keeps_missing_points():
    pose = arm_on_path(np.full(30, 0.3))
    lay = get_layout(LAYOUT)
    wrist = lay.anchor("right_wrist")
    rng = np.random.default_rng(0)
    xy = pose.xy.copy()
    xy[:, 0, wrist] += rng.normal(0, 2, (30, 2)).astype(np.float32)
    xy[10:13, 0, wrist] = np.nan
    pose = pose.replace(xy=xy, conf=np.isfinite(xy[..., 0]).astype(np.float32))
    out = smooth_time(pose)
    assert np.array_equal(np.isnan(out.xy[..., 0]), np.isnan(pose.xy[..., 0]))
    # a point standing still stays exactly where it is
    assert np.allclose(out.xy[:, 0, lay.anchor("neck")], pose.xy[:, 0, lay.anchor("neck")])
    jitter_in = np.nanstd(np.diff(pose.xy[:, 0, wrist], axis=0))
    jitter_out = np.nanstd(np.diff(out.xy[:, 0, wrist], axis=0))
    assert jitter_out < jitter_in / 2
    # a window under two frames is no filter at all
    assert smooth_time(pose, seconds=0.02) is pose


def test_unknown_method_is_refused():
    pose = arm_on_path(np.linspace(0, 1, 5))
    with pytest.raises(SignverseError, match="unknown anonymisation method"):
        anonymize(pose, None, method="blur")    # type: ignore[arg-type]


def test_dominant_right_mirrors_a_left_handed_sequence_and_invents_nothing():
    """The arm on the path is the right arm; as the left arm (mirrored) it leads, so
    ``dominant_right`` mirrors it back: the moving arm comes out in the right-arm slots, the
    still shoulder line stays, and the points missing before are the (mirrored) missing ones."""
    from signverse.ops.anonymize import dominant_right, hand_activity
    from signverse.ops.augment import flip
    right = arm_on_path(np.linspace(0, 1, 12))
    xy = right.xy.copy()
    xy[4, 0, get_layout(LAYOUT).anchor("right_elbow")] = np.nan
    right = right.replace(xy=xy, conf=np.isfinite(xy[..., 0]).astype(np.float32))
    left = flip(right)
    assert hand_activity(left, "left") > hand_activity(left, "right") == 0.0
    assert dominant_right(right) is right                         # already right-dominant
    out = dominant_right(left)
    assert np.allclose(out.xy, right.xy, equal_nan=True)          # flip is its own inverse
    assert np.array_equal(np.isnan(out.xy[..., 0]), np.isnan(right.xy[..., 0]))


def test_default_method_puts_the_leading_hand_right_with_canonical_bones():
    from signverse.ops.anonymize import DEFAULT_METHOD, canonical_target, hand_activity
    from signverse.ops.augment import flip
    from signverse.ops.retarget import bone_length_error
    right = arm_on_path(np.linspace(0, 1, 12))
    left = flip(right)
    target = canonical_target([right, left])
    assert DEFAULT_METHOD == "canonical-space"
    for src in (right, left):
        out = anonymize(src, target, method="canonical-dominant")
        assert hand_activity(out, "right") > hand_activity(out, "left")
        assert np.max(bone_length_error(out, target)) < 1e-4
        assert np.array_equal(np.isnan(out.xy[..., 0]).all(0), np.isnan(right.xy[..., 0]).all(0))
    # the older methods leave the hands where they are
    assert hand_activity(anonymize(left, target, method="canonical-tempo"), "left") > 0


def test_default_method_turns_each_sequence_a_little_and_reproducibly():
    """``canonical-dominant`` (and ``canonical-space``) applies its own per-sequence turn
    (``METHOD_ROTATE``) unless told ``rotate=0``; the same seed gives the same output, another seed another turn;
    the other methods turn nothing unless asked."""
    from signverse.ops.anonymize import METHOD_ROTATE, canonical_target, method_rotate
    from signverse.ops.retarget import bone_vectors
    assert method_rotate("canonical-dominant") == METHOD_ROTATE["canonical-dominant"] > 0
    assert method_rotate("canonical-tempo") == 0.0 and method_rotate("canonical-dominant", 0) == 0.0
    src = arm_on_path(np.linspace(0, 1, 12))
    target = canonical_target([src])
    still = anonymize(src, target, rotate=0.0, seed=3)
    a, b = anonymize(src, target, seed=3), anonymize(src, target, seed=3)
    c = anonymize(src, target, seed=4)
    assert np.array_equal(a.xy, b.xy, equal_nan=True) and not np.allclose(a.xy, c.xy, equal_nan=True)

    def angles(pose):
        v = bone_vectors(pose)
        return np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    turn = np.abs((angles(a) - angles(still) + 180) % 360 - 180)
    turn = turn[np.isfinite(turn)]
    assert 0.1 < np.median(turn) < 20                 # a few degrees, not a different pose
    assert np.array_equal(np.isnan(a.xy), np.isnan(still.xy))
    tempo = anonymize(src, target, method="canonical-tempo", seed=3)
    assert np.allclose(tempo.xy, anonymize(src, target, method="canonical-tempo", seed=4).xy,
                       equal_nan=True)


def arm_and_hand(times: np.ndarray) -> PoseSeq:
    """``arm_on_path`` with a right hand (its wrist on the body's wrist, four finger points in a
    fixed shape around it); the elbow is missing in frame 3, one fingertip in frame 5."""
    lay = get_layout(LAYOUT)
    pose = arm_on_path(times)
    xy = pose.xy.astype(np.float64)
    wrist = xy[:, 0, lay.anchor("right_wrist")]
    hand = lay.slice("right_hand")
    for j, offset in enumerate([(0, 0), (-10, 15), (0, 25), (8, 22), (12, 12)]):
        xy[:, 0, hand.start + j] = wrist + offset
    xy[3, 0, lay.anchor("right_elbow")] = np.nan
    xy[5, 0, hand.start + 2] = np.nan
    xy = xy.astype(np.float32)
    return pose.replace(xy=xy, conf=np.isfinite(xy[..., 0]).astype(np.float32))


def test_randomize_workspace_moves_the_hand_and_keeps_bones_shape_and_missing_points():
    """The signing-space randomisation moves each hand's path (here by a few tenths of a
    shoulder width), re-solves the arm so every bone keeps its canonical length, keeps the
    hand's shape relative to its wrist, leaves the shoulders where they were and invents no
    point."""
    from signverse.ops.anonymize import canonical_target, randomize_workspace
    from signverse.ops.retarget import bone_length_error
    lay = get_layout(LAYOUT)
    src = arm_and_hand(np.linspace(0, 1, 12))
    target = canonical_target([src])
    base = anonymize(src, target, method="canonical-tempo")
    out = randomize_workspace(base, np.random.default_rng(0), shift=0.3, amplitude=0.3, hand_turn=20)
    assert np.array_equal(np.isnan(out.xy), np.isnan(base.xy))
    assert np.max(bone_length_error(out, target)) < 1e-3
    wrist, hand = lay.anchor("right_wrist"), lay.slice("right_hand")
    unit = np.linalg.norm(base.xy[0, 0, lay.anchor("left_shoulder")] - base.xy[0, 0, lay.anchor("right_shoulder")])
    moved = np.linalg.norm(out.xy[:, 0, wrist] - base.xy[:, 0, wrist], axis=-1) / unit
    assert 0.05 < np.nanmedian(moved) < 1.5
    def shape(p):      # distances between the hand's points: the hand shape, turn or not
        pts = p.xy[:, 0, hand][:, :5].astype(np.float64)
        return np.linalg.norm(pts[:, :, None] - pts[:, None], axis=-1)
    assert np.allclose(shape(out), shape(base), atol=1e-3, equal_nan=True)
    kept = randomize_workspace(base, np.random.default_rng(0), shift=0.3, amplitude=0.3)
    assert np.allclose((kept.xy[:, 0, hand] - kept.xy[:, 0, hand.start, None])[:, :5],
                       (base.xy[:, 0, hand] - base.xy[:, 0, hand.start, None])[:, :5],
                       atol=1e-3, equal_nan=True)               # no turn: not even the direction
    assert not np.allclose(out.xy[:, 0, hand], kept.xy[:, 0, hand], equal_nan=True)
    for name in ("left_shoulder", "right_shoulder"):
        assert np.array_equal(out.xy[:, 0, lay.anchor(name)], base.xy[:, 0, lay.anchor(name)])
    assert randomize_workspace(base, np.random.default_rng(0), shift=0.0, amplitude=0.0) is base


def test_canonical_space_method_is_seeded_and_keeps_the_canonical_skeleton():
    """``canonical-space`` (the default) is ``canonical-dominant`` plus its own signing-space
    randomisation (``METHOD_SPACE``), reproducible per seed; switched off it is
    ``canonical-dominant``."""
    from signverse.ops.anonymize import METHOD_SPACE, canonical_target, method_space
    from signverse.ops.retarget import bone_length_error
    assert method_space("canonical-space") == METHOD_SPACE["canonical-space"]
    assert min(method_space("canonical-space")) > 0
    assert method_space("canonical-dominant") == (0.0, 0.0, 0.0)
    src = arm_and_hand(np.linspace(0, 1, 12))
    target = canonical_target([src])
    a, b = anonymize(src, target, seed=3), anonymize(src, target, method="canonical-space", seed=3)
    assert np.array_equal(a.xy, b.xy, equal_nan=True)
    assert not np.allclose(a.xy, anonymize(src, target, method="canonical-space", seed=4).xy,
                           equal_nan=True)
    assert np.max(bone_length_error(a, target)) < 1e-3
    dominant = anonymize(src, target, method="canonical-dominant", seed=3)
    assert np.array_equal(np.isnan(a.xy), np.isnan(dominant.xy))
    assert not np.allclose(a.xy, dominant.xy, equal_nan=True)
    off = anonymize(src, target, method="canonical-space", shift=0, amplitude=0, hand_turn=0, seed=3)
    assert np.array_equal(off.xy, dominant.xy, equal_nan=True)
    with pytest.raises(SignverseError, match=">= 0"):
        anonymize(src, target, method="canonical-space", shift=-1)


def test_no_method_passes_the_source_depth_on():
    """MediaPipe's z holds the person's proportions too: no anonymised output may carry it."""
    from signverse.ops.anonymize import METHODS, canonical_target
    pose = arm_and_hand(np.linspace(0, 1, 12))
    pose = pose.replace(xy=pose.xy, z=np.where(pose.valid, 5.0, np.nan).astype(np.float32))
    target = canonical_target([pose])
    for method in METHODS:
        assert anonymize(pose, target, method=method).z is None, method

"""What ``canonical-quiet`` stills: expression damping (``damp_face``) and the rest bones' damped
movement (``Target.rest_motion``)."""
from __future__ import annotations

import numpy as np
import pytest

from signverse.core import PoseSeq
from signverse.core.errors import SignverseError
from signverse.layouts import get_layout
from signverse.ops.anonymize_face import damp_face

LAYOUT = "dwpose"


def face_pose(n: int = 10) -> PoseSeq:
    """A nose moving right and a face whose points move (an expression) around a fixed shape;
    one face point missing in frame 3."""
    lay = get_layout(LAYOUT)
    rng = np.random.default_rng(3)
    xy = np.full((n, 1, lay.num_points, 2), np.nan)
    xy[:, 0, lay.anchor("neck")] = (300, 100)
    xy[:, 0, lay.anchor("left_shoulder")] = (340, 100)
    xy[:, 0, lay.anchor("right_shoulder")] = (260, 100)
    nose = np.stack([300 + np.arange(n) * 2.0, np.full(n, 60.0)], -1)
    xy[:, 0, lay.anchor("nose")] = nose
    face = lay.slice("face")
    shape = rng.normal(0, 10, (face.stop - face.start, 2))
    xy[:, 0, face] = nose[:, None] + shape[None] + rng.normal(0, 2, (n, face.stop - face.start, 2))
    xy[3, 0, face.start + 5] = np.nan
    xy = xy.astype(np.float32)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, 640, 480, LAYOUT)


def test_damp_face_scales_the_expression_and_keeps_missing_points():
    lay = get_layout(LAYOUT)
    pose = face_pose()
    face, nose = lay.slice("face"), lay.anchor("nose")
    assert damp_face(pose, 1.0) is pose
    still = damp_face(pose, 0.0)
    rel = still.xy[:, 0, face] - still.xy[:, 0, nose, None]
    spread = np.nanstd(rel, axis=0)
    assert np.nanmax(spread) < 1e-3                       # one shape throughout, moving with the nose
    assert np.array_equal(np.isnan(still.xy), np.isnan(pose.xy))
    half = damp_face(pose, 0.5)
    rel_src = pose.xy[:, 0, face] - pose.xy[:, 0, nose, None]
    rel_half = half.xy[:, 0, face] - half.xy[:, 0, nose, None]
    assert np.allclose(np.nanstd(rel_half, 0), np.nanstd(rel_src, 0) / 2, atol=1e-3)
    others = np.ones(lay.num_points, bool)
    others[face] = False
    assert np.array_equal(half.xy[:, :, others], pose.xy[:, :, others], equal_nan=True)
    with pytest.raises(SignverseError, match=">= 0"):
        damp_face(pose, -1)


def nodding(n: int = 16) -> PoseSeq:
    """A body whose head (nose, eyes, ears) nods and whose shoulders rock, arms hanging."""
    lay = get_layout(LAYOUT)
    t = np.arange(n)
    xy = np.full((n, 1, lay.num_points, 2), np.nan)
    xy[:, 0, lay.anchor("neck")] = (300, 100)
    rock = 8 * np.sin(t / 2)
    xy[:, 0, lay.anchor("left_shoulder")] = np.stack([np.full(n, 340.0), 100 + rock], -1)
    xy[:, 0, lay.anchor("right_shoulder")] = np.stack([np.full(n, 260.0), 100 - rock], -1)
    nod = 10 * np.sin(t / 3)
    xy[:, 0, lay.anchor("nose")] = np.stack([300 + nod, np.full(n, 50.0)], -1)
    for side, sign in (("left", 1), ("right", -1)):
        xy[:, 0, lay.anchor(f"{side}_elbow")] = xy[:, 0, lay.anchor(f"{side}_shoulder")] + (sign * 10, 60)
        xy[:, 0, lay.anchor(f"{side}_wrist")] = xy[:, 0, lay.anchor(f"{side}_elbow")] + (sign * 5, 55)
    xy = xy.astype(np.float32)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, 640, 480, LAYOUT)


def test_rest_motion_zero_holds_the_rest_bones_still_with_canonical_lengths():
    from dataclasses import replace

    from signverse.ops.anonymize import canonical_target
    from signverse.ops.retarget import bone_length_error, retarget
    lay = get_layout(LAYOUT)
    pose = nodding()
    target = canonical_target([pose])
    moving = retarget(pose, target)
    still = retarget(pose, replace(target, rest_motion=0.0))
    half = retarget(pose, replace(target, rest_motion=0.5))
    neck, nose = lay.anchor("neck"), lay.anchor("nose")

    def head_angle(p):
        v = p.xy[:, 0, nose] - p.xy[:, 0, neck]
        return np.arctan2(v[:, 1], v[:, 0])
    assert np.std(head_angle(moving)) > 0.05
    assert np.std(head_angle(still)) < 1e-5
    assert np.allclose(np.std(head_angle(half)), np.std(head_angle(moving)) / 2, rtol=0.05)
    for out in (still, half):
        assert np.max(bone_length_error(out, target)) < 1e-4
        assert np.array_equal(np.isnan(out.xy), np.isnan(moving.xy))
    # the arms are not rest bones: their own angles move as before (they hang from the shoulder)
    elbow, wrist = lay.anchor("right_elbow"), lay.anchor("right_wrist")
    fore = lambda p: np.arctan2(*(p.xy[:, 0, wrist] - p.xy[:, 0, elbow]).T[::-1])   # noqa: E731
    assert np.allclose(fore(still), fore(moving), atol=1e-5)


def test_canonical_quiet_method_keeps_the_skeleton_and_missing_points_and_quietens_the_head():
    from signverse.ops.anonymize import METHOD_QUIET, anonymize, canonical_target, method_quiet
    from signverse.ops.retarget import bone_length_error
    assert method_quiet("canonical-quiet") == METHOD_QUIET["canonical-quiet"]
    assert method_quiet("canonical-space") == (1.0, 1.0)
    lay = get_layout(LAYOUT)
    pose = nodding()
    target = canonical_target([pose])
    out = anonymize(pose, target, method="canonical-quiet", rest_motion=0.0, seed=1)
    assert np.max(bone_length_error(out, target)) < 1e-3
    assert np.array_equal(np.isnan(out.xy), np.isnan(pose.xy))
    v = out.xy[:, 0, lay.anchor("nose")] - out.xy[:, 0, lay.anchor("neck")]
    assert np.std(np.arctan2(v[:, 1], v[:, 0])) < 1e-3
    space = anonymize(pose, target, method="canonical-space", seed=1)
    v = space.xy[:, 0, lay.anchor("nose")] - space.xy[:, 0, lay.anchor("neck")]
    assert np.std(np.arctan2(v[:, 1], v[:, 0])) > 0.02
    with pytest.raises(SignverseError, match=r"\[0, 1\]"):
        anonymize(pose, target, method="canonical-quiet", expression=2.0)

"""Skeleton retargeting: lengths become the target's, angles and missing points stay the source's."""
from __future__ import annotations

import numpy as np
import pytest

import signverse
from signverse.core import PoseSeq
from signverse.core.errors import SignverseError
from signverse.layouts import get_layout
from signverse.ops.retarget import (VIRTUAL_ROOT, bone_length_error, joint_angle_change,
                                    kinematic_tree, measure, retarget)
from tests.conftest import shared


def random_person(layout: str, n_frames: int, seed: int, *, arm: float = 1.0, size=(640, 480)) -> PoseSeq:
    """A random skeleton grown along the layout's tree: random bone directions, lengths scaled by
    ``arm``, so every point is present and bones have known lengths."""
    rng = np.random.default_rng(seed)
    lay = get_layout(layout)
    sk = kinematic_tree(lay.name)
    xy = np.full((n_frames, 1, lay.num_points + 1, 2), np.nan)
    lengths = rng.uniform(5, 30, lay.num_points) * arm
    xy[:, 0, -1] = (320, 200) + rng.normal(0, 3, (n_frames, 2))
    if sk.root != VIRTUAL_ROOT:
        xy[:, 0, sk.root] = xy[:, 0, -1]
    for p, k in sk.bones:
        angle = rng.uniform(0, 2 * np.pi) + rng.normal(0, 0.2, n_frames)
        parent = xy[:, 0, p if p != VIRTUAL_ROOT else -1]
        xy[:, 0, k] = parent + lengths[k] * np.stack([np.cos(angle), np.sin(angle)], -1)
    if len(sk.face):
        nose = xy[:, 0, sk.face_anchor]
        shape = rng.normal(0, 10 * arm, (len(sk.face), 2))
        xy[:, 0, sk.face] = nose[:, None] + shape + rng.normal(0, 1, (n_frames, len(sk.face), 2))
    xy = xy[:, :, :-1].astype(np.float32)
    return PoseSeq(xy, np.ones(xy.shape[:3], np.float32), 25, size[0], size[1], lay.name)


@pytest.mark.parametrize("layout", ["dwpose", "coco-wholebody", "mediapipe-holistic", "openpose-137"])
def test_every_point_is_in_the_tree_and_parents_come_first(layout):
    lay = get_layout(layout)
    sk = kinematic_tree(lay.name)
    placed = {sk.root}
    for p, k in sk.bones:
        assert p in placed, f"{lay.point_names[k]} placed before its parent"
        placed.add(k)
    n_tree = len(sk.order) + (sk.root != VIRTUAL_ROOT) + len(sk.face) + len(sk.dropped)
    assert n_tree == lay.num_points
    # hands hang from the body's wrists
    assert sk.parent[lay.anchor("left_hand_root")] == lay.anchor("left_wrist")


@pytest.mark.parametrize("layout", ["dwpose", "coco-wholebody", "mediapipe-holistic"])
def test_lengths_become_the_targets_and_angles_stay(layout):
    src = random_person(layout, 12, seed=1)
    ref = random_person(layout, 5, seed=2, arm=2.5, size=(512, 768))
    target = measure(ref, layout)
    out = retarget(src, target)
    assert (out.width, out.height) == (512, 768)
    assert np.max(bone_length_error(out, target)) < 1e-4
    change = joint_angle_change(src, out)
    assert change.size > 0 and np.max(change) < 1e-3
    # the root sits at the reference's root position
    sk = kinematic_tree(layout)
    from signverse.ops.retarget import root_xy
    assert np.allclose(np.median(root_xy(out)[:, 0], 0), np.median(root_xy(ref)[:, 0], 0), atol=0.5)


def test_face_keeps_the_expression_on_the_targets_shape():
    src = random_person("dwpose", 10, seed=3)
    ref = random_person("dwpose", 10, seed=4, arm=2)
    target = measure(ref, "dwpose")
    out = retarget(src, target)
    sk = kinematic_tree("dwpose")
    rel = lambda p: p.xy[:, 0, sk.face] - p.xy[:, 0, sk.face_anchor, None]  # noqa: E731
    unit_out = target.shoulder * out.height
    # mean shape is the target's (in body units) ...
    assert np.allclose(np.median(rel(out), 0) / unit_out, target.face_shape, atol=1e-3)
    # ... and the per-frame displacement is the source's, scaled by the ratio of face sizes
    def size(shape):
        return np.sqrt((shape ** 2).sum(-1).mean())
    disp_src = (rel(src) - np.median(rel(src), 0)) / size(np.median(rel(src), 0))
    disp_out = (rel(out) - np.median(rel(out), 0)) / size(np.median(rel(out), 0))
    assert np.allclose(disp_src, disp_out, atol=1e-3)


def test_missing_points_stay_missing_and_nothing_is_invented():
    src = random_person("dwpose", 8, seed=5)
    xy, conf = src.xy.copy(), src.conf.copy()
    lay = get_layout("dwpose")
    elbow = lay.anchor("left_elbow")
    xy[2:5, 0, elbow] = np.nan          # an elbow missing: the wrist below must still be placed
    xy[0, 0, lay.slice("right_hand")] = np.nan
    xy[6, 0, lay.anchor("neck")] = np.nan
    conf[~np.isfinite(xy[..., 0])] = 0
    src = src.replace(xy=xy, conf=conf)
    ref = random_person("dwpose", 3, seed=6, arm=1.7)
    target = measure(ref, "dwpose")
    out = retarget(src, target)
    assert np.array_equal(np.isnan(out.xy[..., 0]), np.isnan(src.xy[..., 0]))
    assert np.array_equal(out.conf > 0, src.conf > 0)
    # the wrist under the missing elbow sits at the target's elbow + forearm length from the shoulder
    wrist, shoulder = lay.anchor("left_wrist"), lay.anchor("left_shoulder")
    unit = target.shoulder * out.height
    chain = (target.lengths[elbow] + target.lengths[wrist]) * unit
    src_chain = np.nanmedian(np.linalg.norm(src.xy[:, 0, elbow] - src.xy[:, 0, shoulder], axis=-1)) \
        + np.nanmedian(np.linalg.norm(src.xy[:, 0, wrist] - src.xy[:, 0, elbow], axis=-1))
    got = np.linalg.norm(out.xy[3, 0, wrist] - out.xy[3, 0, shoulder])
    want = np.linalg.norm(src.xy[3, 0, wrist] - src.xy[3, 0, shoulder]) * chain / src_chain
    assert got == pytest.approx(want, rel=1e-4)


def test_world_points_are_dropped_not_carried_in_the_wrong_units():
    src = random_person("mediapipe-holistic-world", 4, seed=7)
    out = retarget(src, random_person("mediapipe-holistic-world", 2, seed=8))
    world = get_layout("mediapipe-holistic-world").slice("body_world")
    assert np.isnan(out.xy[:, :, world]).all() and (out.conf[:, :, world] == 0).all()


def test_reference_without_shoulders_is_refused():
    ref = random_person("dwpose", 2, seed=9)
    xy = ref.xy.copy()
    xy[:, :, get_layout("dwpose").anchor("left_shoulder")] = np.nan
    with pytest.raises(SignverseError, match="no shoulders"):
        measure(ref.replace(xy=xy, conf=np.where(np.isfinite(xy[..., 0]), 1, 0)), "dwpose")
    with pytest.raises(SignverseError, match="frame 9"):
        measure(ref, "dwpose", frame=9)


def test_real_fingerspelling_to_the_football_signer():
    """The issue's figures on real pairs: bone-length error < 1% of the shoulder width, median
    joint-angle change < 1 degree (both are far below: the construction is exact)."""
    files = sorted(shared("fingerspelling").glob("*/*.pose"))[::12]
    football = signverse.read_pose(shared("poses", "poses_FOOTBALL.pose"))
    errors, angles = [], []
    for f in files:
        src = signverse.read_pose(f)
        for frame in (None, 0):
            target = measure(football, src.layout, frame=frame)
            out = retarget(src, target)
            errors.append(bone_length_error(out, target))
            angles.append(joint_angle_change(src, out))
            drawn = np.ones(src.n_points, bool)
            drawn[kinematic_tree(src.layout).dropped] = False
            assert np.array_equal(np.isnan(out.xy[:, :, drawn, 0]), np.isnan(src.xy[:, :, drawn, 0]))
    errors, angles = np.concatenate(errors), np.concatenate(angles)
    assert errors.size > 1000 and np.max(errors) < 0.01
    assert angles.size > 1000 and np.median(angles) < 1.0 and np.percentile(angles, 99) < 0.01


def test_real_cross_layout_reference_by_point_names():
    """A COCO-WholeBody source takes its lengths from a DWPose (OpenPose-18 + hands) reference."""
    src = signverse.read_pose(shared("poses", "poses_mmposewholebody_SOUP.pose"))
    ref = signverse.convert(signverse.read_pose(shared("poses", "poses_mmposewholebody_FOOTBALL.pose")),
                            "dwpose")
    target = measure(ref, src.layout)
    lay = get_layout(src.layout)
    assert np.isfinite(target.lengths[lay.slice("left_hand")][1:]).all()
    out = retarget(src, target)
    assert np.max(bone_length_error(out, target)) < 0.01


def test_cli_retarget(tmp_path):
    from signverse.cli.main import main
    src = shared("fingerspelling", "ase")
    first = sorted(src.glob("*.pose"))[0]
    out = tmp_path / "out.pose"
    assert main(["retarget", str(first), "--to", str(shared("poses", "poses_FOOTBALL.pose")),
                 str(out), "--frame", "3"]) == 0
    pose = signverse.read_pose(out)
    assert (pose.width, pose.height) == (640, 360)
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"not a pose")
    assert main(["retarget", str(first), "--to", str(bad), str(out)]) == 2


def test_second_person_keeps_its_place_beside_the_first():
    a = random_person("dwpose", 4, seed=20)
    b = random_person("dwpose", 4, seed=21)
    xy = np.concatenate([a.xy, b.xy + np.array([200, 0], np.float32)], axis=1)
    two = a.replace(xy=xy, conf=np.ones(xy.shape[:3], np.float32))
    target = measure(random_person("dwpose", 2, seed=22, arm=2), "dwpose")
    out = retarget(two, target)
    from signverse.ops.retarget import root_xy
    roots = np.median(root_xy(out), 0)                      # [P, 2]
    width = np.median(np.linalg.norm(a.xy[:, 0, 5] - a.xy[:, 0, 2], axis=-1))
    gap = 200 * target.shoulder * out.height / width        # the source gap, scaled like person 0
    assert roots[1, 0] - roots[0, 0] == pytest.approx(gap, rel=0.05)


def test_cli_reference_is_a_pose_keypoint_image(tmp_path):
    """The keypoints of one reference image as ControlNet tools write them (POSE_KEYPOINT, COCO-18
    body + hands) drive a MediaPipe source: body and hand bones match by name."""
    from signverse.cli.main import main
    from signverse.io.openpose_json import write_pose_keypoint
    ref = signverse.convert(signverse.read_pose(shared("poses", "poses_mmposewholebody_FOOTBALL.pose")),
                            "dwpose").frames(30, 31)
    ref_json = write_pose_keypoint(ref, tmp_path / "ref.json", normalized=True)
    src = sorted(shared("fingerspelling", "gsg").glob("*.pose"))[0]
    out = tmp_path / "out.pose"
    assert main(["retarget", str(src), "--to", str(ref_json), str(out)]) == 0
    pose, source = signverse.read_pose(out), signverse.read_pose(src)
    target = measure(signverse.read_pose(ref_json), source.layout)
    lay = get_layout(source.layout)
    assert np.isfinite(target.lengths[lay.anchor("left_elbow")])
    assert np.isfinite(target.lengths[lay.slice("right_hand")][1:]).all()
    assert np.max(bone_length_error(pose, target)) < 0.01
    assert (pose.width, pose.height) == (ref.width, ref.height)

import numpy as np
import pytest

from signverse.core import PoseSeq
from signverse.layouts import get_layout
from signverse.ops import (Compose, RandomFlip, RandomFrameDrop, RandomRotate, RandomScale,
                           RandomShear, drop_frames, flip, random_augment, rotate, scale, shear)

DW = get_layout("dwpose")


def single(x, y, width=100, height=100):
    return PoseSeq(np.array([[[[x, y]]]], np.float32), np.ones((1, 1, 1), np.float32), 24, width,
                   height, "custom")


def random_dwpose(rng, n_frames=4, width=640, height=480):
    xy = rng.uniform(0, [width, height], size=(n_frames, 2, DW.num_points, 2)).astype(np.float32)
    conf = rng.uniform(0.1, 1, size=xy.shape[:3]).astype(np.float32)
    conf[0, 0, :5] = 0
    return PoseSeq(xy, conf, 24, width, height, "dwpose")


def test_rotate_90_about_frame_centre_and_four_times_is_identity():
    pose = single(60, 50)
    np.testing.assert_allclose(rotate(pose, 90).xy[0, 0, 0], [50, 40], atol=1e-5)
    np.testing.assert_allclose(rotate(pose, -90).xy[0, 0, 0], [50, 60], atol=1e-5)
    np.testing.assert_allclose(rotate(pose, 180).xy[0, 0, 0], [40, 50], atol=1e-5)
    out = pose
    for _ in range(4):
        out = rotate(out, 90)
    np.testing.assert_allclose(out.xy, pose.xy, atol=1e-4)
    np.testing.assert_allclose(rotate(pose, 90, center=(60, 60)).xy[0, 0, 0], [50, 60], atol=1e-5)


def test_scale_and_shear_hand_computed():
    np.testing.assert_allclose(scale(single(60, 50), 2).xy[0, 0, 0], [70, 50])
    np.testing.assert_allclose(scale(single(60, 60), (2, 0.5)).xy[0, 0, 0], [70, 55])
    np.testing.assert_allclose(shear(single(60, 60), x=0.5).xy[0, 0, 0], [65, 60])
    np.testing.assert_allclose(shear(single(60, 60), y=-1).xy[0, 0, 0], [60, 50])


def test_flip_mirrors_x_around_the_frame_centre_and_swaps_sides():
    rng = np.random.default_rng(0)
    pose = random_dwpose(rng)
    out = flip(pose)
    lh, rh = DW.slice("left_hand"), DW.slice("right_hand")
    np.testing.assert_allclose(out.xy[..., lh, 0], 640 - pose.xy[..., rh, 0], atol=1e-4)
    np.testing.assert_array_equal(out.xy[..., lh, 1], pose.xy[..., rh, 1])
    np.testing.assert_array_equal(out.conf[..., rh], pose.conf[..., lh])
    ls, rs = DW.anchor("left_shoulder"), DW.anchor("right_shoulder")
    np.testing.assert_allclose(out.xy[..., ls, 0], 640 - pose.xy[..., rs, 0], atol=1e-4)
    jaw0, jaw16 = DW.index("face.jaw_00"), DW.index("face.jaw_16")
    np.testing.assert_array_equal(out.conf[..., jaw0], pose.conf[..., jaw16])
    nose = DW.anchor("nose")
    np.testing.assert_allclose(out.xy[..., nose, 0], 640 - pose.xy[..., nose, 0], atol=1e-4)
    assert not out.valid[0, 0, DW.index("body.neck")] and out.valid[1].all()   # missing moves along
    twice = flip(out)
    np.testing.assert_allclose(twice.xy, pose.xy, atol=1e-4)
    np.testing.assert_array_equal(twice.conf, pose.conf)


def test_flip_negates_world_points_without_shifting_them():
    layout = get_layout("mediapipe-holistic-world")
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, size=(2, 1, layout.num_points, 2)).astype(np.float32)
    world = layout.slice("body_world")
    xy[:, :, world] = rng.uniform(-1, 1, size=xy[:, :, world].shape)
    pose = PoseSeq(xy, np.ones(xy.shape[:3], np.float32), 30, 200, 100, layout.name)
    out = flip(pose)
    lw, rw = layout.index("body_world.left_wrist"), layout.index("body_world.right_wrist")
    np.testing.assert_allclose(out.xy[..., lw, 0], -pose.xy[..., rw, 0], atol=1e-6)
    face = layout.slice("face")        # mesh vertices keep their order, only x mirrors
    np.testing.assert_allclose(out.xy[..., face, 0], 200 - pose.xy[..., face, 0], atol=1e-4)
    np.testing.assert_allclose(flip(out).xy, pose.xy, atol=1e-4)


def test_drop_frames_masks_or_removes_and_keeps_one():
    rng = np.random.default_rng(0)
    pose = random_dwpose(rng, n_frames=50)
    masked = drop_frames(pose, np.random.default_rng(3), 0.5)
    dropped = ~masked.valid.any((1, 2))
    assert masked.n_frames == 50 and 10 < dropped.sum() < 40
    np.testing.assert_array_equal(masked.xy[~dropped], pose.xy[~dropped])
    removed = drop_frames(pose, np.random.default_rng(3), 0.5, remove=True)
    assert removed.n_frames == 50 - dropped.sum()
    np.testing.assert_array_equal(removed.xy, pose.xy[~dropped])
    assert drop_frames(pose, rng, 1.0, remove=True).n_frames == 1
    np.testing.assert_array_equal(drop_frames(pose, rng, 0.0).conf, pose.conf)


def test_compose_is_reproducible_with_a_seeded_generator_and_inputs_stay_untouched():
    pose = random_dwpose(np.random.default_rng(0))
    before_xy, before_conf = pose.xy.copy(), pose.conf.copy()
    aug = Compose([RandomFlip(0.5), RandomRotate((-20, 20)), RandomScale((0.8, 1.2)),
                   RandomShear((-0.2, 0.2), (-0.1, 0.1)), RandomFrameDrop((0.0, 0.3))])
    a = aug(pose, np.random.default_rng(7))
    b = aug(pose, np.random.default_rng(7))
    c = aug(pose, np.random.default_rng(8))
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.array_equal(a.xy, c.xy, equal_nan=True)
    np.testing.assert_array_equal(pose.xy, before_xy)
    np.testing.assert_array_equal(pose.conf, before_conf)


def test_random_rotate_applies_one_angle_drawn_from_its_range():
    pose = single(60, 50)
    rng = np.random.default_rng(5)
    angle = np.random.default_rng(5).uniform(10, 20)
    np.testing.assert_allclose(RandomRotate((10, 20))(pose, rng).xy, rotate(pose, angle).xy,
                               atol=1e-5)


@pytest.mark.parametrize("flip_p", [0.0, 1.0])
def test_random_augment_builds_steps(flip_p):
    aug = random_augment(flip=flip_p, drop=(0.0, 0.1))
    kinds = [type(s).__name__ for s in aug.steps]
    assert ("RandomFlip" in kinds) == (flip_p > 0)
    assert kinds[-1] == "RandomFrameDrop"
    pose = random_dwpose(np.random.default_rng(2))
    assert aug(pose, np.random.default_rng(0)).n_frames == pose.n_frames

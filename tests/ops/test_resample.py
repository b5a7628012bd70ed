import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.ops import resample


def linear(n_frames, fps, n_points=2):
    """x = 3 * frame + 2, y = -frame + 100 for every point (exactly linear motion)."""
    k = np.arange(n_frames, dtype=np.float32)[:, None, None]
    xy = np.stack([3 * k + 2 + np.zeros((1, 1, n_points)), 100 - k + np.zeros((1, 1, n_points))], -1)
    return PoseSeq(xy, np.ones((n_frames, 1, n_points), np.float32), fps, 640, 480, "custom")


def test_30_to_24_keeps_duration_and_interpolates_linear_motion_exactly():
    pose = linear(30, 30.0)
    out = resample(pose, 24.0)
    assert out.n_frames == 24 and out.fps == 24.0 and out.duration == pose.duration == 1.0
    src = np.arange(24) * 30 / 24                      # output frame k is at source frame 1.25 k
    np.testing.assert_allclose(out.xy[:, 0, 0, 0], 3 * src + 2, rtol=0, atol=1e-4)
    np.testing.assert_allclose(out.xy[:, 0, 1, 1], 100 - src, rtol=0, atol=1e-4)
    assert out.valid.all()


def test_missing_stays_missing_and_is_never_bridged():
    pose = linear(30, 30.0)
    conf = pose.conf.copy()
    conf[5, 0, 0] = 0       # point 0 missing at source frame 5 (= output frame 4 exactly)
    conf[10, 0, 1] = 0      # point 1 missing at frame 10, between outputs 7 (8.75) and 8 (10.0)
    conf[11, 0, 1] = 0      # ... and 11 (output 9 is at 11.25, needs 11 and 12)
    out = resample(pose.replace(conf=conf), 24.0)
    assert not out.valid[4, 0, 0] and out.valid[[3, 5], 0, 0].all()
    assert np.isnan(out.xy[4, 0, 0]).all() and out.conf[4, 0, 0] == 0
    assert list(np.flatnonzero(~out.valid[:, 0, 1])) == [8, 9]


def test_a_time_on_a_source_frame_needs_only_that_frame():
    pose = linear(4, 10.0)
    conf = pose.conf.copy()
    conf[1, 0, 0] = 0
    out = resample(pose.replace(conf=conf), 5.0)      # outputs at source frames 0 and 2
    assert out.n_frames == 2 and out.valid[:, 0, 0].all()
    np.testing.assert_allclose(out.xy[:, 0, 0, 0], [2, 8])


def test_upsampling_interpolates_coordinates_and_confidence():
    xy = np.array([[[[0, 0]]], [[[10, 20]]]], np.float32)
    pose = PoseSeq(xy, np.array([[[0.2]], [[0.6]]], np.float32), 10, 64, 64, "custom")
    out = resample(pose, 20)
    assert out.n_frames == 4
    np.testing.assert_allclose(out.xy[:, 0, 0], [[0, 0], [5, 10], [10, 20], [10, 20]])
    np.testing.assert_allclose(out.conf[:, 0, 0], [0.2, 0.4, 0.6, 0.6])   # last frame held


def test_same_fps_and_input_untouched_and_bad_fps():
    pose = linear(5, 25.0)
    before = pose.xy.copy()
    assert resample(pose, 25.0).xy is pose.xy
    resample(pose, 12.5)
    np.testing.assert_array_equal(pose.xy, before)
    with pytest.raises(SignverseError):
        resample(pose, 0)


def test_real_file_29_97_to_24(shared_data):
    from signverse import read_pose
    pose = read_pose(shared_data("poses", "poses_mmposewholebody_FOOTBALL.pose"))
    out = resample(pose, 24)
    assert out.n_frames == round(pose.duration * 24) == 50
    assert abs(out.duration - pose.duration) <= 0.5 / 24
    # frame 0 coincides with source frame 0 exactly
    np.testing.assert_array_equal(out.xy[0], pose.xy[0])
    assert out.layout == pose.layout and (out.width, out.height) == (pose.width, pose.height)

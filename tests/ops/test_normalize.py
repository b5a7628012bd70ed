import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.layouts import get_layout
from signverse.ops import denormalize, normalize, resample

DW = get_layout("dwpose")
CW = get_layout("coco-wholebody")


def make(layout, points_per_frame, width=200, height=100, fps=24.0):
    """points_per_frame: list of {anchor name: (x, y)} per frame (one person)."""
    xy = np.full((len(points_per_frame), 1, layout.num_points, 2), np.nan, np.float32)
    for t, points in enumerate(points_per_frame):
        for name, value in points.items():
            xy[t, 0, layout.anchor(name)] = value
    conf = np.isfinite(xy[..., 0]).astype(np.float32)
    return PoseSeq(xy, conf, fps, width, height, layout.name)


def test_neck_centre_and_shoulder_width_scale():
    pose = make(DW, [{"neck": (100, 50), "left_shoulder": (120, 50), "right_shoulder": (80, 50),
                      "left_wrist": (140, 90)}])
    norm, tf = normalize(pose)
    assert norm.xy[0, 0, DW.anchor("neck")].tolist() == [0.0, 0.0]
    assert norm.xy[0, 0, DW.anchor("right_shoulder")].tolist() == [-0.5, 0.0]
    assert norm.xy[0, 0, DW.anchor("left_wrist")].tolist() == [1.0, 1.0]
    assert np.isnan(norm.xy[0, 0, DW.anchor("nose")]).all()
    assert (norm.width, norm.height) == (200, 100)   # frame size of the source is kept
    back = denormalize(norm, tf)
    np.testing.assert_allclose(back.xy, pose.xy, atol=1e-4, equal_nan=True)
    np.testing.assert_array_equal(back.conf, pose.conf)


def test_layout_without_neck_uses_shoulder_midpoint():
    pose = make(CW, [{"left_shoulder": (130, 40), "right_shoulder": (70, 60), "nose": (100, 20)}])
    norm, tf = normalize(pose)
    width = np.hypot(60, 20)
    np.testing.assert_allclose(tf.center[0, 0], [100, 50])
    np.testing.assert_allclose(norm.xy[0, 0, CW.anchor("nose")], [0, -30 / width], rtol=1e-6)


def test_sequence_scale_is_a_robust_median_and_per_frame_scales_each_frame():
    frames = [{"neck": (100, 50), "left_shoulder": (120, 50), "right_shoulder": (80, 50)},
              {"neck": (110, 50), "left_shoulder": (130, 50), "right_shoulder": (90, 50)},
              {"neck": (100, 50), "left_shoulder": (300, 50), "right_shoulder": (-100, 50)}]
    pose = make(DW, frames)
    norm, tf = normalize(pose)
    assert tf.scale.shape == (1, 1, 2) and tf.scale[0, 0, 0] == 40.0   # outlier frame ignored
    np.testing.assert_allclose(tf.center[0, 0], [100, 50])
    # body motion survives sequence-level normalisation: frame 1's neck is 10 px = 0.25 right
    np.testing.assert_allclose(norm.xy[1, 0, DW.anchor("neck")], [0.25, 0.0])
    per, tf_frame = normalize(pose, per_frame=True)
    np.testing.assert_allclose(tf_frame.scale[:, 0, 0], [40, 40, 400])
    np.testing.assert_allclose(per.xy[:, 0, DW.anchor("left_shoulder"), 0], [0.5, 0.5, 0.5])


def test_per_frame_falls_back_to_sequence_values_where_shoulders_are_missing():
    pose = make(DW, [{"neck": (100, 50), "left_shoulder": (120, 50), "right_shoulder": (80, 50)},
                     {"nose": (100, 30)}])
    norm, tf = normalize(pose, per_frame=True)
    np.testing.assert_allclose(tf.center[1, 0], [100, 50])
    np.testing.assert_allclose(norm.xy[1, 0, DW.anchor("nose")], [0, -0.5])


def test_input_is_not_modified_and_sequence_transform_survives_resampling():
    pose = make(DW, [{"neck": (100 + t, 50), "left_shoulder": (120 + t, 50),
                      "right_shoulder": (80 + t, 50)} for t in range(30)], fps=30)
    before = pose.xy.copy()
    norm, tf = normalize(pose)
    np.testing.assert_array_equal(pose.xy, before)
    back = denormalize(resample(norm, 24), tf)
    np.testing.assert_allclose(back.xy, resample(pose, 24).xy, atol=1e-4, equal_nan=True)


def test_per_frame_transform_refuses_other_lengths():
    pose = make(DW, [{"neck": (1, 1), "left_shoulder": (2, 1), "right_shoulder": (0, 1)}] * 3)
    norm, tf = normalize(pose, per_frame=True)
    with pytest.raises(SignverseError):
        denormalize(norm.frames(0, 2), tf)


def test_frame_method_gives_unit_coordinates():
    pose = make(DW, [{"nose": (50, 25)}], width=200, height=100)
    norm, tf = normalize(pose, "frame")
    assert norm.xy[0, 0, DW.anchor("nose")].tolist() == [0.25, 0.25]
    np.testing.assert_allclose(denormalize(norm, tf).xy, pose.xy, equal_nan=True)


def test_person_without_shoulders_is_left_unscaled_and_unknown_method_fails():
    pose = make(DW, [{"nose": (50, 25)}])
    norm, _ = normalize(pose)
    np.testing.assert_array_equal(norm.xy, pose.xy)
    with pytest.raises(SignverseError, match="normalisation method"):
        normalize(pose, "nope")


def test_real_file_neck_sits_at_origin(shared_data):
    from signverse import convert, read_pose
    pose = convert(read_pose(shared_data("poses", "poses_mmposewholebody_FOOTBALL.pose")), "dwpose")
    norm, tf = normalize(pose, per_frame=True)
    neck = norm.xy[:, 0, DW.anchor("neck")]
    np.testing.assert_allclose(neck[np.isfinite(neck).all(-1)], 0, atol=1e-4)
    shoulder = np.linalg.norm(norm.xy[:, 0, DW.anchor("left_shoulder")]
                              - norm.xy[:, 0, DW.anchor("right_shoulder")], axis=-1)
    np.testing.assert_allclose(shoulder[np.isfinite(shoulder)], 1.0, rtol=1e-4)

import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.layouts import get_layout
from signverse.ops import mask_low_confidence

DW = get_layout("dwpose")


def pose_with_conf(conf_value):
    conf = np.full((2, 1, DW.num_points), conf_value, np.float32)
    return PoseSeq(np.ones((2, 1, DW.num_points, 2), np.float32), conf, 24, 64, 64, "dwpose")


def test_scalar_threshold_masks_points_below_it():
    conf = np.array([[[0.1, 0.3, 0.5]]], np.float32)
    pose = PoseSeq(np.ones((1, 1, 3, 2), np.float32), conf, 24, 8, 8, "custom")
    out = mask_low_confidence(pose, 0.4)
    assert out.valid.tolist() == [[[False, False, True]]]
    assert np.isnan(out.xy[0, 0, :2]).all() and out.conf[0, 0, 2] == np.float32(0.5)
    assert pose.valid.all()    # input untouched


def test_per_component_thresholds_with_default():
    pose = pose_with_conf(0.4)
    out = mask_low_confidence(pose, {"face": 0.5, "left_hand": 0.2, "*": 0.45})
    valid = out.valid[0, 0]
    assert not valid[DW.slice("face")].any()
    assert valid[DW.slice("left_hand")].all()
    assert not valid[DW.slice("right_hand")].any() and not valid[DW.slice("body")].any()
    with pytest.raises(SignverseError):
        mask_low_confidence(pose, {"tail": 0.5})

import json

import numpy as np
import pytest

import signverse
from signverse.core.pose import PoseSeq
from signverse.data import FeatureConfig, FeatureExtractor, FeatureStats, feature_preset

DW = signverse.get_layout("dwpose")


def dw_pose(n=6, seed=0, shift=(0.0, 0.0), factor=1.0):
    """A dwpose sequence with shoulders 40 px apart around a neck at (200, 150)."""
    rng = np.random.default_rng(seed)
    xy = rng.normal(200, 30, size=(n, 1, 128, 2)).astype(np.float32)
    xy[:, 0, DW.anchor("neck")] = [200, 150]
    xy[:, 0, DW.anchor("left_shoulder")] = [220, 150]
    xy[:, 0, DW.anchor("right_shoulder")] = [180, 150]
    xy = xy * factor + np.array(shift, np.float32)
    conf = np.ones((n, 1, 128), np.float32)
    conf[0, 0, DW.slice("left_hand")] = 0           # left hand missing in frame 0
    return PoseSeq(xy, conf, fps=25, width=640, height=480, layout="dwpose")


def test_dims_and_point_selection():
    fe = FeatureExtractor("dwpose")
    names = fe.point_names()
    # 18 body points minus hips/knees/ankles (6) + 68 face + 42 hands = 122 points -> 244
    assert len(names) == 122 and fe.dim() == 244
    assert "body.left_hip" not in names and "body.neck" in names
    hb = FeatureExtractor("dwpose-hands-body")
    assert hb.dim() == (12 + 42) * 2
    assert FeatureExtractor(FeatureConfig("dwpose", velocity=True)).dim() == 488
    custom = FeatureExtractor(FeatureConfig("dwpose", points=("body.neck", "right_hand.wrist")))
    assert custom.dim() == 4
    with pytest.raises(signverse.SignverseError):
        feature_preset("nope")


def test_normalised_features_are_translation_and_scale_free():
    fe = FeatureExtractor(FeatureConfig("dwpose", points=("body.neck", "body.left_shoulder", "body.nose")))
    a = fe(dw_pose())
    b = fe(dw_pose(shift=(50, -20), factor=2.0))
    np.testing.assert_allclose(a.x, b.x, atol=1e-5)
    # hand-computed: neck -> (0, 0), left shoulder 20 px right of the neck / width 40 -> (0.5, 0)
    np.testing.assert_allclose(a.x[0, :4], [0, 0, 0.5, 0], atol=1e-6)


def test_missing_points_are_zero_and_masked():
    fe = FeatureExtractor("dwpose-hands-body")
    f = fe(dw_pose())
    names = fe.point_names()
    lh = [i for i, n in enumerate(names) if n.startswith("left_hand.")]
    assert f.x.dtype == np.float32 and f.x.shape == (6, fe.dim())
    assert not f.point_mask[0, lh].any() and f.point_mask[1, lh].all()
    cols = np.array([[2 * i, 2 * i + 1] for i in lh]).ravel()
    assert (f.x[0, cols] == 0).all() and np.isfinite(f.x).all()
    assert f.mask.all()


def test_conversion_from_holistic():
    from signverse.data import vectors_to_pose
    v = np.zeros((3, 1662), np.float32)
    body = v[:, :132].reshape(3, 33, 4)
    body[:, 11] = [0.6, 0.5, 0, 1]
    body[:, 12] = [0.4, 0.5, 0, 1]
    pose = vectors_to_pose(v)
    f = FeatureExtractor("dwpose")(pose)
    assert f.x.shape == (3, 244)
    # only the converted shoulders and the synthesised neck exist
    assert f.point_mask.sum(1).tolist() == [3, 3, 3]
    native = FeatureExtractor("holistic-upper")(pose)
    assert native.x.shape == (3, 130) and native.point_mask.sum(1).tolist() == [2, 2, 2]


def test_stats_fit_standardise_and_roundtrip():
    poses = [dw_pose(n=5 + i, seed=i) for i in range(4)]
    fe = FeatureExtractor("dwpose-hands-body").fit(poses)
    assert fe.stats.count == 4 and fe.stats.mean.shape == (fe.dim(),)
    stacked = np.concatenate([fe(p).x for p in poses])
    valid = np.concatenate([np.repeat(fe(p).point_mask, 2, axis=1) for p in poses])
    col = stacked[:, 40][valid[:, 40]]            # a hand coordinate, present in most frames
    assert abs(col.mean()) < 1e-4 and abs(col.std() - 1) < 1e-3
    restored = FeatureExtractor.from_dict(json.loads(json.dumps(fe.to_dict())))
    np.testing.assert_allclose(restored(poses[0]).x, fe(poses[0]).x, atol=1e-6)
    assert restored.config == fe.config
    st = FeatureStats.from_dict(fe.stats.to_dict())
    np.testing.assert_allclose(st.std, fe.stats.std)


def test_no_shoulders_fallback():
    xy = np.full((2, 1, 128, 2), np.nan, np.float32)
    xy[:, 0, DW.slice("right_hand")] = np.linspace(100, 140, 21)[:, None]
    conf = np.isfinite(xy[..., 0]).astype(np.float32)
    pose = PoseSeq(xy, conf, fps=25, width=640, height=480, layout="dwpose")
    f = FeatureExtractor("dwpose-hands-body")(pose)
    # centred on the mean hand point (120) and divided by 640: values within +-20/640
    assert np.abs(f.x).max() <= 20 / 640 + 1e-6 and f.point_mask.sum() == 42


def test_to_pose_inverts_features():
    poses = [dw_pose(n=5, seed=i) for i in range(3)]
    fe = FeatureExtractor("dwpose-hands-body").fit(poses)
    f = fe(poses[0])
    back = fe.to_pose(f.x, f.point_mask, fps=25)
    assert back.layout == "dwpose" and back.n_frames == 5
    # neck at the frame centre, shoulders one quarter of the width apart (512 / 4 = 128 px)
    np.testing.assert_allclose(back.xy[:, 0, DW.anchor("neck")], 256.0, atol=1e-3)
    sw = np.linalg.norm(back.xy[:, 0, DW.anchor("left_shoulder")] - back.xy[:, 0, DW.anchor("right_shoulder")], axis=-1)
    np.testing.assert_allclose(sw, 128.0, rtol=1e-4)
    assert not back.valid[0, 0, DW.slice("left_hand")].any()      # missing stays missing
    assert not back.valid[:, 0, DW.slice("face")].any()           # not in the feature set
    again = fe(back)
    np.testing.assert_allclose(again.x, f.x, atol=1e-3)

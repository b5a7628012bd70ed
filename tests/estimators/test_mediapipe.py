"""MediaPipe Holistic backend on real signing video, checked against a real reference pose file."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from signverse.estimators import get_estimator, stack_frames

pytest.importorskip("mediapipe")
pytest.importorskip("av")


@pytest.fixture(scope="module")
def autsl():
    from signverse.video import decode
    path = shared("videos", "autsl_signer0_sample1000_color.mp4")
    return [f for _, _, f in decode(path, fps=None)]


@pytest.mark.slow
def test_matches_reference_holistic_pose_file(autsl):
    from signverse.io import read_pose
    ref = read_pose(shared("poses", "autsl_signer0_sample1000.pose"))   # Holistic 543, same video
    est = get_estimator("mediapipe")
    assert est.layout == "mediapipe-holistic" and est.config.model_complexity == 1
    try:
        poses = est(autsl)
    finally:
        est.close()
    seq = stack_frames(poses, fps=30, width=512, height=512, layout=est.layout)
    assert (seq.n_frames, seq.n_persons, seq.n_points) == (ref.n_frames, 1, 543)
    dist = np.linalg.norm(seq.xy[:, 0] - ref.xy[:, 0], axis=-1)
    for name, part, limit in (("body", slice(0, 33), 10), ("face", slice(33, 501), 2),
                              ("right hand", slice(522, 543), 6)):
        assert np.nanmedian(dist[:, part]) < limit, name
    # the body is found in every frame; confidences are visibilities in (0, 1]
    assert seq.valid[:, 0, :33].any(-1).all()
    assert 0 < seq.conf[:, 0, :33][seq.valid[:, 0, :33]].min() <= 1


def test_dwpose_layout_option_and_empty_frames(autsl):
    est = get_estimator("mediapipe", layout="dwpose")
    try:
        poses = est([autsl[0], np.zeros((120, 160, 3), np.uint8)])
        est.reset()
        again = est([autsl[0]])
    finally:
        est.close()
    assert est.layout == "dwpose"
    xy, conf = poses[0]
    assert xy.shape == (1, 128, 2) and conf.shape == (1, 128)
    assert (conf[0, :18] > 0).sum() >= 8       # the upper body is there
    assert poses[1][0].shape == (0, 128, 2)    # nobody in a black frame
    np.testing.assert_allclose(again[0][0][0, :14], xy[0, :14], atol=3)   # reset: same first frame


@pytest.mark.slow
def test_reset_between_videos_equals_a_fresh_estimator(autsl):
    from signverse.video import decode
    other = [f for _, _, f in decode(shared("videos", "asl_house.mp4"), fps=None)][:6]
    fresh = get_estimator("mediapipe")
    reused = get_estimator("mediapipe")
    try:
        expected = fresh(other)
        reused(autsl[:10])          # track a different person in a different video first
        reused.reset()
        got = reused(other)
    finally:
        fresh.close()
        reused.close()
    for (xy_a, conf_a), (xy_b, conf_b) in zip(expected, got):
        assert np.array_equal(conf_a > 0, conf_b > 0)
        assert np.nanmax(np.abs(xy_a - xy_b)) < 1.0   # pixels: no state carried over from video 1

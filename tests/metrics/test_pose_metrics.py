import numpy as np
import pytest

from signverse.core.pose import PoseSeq
from signverse.metrics import (aligned_l2, dtw_mje, dtw_path, frame_cost_matrix, length_error,
                               ndtw_mje, normalize_keypoints, pose_metrics)


def test_frame_cost_ignores_missing_points():
    # pred frame: joints (0,0), (3,4); ref frame: (0,0), missing.
    # Only joint 0 is shared: cost 0, not (0 + 5) / 2.
    pred = np.array([[[0.0, 0.0], [3.0, 4.0]]])
    ref = np.array([[[0.0, 0.0], [np.nan, np.nan]]])
    assert frame_cost_matrix(pred, ref)[0, 0] == 0.0
    # With a mask instead of NaN, the same.
    ref2 = np.array([[[0.0, 0.0], [100.0, 100.0]]])
    assert frame_cost_matrix(pred, ref2, ref_mask=np.array([[True, False]]))[0, 0] == 0.0
    # Both present: mean of 0 and |(3,4) - (0,0)| = 5 -> 2.5
    assert frame_cost_matrix(pred, np.zeros((1, 2, 2)))[0, 0] == 2.5


def test_dtw_mje_hand_computed():
    # ref = [0, 0] (one joint at the origin, 2 frames); pred = [0, 0, (3,4)].
    # Cost matrix rows (pred) x cols (ref): [[0, 0], [0, 0], [5, 5]].
    # Best path: (0,0) (1,0) (2,1) -> total 5, path length 3 -> 5/3.
    ref = np.zeros((2, 1, 2))
    pred = np.array([[[0.0, 0.0]], [[0.0, 0.0]], [[3.0, 4.0]]])
    value, path = dtw_mje(pred, ref, return_path=True)
    assert value == pytest.approx(5 / 3)
    assert path[0] == (0, 0) and path[-1] == (2, 1) and len(path) == 3


def test_dtw_is_time_warp_invariant_and_symmetric():
    # A sequence against itself slowed down (each frame repeated) costs 0.
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(6, 4, 2))
    slow = np.repeat(seq, 2, axis=0)
    assert dtw_mje(slow, seq) == pytest.approx(0.0)
    other = rng.normal(size=(5, 4, 2))
    assert dtw_mje(seq, other) == pytest.approx(dtw_mje(other, seq))
    assert dtw_mje(seq, other) > 0


def test_dtw_path_hand_computed():
    # cost [[1, 9], [9, 1]] -> diagonal, total 2
    total, path = dtw_path(np.array([[1.0, 9.0], [9.0, 1.0]]))
    assert total == 2.0 and path == [(0, 0), (1, 1)]
    # cost [[1, 2, 3]] (one pred frame) -> total 6 over 3 steps
    total, path = dtw_path(np.array([[1.0, 2.0, 3.0]]))
    assert total == 6.0 and path == [(0, 0), (0, 1), (0, 2)]


def test_dtw_mje_nothing_shared_is_nan():
    assert np.isnan(dtw_mje(np.full((2, 1, 2), np.nan), np.zeros((2, 1, 2))))


def test_ndtw_is_translation_and_scale_free():
    # dwpose: neck index 1, right shoulder 2, left shoulder 5 (128 points).
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(5, 128, 2)) * 50 + 200
    ref[:, 1] = [200, 200]
    ref[:, 2] = [180, 200]
    ref[:, 5] = [220, 200]    # shoulder width 40
    moved = ref * 3 + np.array([100.0, -50.0])
    assert dtw_mje(moved, ref) > 10
    assert ndtw_mje(moved, ref, layout="dwpose") == pytest.approx(0.0, abs=1e-9)
    # Normalised units: a point 40 px (one shoulder width) off the neck -> 1.0
    norm, _ = normalize_keypoints(ref, layout="dwpose")
    np.testing.assert_allclose(norm[:, 5], [[0.5, 0.0]] * 5)


def test_aligned_l2_and_length_error():
    # Path (0,0), (1,1) with two joints each; errors: frame0: 0 and 0, frame1: 5 and missing
    # -> joint-weighted mean = 5/3; frame-weighted DTW-MJE = (0 + 5) / 2.
    ref = np.zeros((2, 2, 2))
    pred = np.zeros((2, 2, 2))
    pred[1, 0] = [3, 4]
    pred[1, 1] = np.nan
    assert aligned_l2(pred, ref, path=[(0, 0), (1, 1)]) == pytest.approx(5 / 3)
    assert dtw_mje(pred, ref) == pytest.approx(2.5)
    assert length_error(12, 10) == pytest.approx(0.2)
    assert length_error(8, 10) == pytest.approx(0.2)


def test_pose_metrics_per_part_on_real_pose(shared_data):
    from signverse.io import read_pose
    pose = read_pose(shared_data("poses", "poses_mmposewholebody_FOOTBALL.pose"))
    import signverse
    dw = signverse.convert(pose, "dwpose")
    same = pose_metrics(dw, dw)
    assert same["dtw_mje"] == 0.0 and same["ndtw_mje"] == 0.0 and same["length_error"] == 0.0
    for part in ("body", "face", "left_hand", "right_hand"):
        assert f"dtw_mje_{part}" in same
    # Moving only the right hand by 10 px changes that part (by exactly 10) and not the others.
    xy = dw.xy.copy()
    xy[:, :, dw_slice("right_hand")] += np.array([6.0, 8.0], np.float32)
    moved = dw.replace(xy=xy)
    m = pose_metrics(moved, dw)
    # DTW may pair a frame with a neighbour where the hand was nearer: at most 10 px.
    assert 5 < m["dtw_mje_right_hand"] <= 10.0 + 1e-4
    assert m["dtw_mje_left_hand"] == 0.0 and m["dtw_mje_body"] == 0.0
    assert 0 < m["dtw_mje"] < 10
    # One frame against itself: no warping, exactly the 10 px shift (hand detected there).
    frame = int(np.flatnonzero(dw.valid[:, 0, dw_slice("right_hand")].any(-1))[0])
    one = pose_metrics(moved.frames(frame, frame + 1), dw.frames(frame, frame + 1))
    assert one["dtw_mje_right_hand"] == pytest.approx(10.0, rel=1e-4)


def dw_slice(part):
    from signverse.layouts import get_layout
    return get_layout("dwpose").slice(part)


def test_pose_metrics_converts_layouts():
    xy = np.zeros((3, 1, 543, 2), np.float32)
    pose = PoseSeq(xy + 1, np.ones((3, 1, 543), np.float32), fps=25, width=10, height=10,
                   layout="mediapipe-holistic")
    ref = PoseSeq(np.ones((4, 1, 128, 2), np.float32), np.ones((4, 1, 128), np.float32), fps=25,
                  width=10, height=10, layout="dwpose")
    m = pose_metrics(pose, ref)
    assert m["dtw_mje"] == 0.0 and m["length_error"] == pytest.approx(0.25)


def test_vectorised_cost_and_dtw_match_textbook_loops():
    rng = np.random.default_rng(4)
    for _ in range(10):
        t1, t2, k = rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 6)
        a, b = rng.normal(size=(t1, k, 2)), rng.normal(size=(t2, k, 2))
        am, bm = rng.random((t1, k)) > 0.3, rng.random((t2, k)) > 0.3
        cost = frame_cost_matrix(a, b, am, bm)
        for i in range(t1):
            for j in range(t2):
                both = [q for q in range(k) if am[i, q] and bm[j, q]]
                want = (np.mean([np.hypot(*(a[i, q] - b[j, q])) for q in both]) if both else np.nan)
                np.testing.assert_allclose(cost[i, j], want, equal_nan=True)
        c = rng.random((t1, t2))
        acc = np.full((t1 + 1, t2 + 1), np.inf)
        acc[0, 0] = 0
        for i in range(1, t1 + 1):
            for j in range(1, t2 + 1):
                acc[i, j] = c[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        total, path = dtw_path(c)
        assert total == pytest.approx(acc[t1, t2])
        assert sum(c[i, j] for i, j in path) == pytest.approx(total)
        steps = np.diff(np.array(path), axis=0)
        assert path[0] == (0, 0) and path[-1] == (t1 - 1, t2 - 1)
        assert all(tuple(s) in {(1, 0), (0, 1), (1, 1)} for s in steps)


def test_pose_metrics_parts_match_separate_calls():
    rng = np.random.default_rng(7)
    a = rng.normal(100, 20, size=(9, 128, 2))
    b = rng.normal(100, 20, size=(7, 128, 2))
    a[2:4, 86:107] = np.nan                     # left hand missing in two predicted frames
    m = pose_metrics(a, b, layout="dwpose")
    lay_slice = dw_slice("left_hand")
    assert m["dtw_mje_left_hand"] == pytest.approx(dtw_mje(a[:, lay_slice], b[:, lay_slice]))
    assert m["dtw_mje"] == pytest.approx(dtw_mje(a, b))
    assert m["ndtw_mje"] == pytest.approx(ndtw_mje(a, b, layout="dwpose"))


def test_ndtw_is_nan_without_shoulders():
    ref = np.zeros((3, 128, 2))
    ref[:, 2] = [-1, 0]
    ref[:, 5] = [1, 0]
    pred = ref.copy()
    pred[:, [2, 5]] = np.nan                   # the prediction never shows its shoulders
    assert np.isnan(ndtw_mje(pred, ref, layout="dwpose"))
    assert np.isnan(pose_metrics(pred, ref, layout="dwpose")["ndtw_mje"])
    assert dtw_mje(pred, ref) == 0.0           # the raw distance still exists

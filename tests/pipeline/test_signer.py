"""Signer selection/tracking on synthetic multi-person sequences and on real poses."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.pipeline.signer import (SignerConfig, SignverseError, fix_hand_swaps, select_signer,
                                       select_signer_pose)

LAYOUT = get_layout("coco-wholebody")
LH, RH = LAYOUT.slice("left_hand"), LAYOUT.slice("right_hand")
LW, RW = LAYOUT.anchor("left_wrist"), LAYOUT.anchor("right_wrist")


def template(rng, height: float) -> np.ndarray:
    """A fixed body shape around (0, 0): points within the box, hands clustered at the wrists."""
    pts = np.stack([rng.uniform(-0.2, 0.2, 133), rng.uniform(-0.5, 0.5, 133)], -1) * height
    pts[LW], pts[RW] = (0.25 * height, 0.0), (-0.25 * height, 0.0)
    pts[LH] = pts[LW] + rng.normal(0, 0.02 * height, (21, 2))
    pts[RH] = pts[RW] + rng.normal(0, 0.02 * height, (21, 2))
    return pts


def pose_at(tpl: np.ndarray, cx: float, cy: float, wave: float = 0.0) -> np.ndarray:
    """The template at a position, both hands (with wrists) moved up/down by ``wave``."""
    pts = tpl + (cx, cy)
    hands = np.r_[LW, RW, np.arange(133)[LH], np.arange(133)[RH]]
    pts[hands, 1] += wave
    return pts


def scene(frames: list[list[np.ndarray]], rng=None):
    """Stack per-frame people into [T, P, K] arrays, shuffling the order of people per frame."""
    n_slots = max(len(f) for f in frames)
    xy = np.full((len(frames), n_slots, 133, 2), np.nan, np.float32)
    conf = np.zeros((len(frames), n_slots, 133), np.float32)
    orders = []
    for t, people in enumerate(frames):
        order = rng.permutation(len(people)) if rng is not None else np.arange(len(people))
        orders.append(order)
        for slot, who in enumerate(order):
            xy[t, slot], conf[t, slot] = people[who], 0.9
    return xy, conf, orders


def test_two_people_crossing_keep_identity_and_signer():
    rng = np.random.default_rng(0)
    signer, walker = template(rng, 200), template(rng, 150)
    frames = []
    for t in range(40):
        wave = 30 * np.sin(t / 2)
        frames.append([pose_at(signer, 150 + 10 * t, 240, wave), pose_at(walker, 550 - 10 * t, 250)])
    xy, conf, orders = scene(frames, rng)
    sel = select_signer(xy, conf, "coco-wholebody", width=700, height=480)
    assert sel.report["tracks"] == 2 and sel.persons_per_frame.tolist() == [2] * 40
    for t, order in enumerate(orders):
        assert sel.signer_index[t] == int(np.flatnonzero(order == 0)[0]), t
        # each input slot keeps the track of the person in it
        assert sel.track_ids[t, np.flatnonzero(order == 0)[0]] == sel.report["signer_track"]
    np.testing.assert_allclose(sel.xy[:, 0], np.stack([f[0] for f in frames]), atol=1e-4)
    assert sel.report["hand_swaps"] == 0


def test_detection_order_swaps_do_not_change_the_signer():
    rng = np.random.default_rng(1)
    signer, bystander = template(rng, 300), template(rng, 220)
    frames = [[pose_at(signer, 320, 240, 40 * np.sin(t)), pose_at(bystander, 560, 260)]
              for t in range(30)]
    xy, conf, _ = scene(frames)
    xy[10:20] = xy[10:20, ::-1].copy()         # the estimator lists the bystander first for a while
    conf[10:20] = conf[10:20, ::-1].copy()
    sel = select_signer(xy, conf, "coco-wholebody", width=640, height=480)
    assert sel.report["tracks"] == 2
    assert sel.signer_index.tolist() == [0] * 10 + [1] * 10 + [0] * 10
    np.testing.assert_allclose(sel.xy[:, 0], np.stack([f[0] for f in frames]), atol=1e-4)
    pose = PoseSeq(xy, conf, fps=25, width=640, height=480, layout="coco-wholebody")
    one, details = select_signer_pose(pose)
    assert one.n_persons == 1 and one.layout == "coco-wholebody"
    assert details.report["signer_track"] == sel.report["signer_track"]


def test_active_small_signer_beats_large_idle_person():
    rng = np.random.default_rng(2)
    signer, idle = template(rng, 200), template(rng, 260)
    frames = [[pose_at(idle, 200, 240), pose_at(signer, 420, 240, 50 * np.sin(t / 1.5))]
              for t in range(30)]
    xy, conf, _ = scene(frames)
    sel = select_signer(xy, conf, "coco-wholebody", width=640, height=480)
    assert (sel.signer_index == 1).all()
    scores = sel.report["scores"]
    assert scores["1"]["activity"] > scores["0"]["activity"]


def test_gap_reappearance_and_newcomer():
    rng = np.random.default_rng(3)
    signer, late = template(rng, 250), template(rng, 180)
    frames = []
    for t in range(30):
        people = [] if 10 <= t < 13 else [pose_at(signer, 320, 240, 30 * np.sin(t))]
        if t >= 20:
            people.append(pose_at(late, 580, 250))
        frames.append(people)
    xy, conf, _ = scene(frames)
    sel = select_signer(xy, conf, "coco-wholebody", width=640, height=480)
    assert sel.persons_per_frame.tolist() == [1] * 10 + [0] * 3 + [1] * 7 + [2] * 10
    assert sel.report["tracks"] == 2             # the signer's track continued over the gap
    assert sel.report["frames_with_signer"] == 27
    assert np.isnan(sel.xy[10:13]).all() and (sel.conf[10:13] == 0).all()
    assert (sel.signer_index[10:13] == -1).all()


def test_hand_swaps_are_fixed_with_wrists_and_over_time():
    rng = np.random.default_rng(4)
    tpl = template(rng, 300)
    truth = np.stack([pose_at(tpl, 320, 240, 20 * np.sin(t)) for t in range(20)]).astype(np.float32)
    xy = truth.copy()
    conf = np.full((20, 133), 0.9, np.float32)
    for t in (5, 6, 13):
        xy[t, LH], xy[t, RH] = truth[t, RH], truth[t, LH]
    fixed, fconf, swaps = fix_hand_swaps(xy, conf, "coco-wholebody")
    assert swaps == 3
    np.testing.assert_allclose(fixed, truth)
    # without body wrists: frame 8 jumped to the other side, frame 9 has only one (wrong) hand
    conf[:, [LW, RW]] = 0
    xy = truth.copy()
    xy[8, LH], xy[8, RH] = truth[8, RH], truth[8, LH]
    xy[9, LH], conf[9, RH] = truth[9, RH], 0
    fixed, fconf, swaps = fix_hand_swaps(xy, conf, "coco-wholebody")
    assert swaps == 2
    np.testing.assert_allclose(fixed[8], truth[8])
    np.testing.assert_allclose(fixed[9, RH], truth[9, RH])
    assert (fconf[9, LH] == 0).all()
    # touching hands (both near the body centre) are never swapped
    xy = truth.copy()
    conf = np.full((20, 133), 0.9, np.float32)
    xy[:, LH] = truth[:, LH] - (0.24 * 300, 0)
    xy[:, RH] = truth[:, RH] + (0.24 * 300, 0)
    assert fix_hand_swaps(xy, conf, "coco-wholebody")[2] == 0


def test_edge_cases():
    empty = select_signer(np.full((5, 2, 133, 2), np.nan), np.zeros((5, 2, 133)), "coco-wholebody")
    assert empty.report["tracks"] == 0 and (empty.signer_index == -1).all()
    assert empty.xy.shape == (5, 1, 133, 2) and empty.persons_per_frame.tolist() == [0] * 5
    with pytest.raises(SignverseError):
        select_signer(np.zeros((5, 133, 2)), np.zeros((5, 133)), "coco-wholebody")
    # a detection with fewer than min_points valid points is not a person
    xy = np.zeros((2, 1, 133, 2), np.float32)
    conf = np.zeros((2, 1, 133), np.float32)
    conf[:, 0, :2] = 1
    assert select_signer(xy, conf, "coco-wholebody", config=SignerConfig(min_points=3)).report["tracks"] == 0


def test_real_signer_with_static_bystander():
    from signverse.io import read_pose
    real = read_pose(shared("poses", "poses_mmposewholebody_FOOTBALL.pose"))   # one real signer
    xy = real.xy[:, 0]
    conf = real.conf[:, 0]
    # bystander: the same person's first frame, frozen, smaller, at the frame's right edge
    by_xy = np.broadcast_to((xy[0] - np.nanmean(xy[0], 0)) * 0.6 + (590, 200), xy.shape).copy()
    by_conf = np.broadcast_to(conf[0], conf.shape).copy()
    rng = np.random.default_rng(5)
    order = rng.integers(0, 2, len(xy)).astype(bool)
    both_xy = np.stack([np.where(order[:, None, None], by_xy, xy), np.where(order[:, None, None], xy, by_xy)], 1)
    both_conf = np.stack([np.where(order[:, None], by_conf, conf), np.where(order[:, None], conf, by_conf)], 1)
    sel = select_signer(both_xy, both_conf, real.layout, width=real.width, height=real.height)
    assert sel.report["tracks"] == 2
    assert sel.signer_index.tolist() == order.astype(int).tolist()
    np.testing.assert_array_equal(np.isnan(sel.xy[:, 0]), np.isnan(xy))
    np.testing.assert_allclose(sel.xy[:, 0], xy, equal_nan=True)   # real hands were not "fixed"
    assert sel.report["hand_swaps"] == 0
    # hands swapped by a faulty estimator on some real frames are put back
    broken = xy.copy()
    for t in (3, 20, 21, 40):
        broken[t, LH], broken[t, RH] = xy[t, RH], xy[t, LH]
    fixed, _, swaps = fix_hand_swaps(broken, conf.copy(), real.layout)
    assert swaps == 4
    repaired = [t for t in (3, 20, 21, 40) if np.allclose(fixed[t], xy[t], equal_nan=True)]
    assert len(repaired) == 4

import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.layouts import get_layout
from signverse.ops import first_person, person_scores, select_person

DW = get_layout("dwpose")


def person(n_frames, centre, size, wrist_motion=0.0):
    """A dwpose person: body points on a square of side ``size`` around ``centre``; wrists move
    ``wrist_motion`` pixels per frame."""
    xy = np.full((n_frames, DW.num_points, 2), np.nan, np.float32)
    cx, cy = centre
    h = size / 2
    for name, (dx, dy) in {"neck": (0, -h / 2), "left_shoulder": (h / 2, -h / 2),
                           "right_shoulder": (-h / 2, -h / 2), "nose": (0, -h),
                           "left_hip": (h / 3, h), "right_hip": (-h / 3, h)}.items():
        xy[:, DW.anchor(name)] = (cx + dx, cy + dy)
    t = np.arange(n_frames)[:, None]
    for name, side in (("left_wrist", 1), ("right_wrist", -1)):
        xy[:, DW.anchor(name)] = np.hstack([cx + side * h / 2 + 0 * t, cy + wrist_motion * (t % 2)])
    return xy


def two_people(**kwargs):
    a = person(10, **kwargs.get("a", {"centre": (50, 50), "size": 40}))
    b = person(10, **kwargs.get("b", {"centre": (320, 240), "size": 200}))
    xy = np.stack([a, b], 1)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 25, 640, 480, "dwpose")


def test_size_and_centrality_pick_the_large_central_person():
    pose = two_people()
    for by in ("size", "centrality", None):
        chosen, index = select_person(pose, by)
        assert index == 1 and chosen.n_persons == 1
        np.testing.assert_array_equal(chosen.xy[:, 0], pose.xy[:, 1])
    scores = person_scores(pose, {"size": 1.0})
    np.testing.assert_allclose(scores[1] / scores[0], 5.0, rtol=1e-5)   # bbox diagonals 200 vs 40


def test_hand_activity_picks_the_signing_person():
    pose = two_people(a={"centre": (200, 240), "size": 100, "wrist_motion": 50.0},
                      b={"centre": (440, 240), "size": 100})
    _, index = select_person(pose, "hands")
    assert index == 0
    # two wrists x 50 px per frame / shoulder width 50 = 2 -> 2 / (1 + 2)
    np.testing.assert_allclose(person_scores(pose, {"hands": 1.0}), [2 / 3, 0.0], atol=1e-6)


def test_absent_person_scores_zero_and_first_person():
    pose = two_people()
    conf = pose.conf.copy()
    conf[:, 1] = 0
    empty_b = pose.replace(conf=conf)
    assert select_person(empty_b)[1] == 0
    np.testing.assert_array_equal(person_scores(empty_b, {"size": 1, "centrality": 1})[1], 0)
    np.testing.assert_array_equal(first_person(pose).xy[:, 0], pose.xy[:, 0])
    with pytest.raises(SignverseError):
        select_person(pose, "beauty")

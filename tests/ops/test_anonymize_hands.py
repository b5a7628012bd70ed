"""Hand-shape prototypes of anonymisation (``signverse.ops.anonymize_hands``)."""
from __future__ import annotations

import numpy as np
import pytest

from signverse.core import PoseSeq
from signverse.core.errors import SignverseError
from signverse.layouts import get_layout
from signverse.ops.anonymize_hands import HandCodebook, fit_codebook, hand_angles, hand_bones, snap_hands

LAYOUT = "dwpose"


def hand_pose(bends: np.ndarray, turns: np.ndarray, *, length: float = 10.0) -> PoseSeq:
    """Shoulders, a right wrist, and a whole right hand per frame: every finger bone at the
    wrist->middle-knuckle direction ``turns[t]`` plus ``bends[t, b]`` (radians, per bone);
    the left hand and everything else missing."""
    lay = get_layout(LAYOUT)
    bones = hand_bones(LAYOUT, "right")
    n = len(turns)
    xy = np.full((n, 1, lay.num_points, 2), np.nan)
    xy[:, 0, lay.anchor("neck")] = (300, 100)
    xy[:, 0, lay.anchor("left_shoulder")] = (340, 100)
    xy[:, 0, lay.anchor("right_shoulder")] = (260, 100)
    xy[:, 0, lay.anchor("right_elbow")] = (250, 160)
    xy[:, 0, lay.anchor("right_wrist")] = (250, 220)
    xy[:, 0, lay.slice("right_hand").start] = (250, 220)
    for b, (par, chi) in enumerate(bones):
        angle = turns + bends[:, b]
        xy[:, 0, chi] = xy[:, 0, par] + length * np.stack([np.cos(angle), np.sin(angle)], -1)
    xy = xy.astype(np.float32)
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, 640, 480, LAYOUT)


def relative(pose: PoseSeq) -> np.ndarray:
    angles, _, _ = hand_angles(pose, "right")
    return (angles - angles[:, :1] + np.pi) % (2 * np.pi) - np.pi


def two_shapes(rng: np.random.Generator, n: int = 40):
    """Frames near one of two hand shapes (a few degrees of noise), at random orientations."""
    b = len(hand_bones(LAYOUT, "right"))
    shapes = np.stack([np.zeros(b), np.linspace(0, 1.2, b)])
    shapes[:, 0] = 0
    which = rng.integers(0, 2, n)
    bends = shapes[which] + rng.normal(0, 0.05, (n, b))
    bends[:, 0] = 0
    return hand_pose(bends, rng.uniform(-np.pi, np.pi, n)), shapes


def test_fit_codebook_finds_the_shapes_and_snapping_fully_gives_them_with_the_lengths_kept():
    rng = np.random.default_rng(0)
    pose, shapes = two_shapes(rng)
    book = fit_codebook([pose], shapes=2, orientations=0)
    found = book.shapes["right"]
    assert "left" not in book.shapes                       # no left hand seen: no prototypes
    for shape in shapes:                                   # each true shape has a prototype
        err = np.abs((found - shape + np.pi) % (2 * np.pi) - np.pi).max(1)
        assert err.min() < 0.05
    snapped = snap_hands(pose, book, alpha=1.0)
    rel = relative(snapped)
    # every frame holds one prototype's shape exactly
    err = np.abs((rel[:, None] - found[None] + np.pi) % (2 * np.pi) - np.pi).max(-1)
    assert np.all(err.min(1) < 1e-4)
    # bone lengths unchanged (canonical in, canonical out); the orientation and wrist kept
    _, before, _ = hand_angles(pose, "right")
    angles, after, _ = hand_angles(snapped, "right")
    assert np.allclose(after, before, atol=1e-3)
    assert np.allclose(angles[:, 0], hand_angles(pose, "right")[0][:, 0], atol=1e-5)
    lay = get_layout(LAYOUT)
    assert np.array_equal(snapped.xy[:, 0, lay.slice("right_hand").start],
                          pose.xy[:, 0, lay.slice("right_hand").start])
    # half way: half the angle difference
    half = relative(snap_hands(pose, book, alpha=0.5))
    assert np.allclose(np.abs(half - relative(pose)), np.abs(rel - relative(pose)) / 2, atol=1e-4)


def test_snapping_zero_is_identity_and_missing_or_partial_hands_stay_as_they_are():
    rng = np.random.default_rng(1)
    pose, _ = two_shapes(rng, 12)
    book = fit_codebook([pose], shapes=2, orientations=2)
    assert snap_hands(pose, book, alpha=0.0, orient=0.0) is pose
    lay = get_layout(LAYOUT)
    xy = pose.xy.copy()
    hand = lay.slice("right_hand")
    xy[2, 0, hand.start + 7] = np.nan                    # one fingertip lost in frame 2
    xy[4, 0, hand] = np.nan                               # the whole hand lost in frame 4
    broken = pose.replace(xy=xy, conf=np.isfinite(xy[..., 0]).astype(np.float32))
    out = snap_hands(broken, book, alpha=1.0, orient=1.0)
    assert np.array_equal(np.isnan(out.xy), np.isnan(broken.xy))
    assert np.array_equal(out.xy[[2, 4]], broken.xy[[2, 4]], equal_nan=True)
    assert not np.allclose(out.xy[0], broken.xy[0], equal_nan=True)
    # orientation snapping fully: every frame's hand at one of the prototype orientations
    angles = hand_angles(out, "right")[0]
    whole = hand_angles(out, "right")[2]
    diff = np.abs((angles[whole, :1] - book.orientations["right"][None] + np.pi) % (2 * np.pi) - np.pi)
    assert np.all(diff.min(1) < 1e-4)
    with pytest.raises(SignverseError, match="0, 1"):
        snap_hands(pose, book, alpha=1.5)


def test_codebook_round_trips_through_json_and_refuses_another_layout():
    pose, _ = two_shapes(np.random.default_rng(2), 20)
    book = fit_codebook([pose], shapes=2, orientations=3)
    back = HandCodebook.from_json(book.to_json())
    assert np.allclose(back.shapes["right"], book.shapes["right"], atol=1e-6)
    assert np.allclose(back.orientations["right"], book.orientations["right"], atol=1e-6)
    bad = book.to_json()
    bad["shapes"]["right"] = [[0.0, 1.0]]
    with pytest.raises(SignverseError, match="do not fit"):
        HandCodebook.from_json(bad)

"""OpenPose 137: BODY_25 + 70 face (68 + two pupils) + 21 left + 21 right hand."""
from __future__ import annotations

from signverse.layouts.base import Component, Layout
from signverse.layouts.parts import face68, hand, hue_colors, standard_anchors

BODY25_POINTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
                 "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
                 "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
                 "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
                 "right_small_toe", "right_heel")
BODY25_LIMBS = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
                (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19),
                (19, 20), (14, 21), (11, 22), (22, 23), (11, 24))

OPENPOSE_137 = Layout(
    name="openpose-137",
    aliases=("openpose", "openpose_137"),
    description="OpenPose 137: BODY_25 + 70 face + 2x21 hands",
    components=(
        Component("body", BODY25_POINTS, BODY25_LIMBS, limb_colors=hue_colors(len(BODY25_LIMBS))),
        face68(("right_pupil", "left_pupil"), (69, 68)),
        hand("left_hand"),
        hand("right_hand"),
    ),
    anchors=standard_anchors(neck=True),
)

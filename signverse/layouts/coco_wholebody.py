"""COCO-WholeBody 133: 17 body + 6 feet + 68 face + 21 left + 21 right hand (DWPose's native output)."""
from __future__ import annotations

from signverse.layouts.base import Component, Layout
from signverse.layouts.parts import face68, hand, hue_colors, standard_anchors

COCO17_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                 "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                 "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO17_LIMBS = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
                (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
FEET_POINTS = ("left_big_toe", "left_small_toe", "left_heel",
               "right_big_toe", "right_small_toe", "right_heel")

COCO_WHOLEBODY = Layout(
    name="coco-wholebody",
    aliases=("coco_wholebody_133", "coco-wholebody-133"),
    description="COCO-WholeBody 133: 17 body + 6 feet + 68 face + 2x21 hands",
    components=(
        Component("body", COCO17_POINTS, COCO17_LIMBS, limb_colors=hue_colors(len(COCO17_LIMBS))),
        Component("feet", FEET_POINTS, ((0, 2), (1, 2), (3, 5), (4, 5)), limb_colors=hue_colors(4)),
        face68(),
        hand("left_hand"),
        hand("right_hand"),
    ),
    anchors=standard_anchors(neck=False),
)

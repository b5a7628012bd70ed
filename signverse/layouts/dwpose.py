"""The SignVerse-2M / ControlNet layout: OpenPose-18 body + 68 face + 21 left + 21 right hand (128)."""
from __future__ import annotations

from signverse.layouts.base import Component, Layout
from signverse.layouts.parts import face68, hand, standard_anchors

OPENPOSE18_POINTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
                     "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
                     "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
                     "left_eye", "right_ear", "left_ear")
# The 17 limbs ControlNet draws, each in its own rainbow colour (same order as the colours).
OPENPOSE18_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
                    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
RAINBOW18 = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
             (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
             (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))

DWPOSE = Layout(
    name="dwpose",
    description="SignVerse-2M / ControlNet DWPose: OpenPose-18 body (with neck) + 68 face + 2x21 hands",
    components=(
        Component("body", OPENPOSE18_POINTS, OPENPOSE18_LIMBS, limb_colors=RAINBOW18[:17],
                  point_colors=RAINBOW18),
        face68(),
        hand("left_hand"),
        hand("right_hand"),
    ),
    anchors=standard_anchors(neck=True),
)

"""MediaPipe Holistic: 33 body + 468 face + 21 left + 21 right (543), with the 33 world points (576)
and with the 478-point refined face plus world points (586), as real ``.pose`` files hold them."""
from __future__ import annotations

from signverse.layouts.base import Component, Layout
from signverse.layouts.parts import hand, hue_colors, standard_anchors

HOLISTIC_BODY_POINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index")
HOLISTIC_BODY_LIMBS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
    (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20),
    (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32))

_BODY = Component("body", HOLISTIC_BODY_POINTS, HOLISTIC_BODY_LIMBS,
                  limb_colors=hue_colors(len(HOLISTIC_BODY_LIMBS)))
# World points are metres around the hips, not pixels: carried along, never drawn.
_WORLD = Component("body_world", HOLISTIC_BODY_POINTS, drawn=False)


def _face(n: int) -> Component:
    # Face-mesh vertices have no anatomical names; a flip keeps their order (see ops.augment).
    return Component("face", tuple(str(i) for i in range(n)), point_colors=((255, 255, 255),) * n)


_ANCHORS = standard_anchors(neck=False)

HOLISTIC = Layout("mediapipe-holistic", (_BODY, _face(468), hand("left_hand"), hand("right_hand")),
                  _ANCHORS, "MediaPipe Holistic 543: 33 body + 468 face + 2x21 hands",
                  aliases=("holistic", "mediapipe"))
HOLISTIC_WORLD = Layout("mediapipe-holistic-world",
                        (_BODY, _face(468), hand("left_hand"), hand("right_hand"), _WORLD), _ANCHORS,
                        "MediaPipe Holistic 576: the 543 points + 33 world points")
HOLISTIC_REFINED = Layout("mediapipe-holistic-refined",
                          (_BODY, _face(478), hand("left_hand"), hand("right_hand"), _WORLD), _ANCHORS,
                          "MediaPipe Holistic 586: 33 body + 478 refined face + 2x21 hands + 33 world")

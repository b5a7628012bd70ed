"""Building blocks shared by several layouts: hands, the 68-point face, colour palettes."""
from __future__ import annotations

import colorsys

from signverse.layouts.base import RGB, Component

HAND_POINTS = ("wrist",
               "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
               "index_mcp", "index_pip", "index_dip", "index_tip",
               "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
               "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
               "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip")
HAND_LIMBS = tuple((0 if j % 4 == 0 else j, j + 1) for f in range(5) for j in range(4 * f, 4 * f + 4))


def hue_colors(n: int) -> tuple[RGB, ...]:
    """``n`` colours evenly around the HSV hue circle (the DWPose hand-edge convention)."""
    return tuple(tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(i / n, 1.0, 1.0))  # type: ignore[misc]
                 for i in range(n))


def hand(name: str) -> Component:
    return Component(name, HAND_POINTS, HAND_LIMBS, limb_colors=hue_colors(len(HAND_LIMBS)),
                     point_colors=((0, 0, 255),) * len(HAND_POINTS))


# The 68-point (iBUG / COCO-WholeBody) face. "left"/"right" are the subject's sides.
FACE68_POINTS = (tuple(f"jaw_{i:02d}" for i in range(17))
                 + tuple(f"right_brow_{i}" for i in range(5)) + tuple(f"left_brow_{i}" for i in range(5))
                 + tuple(f"nose_bridge_{i}" for i in range(4)) + tuple(f"nose_lower_{i}" for i in range(5))
                 + tuple(f"right_eye_{i}" for i in range(6)) + tuple(f"left_eye_{i}" for i in range(6))
                 + tuple(f"mouth_outer_{i:02d}" for i in range(12)) + tuple(f"mouth_inner_{i}" for i in range(8)))


def _face68_mirror() -> tuple[int, ...]:
    pairs = [(i, 16 - i) for i in range(17)] + [(17 + i, 26 - i) for i in range(10)]
    pairs += [(i, i) for i in range(27, 31)] + [(31 + i, 35 - i) for i in range(5)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(b, a) for a, b in pairs[-6:]]
    pairs += [(48 + i, 54 - i) for i in range(7)] + [(55 + i, 59 - i) for i in range(5)]
    pairs += [(60 + i, 64 - i) for i in range(5)] + [(65, 67), (66, 66), (67, 65)]
    perm = dict(pairs)
    return tuple(perm[i] for i in range(68))


FACE68_MIRROR = _face68_mirror()
WHITE = (255, 255, 255)


def face68(extra_points: tuple[str, ...] = (), extra_mirror: tuple[int, ...] = ()) -> Component:
    points = FACE68_POINTS + extra_points
    return Component("face", points, point_colors=(WHITE,) * len(points),
                     mirror=FACE68_MIRROR + extra_mirror)


def standard_anchors(*, neck: bool) -> tuple[tuple[str, str], ...]:
    """Anchors of a layout whose body component names its points anatomically (nose, left_shoulder...)."""
    names = ["nose"] + (["neck"] if neck else [])
    names += [f"{side}_{part}" for part in ("shoulder", "elbow", "wrist", "hip", "eye")
              for side in ("left", "right")]
    return (tuple((n, f"body.{n}") for n in names)
            + (("left_hand_root", "left_hand.wrist"), ("right_hand_root", "right_hand.wrist")))

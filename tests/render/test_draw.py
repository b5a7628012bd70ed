import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.layouts import get_layout
from signverse.render import draw_plan, render_frame, render_frames

pytest.importorskip("cv2")
DW = get_layout("dwpose")
CW = get_layout("coco-wholebody")
BLACK = [0, 0, 0]


def make(layout, points, width=200, height=120, conf=None, n_frames=1):
    """One person; ``points`` maps "component.point" -> (x, y)."""
    xy = np.full((n_frames, 1, layout.num_points, 2), np.nan, np.float32)
    for name, value in points.items():
        xy[:, 0, layout.index(name)] = value
    c = np.isfinite(xy[..., 0]).astype(np.float32)
    for name, value in (conf or {}).items():
        c[:, 0, layout.index(name)] = value
    return PoseSeq(xy, c, 24, width, height, layout.name)


def test_image_is_frame_sized_black_with_body_point_colours():
    pose = make(DW, {"body.nose": (30, 20), "body.left_ear": (150, 90)})
    img = render_frame(pose, 0)
    assert img.shape == (120, 200, 3) and img.dtype == np.uint8
    assert img[20, 30].tolist() == [255, 0, 0]                 # nose: first rainbow colour
    assert img[90, 150].tolist() == [255, 0, 85]               # left ear: 18th colour
    assert img[20, 34].tolist() == [255, 0, 0] and img[20, 36].tolist() == BLACK   # radius 4
    lit = (img != 0).any(-1)
    assert lit.sum() < 2 * 81 and img[60, 100].tolist() == BLACK


def test_limbs_are_ellipses_at_60_percent_and_low_confidence_body_points_are_skipped():
    pose = make(DW, {"body.neck": (100, 40), "body.right_shoulder": (40, 40),
                     "body.left_shoulder": (160, 40), "body.left_elbow": (160, 100)},
                conf={"body.left_elbow": 0.2})
    img = render_frame(pose, 0)
    assert img[40, 70].tolist() == [153, 0, 0]           # neck-right shoulder, (255,0,0) * 0.6
    assert img[43, 70].tolist() == [153, 0, 0]           # ellipse half-width 4
    assert img[46, 70].tolist() == BLACK
    assert img[40, 130].tolist() == [153, 51, 0]         # neck-left shoulder, (255,85,0) * 0.6
    assert img[40, 160].tolist() == [85, 255, 0]         # left shoulder (point 5) dot drawn over its limb
    assert img[100, 160].tolist() == BLACK                # elbow conf 0.2 < 0.3: no dot
    assert img[70, 160].tolist() == BLACK                 # ... and no limb to it
    shown = render_frame(pose.replace(conf=np.where(pose.conf > 0, 1.0, 0.0)), 0)
    assert shown[100, 160].tolist() == [0, 255, 0] and shown[70, 160].any()


def test_hands_edges_follow_the_hue_circle_with_blue_dots_and_face_is_white():
    pose = make(DW, {"left_hand.wrist": (20, 20), "left_hand.thumb_cmc": (80, 20),
                     "left_hand.index_mcp": (20, 80), "face.jaw_00": (150, 60)})
    img = render_frame(pose, 0)
    assert img[20, 50].tolist() == [255, 0, 0]          # edge 0: hue 0, full opacity
    assert img[21, 50].tolist() == [255, 0, 0] and img[23, 50].tolist() == BLACK   # thickness 2
    colors = draw_plan("dwpose", "dwpose")
    hand = next(p for p in colors if p.name == "left_hand")
    assert img[50, 20].tolist() == hand.limb_colors[4].tolist() == [204, 255, 0]   # edge 4: hue 72 degrees
    assert img[20, 80].tolist() == [0, 0, 255] and img[20, 20].tolist() == [0, 0, 255]
    assert img[60, 150].tolist() == [255, 255, 255]
    assert img[60, 153].tolist() == [255, 255, 255] and img[60, 154].tolist() == BLACK   # radius 3


def test_draw_order_puts_face_dots_over_hands():
    pose = make(DW, {"left_hand.wrist": (50, 50), "face.jaw_00": (52, 50)})
    img = render_frame(pose, 0)
    assert img[50, 52].tolist() == [255, 255, 255] and img[50, 47].tolist() == [0, 0, 255]


def test_other_layouts_convert_to_dwpose_or_draw_natively():
    pose = make(CW, {"body.left_shoulder": (160, 40), "body.right_shoulder": (40, 40),
                     "body.nose": (100, 10)})
    dw = render_frame(pose, 0)                            # converted: neck synthesised at (100, 40)
    assert dw[40, 100].tolist() == [255, 85, 0]           # neck dot: rainbow colour 1
    assert dw[40, 70].tolist() == [153, 0, 0]
    native = render_frame(pose, 0, style="native")
    plan = next(p for p in draw_plan("coco-wholebody", "native") if p.name == "body")
    limb = [tuple(l) for l in (plan.limbs - CW.slice("body").start).tolist()].index((5, 6))
    expected = (plan.limb_colors[limb] * 0.6).astype(np.uint8).tolist()
    assert native[40, 100].tolist() == expected          # COCO's own shoulder limb colour
    assert native[40, 100].tolist() != dw[40, 100].tolist()


def test_overlay_base_is_kept_and_limbs_blend_over_it():
    pose = make(DW, {"body.neck": (100, 40), "body.right_shoulder": (40, 40)})
    base = np.full((120, 200, 3), 100, np.uint8)
    img = render_frame(pose, 0, base=base)
    assert img[100, 100].tolist() == [100, 100, 100]
    assert img[40, 70].tolist() == [int(0.4 * 100 + 0.6 * 255), 40, 40]
    assert base[40, 70].tolist() == [100, 100, 100]       # base is not modified


def test_size_scales_coordinates_and_person_selects():
    xy = np.full((1, 2, DW.num_points, 2), np.nan, np.float32)
    xy[0, 0, 0] = (10, 10)
    xy[0, 1, 0] = (30, 30)
    pose = PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 24, 40, 40, "dwpose")
    big = render_frame(pose, 0, size=(80, 80))
    assert big.shape == (80, 80, 3) and big[20, 20].any() and big[60, 60].any()
    only = render_frame(pose, 0, person=1)
    assert only[30, 30].any() and not only[10, 10].any()
    with pytest.raises(SignverseError, match="person 2"):
        render_frame(pose, 0, person=2)
    with pytest.raises(SignverseError, match="frame 1"):
        render_frame(pose, 1)


def test_render_frames_matches_render_frame():
    pose = make(DW, {"body.nose": (30, 20), "right_hand.wrist": (60, 60)}, n_frames=3)
    frames = list(render_frames(pose))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[2], render_frame(pose, 2))


def test_unconvertible_layout_is_drawn_natively_with_fallback_colours(caplog):
    from signverse.layouts import Component, Layout, register_layout
    name = "test-render-stick"
    layout = Layout(name, (Component("arm", ("a", "b", "c"), ((0, 1), (1, 2))),))
    register_layout(layout, replace=True)
    xy = np.array([[[[10, 10], [50, 10], [50, 50]]]], np.float32)
    pose = PoseSeq(xy, np.ones((1, 1, 3), np.float32), 24, 64, 64, name)
    with caplog.at_level("WARNING"):
        img = render_frame(pose, 0)
    assert "drawing it natively" in caplog.text
    plan = draw_plan(name, "native")[0]
    assert plan.limb_colors.tolist() == [[255, 0, 0], [0, 255, 255]]   # hue circle, 2 limbs
    assert img[10, 30].tolist() == [255, 0, 0] and img[30, 50].tolist() == [0, 255, 255]
    assert img[10, 10].tolist() == [255, 0, 0]           # a point takes its first limb's colour

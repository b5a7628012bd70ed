import numpy as np
import pytest

from signverse.core import PoseSeq, SignverseError
from signverse.layouts import convert, get_layout
from signverse.layouts.convert import conversion


def pose_in(layout_name, T=2, seed=0):
    layout = get_layout(layout_name)
    rng = np.random.default_rng(seed)
    return PoseSeq(rng.random((T, 1, layout.num_points, 2)) * 500,
                   rng.uniform(0.5, 1, (T, 1, layout.num_points)), fps=24, width=640, height=480,
                   layout=layout.name)


@pytest.mark.parametrize("name,points", [("dwpose", 128), ("coco-wholebody", 133),
                                         ("mediapipe-holistic", 543), ("mediapipe-holistic-world", 576),
                                         ("mediapipe-holistic-refined", 586), ("openpose-137", 137)])
def test_layout_sizes(name, points):
    layout = get_layout(name)
    assert layout.num_points == points
    assert len(set(layout.point_names)) == points
    for a, b in layout.limbs:
        assert 0 <= a < points and 0 <= b < points
    perm = layout.mirror_permutation
    assert sorted(perm) == list(range(points))
    assert (perm[perm] == np.arange(points)).all(), "mirroring twice must be the identity"


def test_dwpose_is_openpose18_order():
    dw = get_layout("dwpose")
    body = dw.component("body").points
    assert body[:5] == ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist")
    assert body[-4:] == ("right_eye", "left_eye", "right_ear", "left_ear")
    assert len(dw.component("body").limb_colors) == 17 and len(dw.component("body").point_colors) == 18
    assert dw.slice("face") == slice(18, 86) and dw.slice("right_hand") == slice(107, 128)


def test_anchors_and_mirror_semantics():
    for name in ("dwpose", "coco-wholebody", "mediapipe-holistic", "mediapipe-holistic-world",
                 "mediapipe-holistic-refined", "openpose-137"):
        layout = get_layout(name)
        ls, rs = layout.anchor("left_shoulder"), layout.anchor("right_shoulder")
        assert layout.mirror_permutation[ls] == rs
        lh, rh = layout.anchor("left_hand_root"), layout.anchor("right_hand_root")
        assert layout.mirror_permutation[lh] == rh
    face = get_layout("dwpose").slice("face").start
    perm = get_layout("dwpose").mirror_permutation
    assert perm[face + 0] == face + 16 and perm[face + 36] == face + 45 and perm[face + 30] == face + 30


def test_alias_and_unknown():
    assert get_layout("openpose").name == "openpose-137"
    assert get_layout("coco_wholebody_133").name == "coco-wholebody"
    with pytest.raises(SignverseError, match="unknown layout"):
        get_layout("nope")


def test_coco_to_dwpose_synthesises_neck_and_drops_feet():
    coco = pose_in("coco-wholebody")
    dw = convert(coco, "dwpose")
    L, C = get_layout("dwpose"), get_layout("coco-wholebody")
    neck = dw.xy[:, 0, L.anchor("neck")]
    expected = (coco.xy[:, 0, C.anchor("left_shoulder")] + coco.xy[:, 0, C.anchor("right_shoulder")]) / 2
    assert np.allclose(neck, expected)
    conf = np.minimum(coco.conf[:, 0, C.anchor("left_shoulder")], coco.conf[:, 0, C.anchor("right_shoulder")])
    assert np.allclose(dw.conf[:, 0, L.anchor("neck")], conf)
    # right wrist lands in the OpenPose-18 slot 4, left hand stays left
    assert np.allclose(dw.xy[:, 0, 4], coco.xy[:, 0, C.index("body.right_wrist")])
    assert np.allclose(dw.xy[:, 0, L.slice("left_hand")], coco.xy[:, 0, C.slice("left_hand")])
    back = convert(dw, "coco-wholebody")
    assert np.isnan(back.xy[:, 0, C.slice("feet")]).all() and (back.conf[:, 0, C.slice("feet")] == 0).all()
    keep = [i for i in range(C.num_points) if not C.point_names[i].startswith("feet.")]
    assert np.allclose(back.xy[:, 0, keep], coco.xy[:, 0, keep])


def test_missing_points_are_never_invented():
    coco = pose_in("coco-wholebody")
    C = get_layout("coco-wholebody")
    conf = coco.conf.copy()
    conf[0, 0, C.anchor("left_shoulder")] = 0      # one shoulder missing -> neck missing
    dw = convert(coco.replace(conf=conf), "dwpose")
    L = get_layout("dwpose")
    assert dw.conf[0, 0, L.anchor("neck")] == 0 and np.isnan(dw.xy[0, 0, L.anchor("neck")]).all()
    assert dw.conf[1, 0, L.anchor("neck")] > 0


def test_holistic_chain_and_small_toe_missing():
    hol = pose_in("mediapipe-holistic-world")
    coco = convert(hol, "coco-wholebody")
    C = get_layout("coco-wholebody")
    assert np.isnan(coco.xy[:, 0, C.index("feet.left_small_toe")]).all()
    H = get_layout("mediapipe-holistic-world")
    assert np.allclose(coco.xy[:, 0, C.index("feet.left_heel")], hol.xy[:, 0, H.index("body.left_heel")])
    assert np.allclose(coco.xy[:, 0, C.index("face.nose_lower_2")], hol.xy[:, 0, H.index("face.2")])
    dw = convert(hol, "dwpose")
    assert dw.layout == "dwpose" and dw.n_points == 128
    assert conversion("mediapipe-holistic-world", "dwpose").src == "mediapipe-holistic-world"


def test_openpose_to_dwpose():
    op = pose_in("openpose-137")
    dw = convert(op, "dwpose")
    O, L = get_layout("openpose-137"), get_layout("dwpose")
    for name in ("body.neck", "body.left_ear", "face.jaw_00", "right_hand.pinky_tip"):
        assert np.allclose(dw.xy[:, 0, L.index(name)], op.xy[:, 0, O.index(name)])


def test_no_path_is_an_error():
    # Nothing converts into the 478-point refined face mesh (its 10 iris points have no source).
    with pytest.raises(SignverseError, match="no conversion"):
        convert(pose_in("dwpose"), "mediapipe-holistic-refined")


def test_coco_to_holistic_inverts_holistic_to_coco_where_points_correspond():
    from signverse.layouts.face_mesh import MESH_TO_FACE68
    coco = pose_in("coco-wholebody")
    hol = convert(coco, "mediapipe-holistic")
    C, H = get_layout("coco-wholebody"), get_layout("mediapipe-holistic")
    pairs = [("body.left_wrist", "body.left_wrist"), ("feet.right_heel", "body.right_heel"),
             ("feet.left_big_toe", "body.left_foot_index"), ("face.mouth_outer_06", "body.mouth_left"),
             ("right_hand.index_tip", "right_hand.index_tip"),
             (C.point_names[C.slice("face").start + 30], f"face.{MESH_TO_FACE68[30]}")]
    for src, dst in pairs:
        assert np.allclose(hol.xy[:, 0, H.index(dst)], coco.xy[:, 0, C.index(src)]), (src, dst)
    # 400 mesh vertices and the body's pinky / index / thumb have no source: missing, never invented.
    assert (~hol.valid[:, 0]).sum(-1).tolist() == [406] * coco.n_frames
    assert not hol.valid[:, 0, H.index("body.left_pinky")].any()
    # dwpose and OpenPose reach Holistic through COCO-WholeBody.
    assert convert(pose_in("dwpose"), "mediapipe-holistic").n_points == 543

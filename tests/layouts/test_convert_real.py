"""The Holistic -> COCO-WholeBody conversion against a real whole-body estimator on the same frames."""
import numpy as np

from conftest import shared
from signverse.io.pose_file import read_pose_file
from signverse.layouts import convert, get_layout

UPPER_BODY = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")


def _median_px(a, b, idx):
    dist = np.linalg.norm(a.xy[:, 0, idx] - b.xy[:, 0, idx], axis=-1)
    ok = a.valid[:, 0, idx] & b.valid[:, 0, idx]
    return float(np.median(dist[ok])), int(ok.sum())


def test_holistic_matches_mmpose_wholebody():
    holistic = read_pose_file(shared("poses", "poses_FOOTBALL.pose"))
    mmpose = read_pose_file(shared("poses", "poses_mmposewholebody_FOOTBALL.pose"))
    assert holistic.n_frames == mmpose.n_frames == 62
    coco = convert(holistic, "coco-wholebody")
    C = get_layout("coco-wholebody")
    body, n_body = _median_px(coco, mmpose, [C.index(f"body.{p}") for p in UPPER_BODY])
    left, n_left = _median_px(coco, mmpose, list(range(*C.slice("left_hand").indices(133))))
    right, n_right = _median_px(coco, mmpose, list(range(*C.slice("right_hand").indices(133))))
    face, n_face = _median_px(coco, mmpose, list(range(*C.slice("face").indices(133))))
    print(f"median px: upper body {body:.2f} (n={n_body}), left hand {left:.2f} (n={n_left}), "
          f"right hand {right:.2f} (n={n_right}), face {face:.2f} (n={n_face})")
    assert body <= 8 and left <= 7 and right <= 7 and face <= 12
    assert min(n_body, n_left, n_right, n_face) > 500
    # left/right are not swapped: the swapped pairing is far worse
    swapped = coco.replace(xy=coco.xy[:, :, get_layout("coco-wholebody").mirror_permutation])
    swapped_left, _ = _median_px(swapped, mmpose, list(range(*C.slice("left_hand").indices(133))))
    assert swapped_left > 3 * left


def test_every_real_pose_file_converts_to_dwpose():
    folder = shared("poses")
    for path in sorted(folder.glob("*.pose")):
        pose = read_pose_file(path)
        dw = convert(pose, "dwpose")
        assert dw.n_points == 128 and dw.n_frames == pose.n_frames
        L = get_layout("dwpose")
        # every real file has a detected signer: shoulders (and so a neck) in most frames
        assert dw.valid[:, 0, L.anchor("neck")].mean() > 0.5, path.name

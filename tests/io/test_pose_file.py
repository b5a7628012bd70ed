import numpy as np
import pytest

from conftest import shared
from signverse.core import InputError, PoseSeq
from signverse.io import read_pose, write_pose
from signverse.io.pose_file import read_pose_file, write_pose_file
from signverse.layouts import convert, get_layout


@pytest.mark.parametrize("name,layout,frames", [
    ("poses_FOOTBALL.pose", "mediapipe-holistic-world", 62),
    ("poses_mmposewholebody_FOOTBALL.pose", "coco-wholebody", 62),
    ("colin-HOUSE-needs-trim.pose", "mediapipe-holistic-refined", 172),
    ("autsl_signer0_sample1000.pose", "mediapipe-holistic", 43),
    ("openpose.pose", "openpose-137", 93),
    ("mediapipe.pose", "mediapipe-holistic", 170),
])
def test_real_files_map_to_layouts(name, layout, frames):
    pose = read_pose(shared("poses", name))
    assert pose.layout == layout and pose.n_frames == frames
    assert pose.xy.dtype == np.float32 and pose.xy.shape == (frames, 1, get_layout(layout).num_points, 2)
    # pixel coordinates inside (or near) the frame in the header
    ok = pose.valid[:, 0, :33] if layout.startswith("mediapipe") else pose.valid[:, 0]
    xs = pose.xy[:, 0, :ok.shape[1], 0][ok]
    assert xs.size and np.median(xs) > 0 and np.median(xs) < pose.width


def test_reduced_holistic_points_land_by_name():
    pose = read_pose(shared("poses", "mediapipe.pose"))
    L = get_layout("mediapipe-holistic")
    assert pose.valid[:, 0, L.index("body.left_shoulder")].mean() > 0.9
    assert not pose.valid[:, 0, L.index("body.nose")].any()   # not in the reduced file
    assert pose.valid[:, 0, L.index("face.33")].mean() > 0.9  # mesh vertex kept by the reduction


@pytest.mark.parametrize("layout", ["dwpose", "coco-wholebody", "mediapipe-holistic", "openpose-137",
                                    "mediapipe-holistic-world"])
def test_round_trip(tmp_path, layout):
    L = get_layout(layout)
    rng = np.random.default_rng(1)
    xy = (rng.random((5, 2, L.num_points, 2)) * [640, 360]).astype(np.float32)
    conf = rng.uniform(0.1, 1, (5, 2, L.num_points)).astype(np.float32)
    conf[0, 1, :10] = 0
    pose = PoseSeq(xy, conf, fps=29.97, width=640, height=360, layout=layout)
    back = read_pose(write_pose(pose, tmp_path / "x.pose"))
    assert back.layout == layout
    assert back.width == 640 and back.height == 360 and abs(back.fps - 29.97) < 1e-4
    assert np.array_equal(back.valid, pose.valid)
    assert np.allclose(back.xy[pose.valid], pose.xy[pose.valid], atol=1e-3)
    assert np.allclose(back.conf, pose.conf, atol=1e-6)


def test_converted_real_file_round_trips(tmp_path):
    dw = convert(read_pose_file(shared("poses", "poses_FOOTBALL.pose")), "dwpose")
    back = read_pose_file(write_pose_file(dw, tmp_path / "dw.pose"))
    assert back.layout == "dwpose" and np.allclose(back.xy[dw.valid], dw.xy[dw.valid], atol=1e-3)
    # and pose-format itself reads it
    from pose_format import Pose
    p = Pose.read((tmp_path / "dw.pose").read_bytes())
    assert p.body.data.shape == (62, 1, 128, 3)   # x, y and the depth the XYZC source had


def test_bad_files(tmp_path):
    empty = tmp_path / "empty.pose"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.pose: empty file"):
        read_pose(empty)
    junk = tmp_path / "junk.pose"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(InputError, match="junk.pose: not a readable .pose file"):
        read_pose(junk)
    with pytest.raises(InputError, match="no such file"):
        read_pose(tmp_path / "missing.pose")
    with pytest.raises(InputError, match="unknown pose file type '.txt'"):
        read_pose(tmp_path.joinpath("a.txt").write_text("x") and tmp_path / "a.txt")


def test_truncated_real_file(tmp_path):
    data = shared("poses", "colin-SAD.pose").read_bytes()
    cut = tmp_path / "cut.pose"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.pose"):
        read_pose(cut)

"""OpenPose frame folders and POSE_KEYPOINT JSON, checked against pose-format's OpenPose reader."""
from __future__ import annotations

import json

import numpy as np
import pytest

import signverse
from signverse.core import PoseSeq
from signverse.core.errors import InputError, SignverseError
from signverse.io.openpose_json import (read_openpose_folder, write_openpose_folder,
                                        write_pose_keypoint)
from signverse.layouts import get_layout
from tests.conftest import shared

openpose_utils = pytest.importorskip("pose_format.utils.openpose")


def _pose_format_points(pose):
    """(xy [T, P, K, 2] with NaN where masked, conf) of a pose-format Pose."""
    data = np.asarray(pose.body.data.filled(np.nan), np.float64)
    mask = np.asarray(pose.body.data.mask).any(-1) if np.ndim(pose.body.data.mask) else \
        np.zeros(data.shape[:-1], bool)
    data[mask] = np.nan
    return data, np.asarray(pose.body.confidence)


def _real_openpose():
    """Real OpenPose 137 output (pose-format's test file) as signverse reads it."""
    return signverse.read_pose(shared("poses", "openpose.pose"))


def test_folder_written_by_signverse_loads_in_pose_format_to_the_same_points(tmp_path):
    pose = _real_openpose()
    folder = write_openpose_folder(pose, tmp_path / "frames", name="CAM2")
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "CAM2_000000000000_keypoints.json" and len(names) == pose.n_frames
    theirs = openpose_utils.load_openpose_directory(str(folder), fps=pose.fps, width=pose.width,
                                                    height=pose.height)
    xy, conf = _pose_format_points(theirs)
    assert xy.shape == pose.xy.shape
    assert np.array_equal(np.isnan(xy[..., 0]), np.isnan(pose.xy[..., 0]))
    assert np.allclose(xy, pose.xy, atol=1e-3, equal_nan=True)
    assert np.allclose(conf, pose.conf, atol=1e-5)


def test_real_openpose_files_read_like_pose_format_reads_them(tmp_path):
    """Real OpenPose points written into OpenPose 1.7 files by plain json (not by signverse),
    then read by both readers."""
    from pose_format import Pose
    real = Pose.read(shared("poses", "openpose.pose").read_bytes())
    data = np.asarray(real.body.data.filled(0), np.float64)
    conf = np.asarray(real.body.confidence, np.float64)
    folder = tmp_path / "op"
    folder.mkdir()
    sizes = [len(c.points) for c in real.header.components]
    keys = [c.name for c in real.header.components]
    for t in range(data.shape[0]):
        people = []
        for p in range(data.shape[1]):
            record, at = {}, 0
            for key, n in zip(keys, sizes):
                flat = np.concatenate([data[t, p, at:at + n], conf[t, p, at:at + n, None]], -1)
                record[key] = flat.ravel().tolist()
                at += n
            people.append(record)
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    ours = signverse.read_pose(folder, fps=24, width=1000, height=1000)
    theirs = openpose_utils.load_openpose_directory(str(folder), fps=24, width=1000, height=1000)
    xy, their_conf = _pose_format_points(theirs)
    assert ours.layout == "openpose-137"
    assert np.array_equal(np.isnan(ours.xy[..., 0]), np.isnan(xy[..., 0]))
    assert np.allclose(ours.xy, xy, atol=1e-4, equal_nan=True)
    assert np.allclose(ours.conf, their_conf)


def test_coco18_folder_round_trip(tmp_path):
    pose = signverse.convert(signverse.read_pose(shared("poses", "poses_mmposewholebody_SOUP.pose")), "dwpose")
    folder = write_openpose_folder(pose, tmp_path / "coco", body="COCO")
    record = json.loads(next(folder.glob("*_000000000000_keypoints.json")).read_text())
    assert len(record["people"][0]["pose_keypoints_2d"]) == 18 * 3
    back = signverse.read_pose(folder)
    assert back.layout == "dwpose" and (back.width, back.height, back.fps) == (pose.width, pose.height, pose.fps)
    assert np.allclose(back.xy, pose.xy, atol=1e-3, equal_nan=True)
    with pytest.raises(InputError, match="already holds"):
        write_openpose_folder(pose, folder)


def _frame(width, height, body, face=None, left=None, right=None, **extra):
    person = {"pose_keypoints_2d": body}
    if face is not None:
        person["face_keypoints_2d"] = face
    person["hand_left_keypoints_2d"] = left
    if right is not None:
        person["hand_right_keypoints_2d"] = right
    return {"people": [person], "canvas_width": width, "canvas_height": height, **extra}


def test_pose_keypoint_pixels_normalised_and_missing_markers(tmp_path):
    body = np.zeros((18, 3))
    body[1] = (0.5, 0.25, 1.0)          # neck
    body[2] = (0.4, 0.25, 0.9)          # right shoulder
    body[5] = (-1, -1, 0)               # left shoulder missing, ComfyUI style
    face = np.tile([0.5, 0.1, 1.0], (68, 1))
    face[3] = (0, 0, 0)                 # missing, OpenPose style
    frames = [_frame(512, 768, body.ravel().tolist(), face.ravel().tolist())]
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(frames))
    pose = signverse.read_pose(path)
    dw = get_layout("dwpose")
    assert pose.layout == "dwpose" and (pose.width, pose.height) == (512, 768)
    assert pose.xy[0, 0, dw.anchor("neck")].tolist() == [256.0, 192.0]    # normalised -> pixels
    assert np.isnan(pose.xy[0, 0, dw.anchor("left_shoulder")]).all()
    assert np.isnan(pose.xy[0, 0, dw.slice("face").start + 3]).all()
    assert not pose.valid[0, 0, dw.slice("left_hand")].any()                # null hand
    # pixel coordinates are kept as they are
    pixel = [_frame(512, 768, (body * [512, 768, 1]).ravel().tolist())]
    path.write_text(json.dumps(pixel))
    assert signverse.read_pose(path).xy[0, 0, dw.anchor("neck")].tolist() == [256.0, 192.0]


def test_pose_keypoint_round_trip_and_70_point_faces(tmp_path):
    pose = _real_openpose().frames(0, 10)
    out = write_pose_keypoint(pose, tmp_path / "a.json")
    frames = json.loads(out.read_text())
    assert len(frames) == 10 and frames[0]["canvas_width"] == pose.width
    assert len(frames[0]["people"][0]["face_keypoints_2d"]) == 70 * 3
    back = signverse.read_pose(out, fps=pose.fps)
    assert np.allclose(back.xy, pose.xy, atol=1e-3, equal_nan=True)
    normalised = write_pose_keypoint(pose, tmp_path / "n.json", normalized=True)
    assert max(v for f in json.loads(normalised.read_text()) for p in f["people"]
               for v in p["pose_keypoints_2d"]) <= 1.0
    assert np.allclose(signverse.read_pose(normalised).xy, pose.xy, atol=1e-2, equal_nan=True)
    # COCO-18 with OpenPose's 70-point face: read into dwpose, the two pupils are dropped
    body = np.tile([10.0, 20.0, 1.0], 18).tolist()
    face = np.tile([30.0, 40.0, 1.0], 70).tolist()
    path = tmp_path / "coco70.json"
    path.write_text(json.dumps([_frame(64, 64, body, face)]))
    coco = signverse.read_pose(path)
    assert coco.layout == "dwpose" and coco.valid[0, 0, get_layout("dwpose").slice("face")].all()


def test_person_slots_keep_their_index(tmp_path):
    dw = get_layout("dwpose")
    xy = np.full((2, 2, dw.num_points, 2), np.nan, np.float32)
    xy[0, 1, :18] = 10
    xy[1, 0, :18] = 20
    pose = PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, 100, 100, "dwpose")
    back = read_openpose_folder(write_openpose_folder(pose, tmp_path / "f"))
    assert back.n_persons == 2 and np.array_equal(back.valid, pose.valid)


def test_hostile_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        signverse.read_pose(bad)
    bad.write_text(json.dumps([{"people": [{"pose_keypoints_2d": [1, 2, 3] * 7}]}]))
    with pytest.raises(InputError, match="7"):
        signverse.read_pose(bad)
    bad.write_text(json.dumps([{"people": "nobody"}]))
    with pytest.raises(InputError, match="people"):
        signverse.read_pose(bad)
    bad.write_text(json.dumps([{"people": [{"pose_keypoints_2d": ["a", "b", "c"] * 18}]}]))
    with pytest.raises(InputError, match="non-numbers"):
        signverse.read_pose(bad)
    bad.write_text(json.dumps([]))
    with pytest.raises(InputError, match="no frames"):
        signverse.read_pose(bad)
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "x_000000000000_keypoints.json").write_text("[]")
    with pytest.raises(SignverseError, match="people"):
        signverse.read_pose(folder)


def test_convert_reads_and_writes_openpose_folders(tmp_path):
    from signverse.cli.main import main
    src = tmp_path / "src"
    src.mkdir()
    pose = _real_openpose().frames(0, 5)
    write_openpose_folder(pose, src / "one", name="one")
    write_pose_keypoint(pose, src / "two.json")
    (src / "notes.json").write_text('{"author": "not a pose"}')     # ignored, not a failure
    out = tmp_path / "out"
    assert main(["convert", str(src), str(out), "--format", "openpose"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["one", "two"]
    assert signverse.read_pose(out / "one").n_frames == 5
    assert main(["convert", str(src / "one"), str(tmp_path / "one.json")]) == 0
    assert len(json.loads((tmp_path / "one.json").read_text())) == 5
    assert main(["convert", str(src / "one"), str(tmp_path / "one.pose")]) == 0
    assert signverse.read_pose(tmp_path / "one.pose").layout == "openpose-137"

"""Hostile OpenPose / POSE_KEYPOINT JSON: one-line errors naming the file, bounded memory.

Found by fuzzing (each used to end in a traceback, or in gigabytes from a kilobyte file):
nesting 50,000 deep (RecursionError), a 5000-digit number (ValueError from int parsing), one frame
file numbered 9,999,999 (a 20 GiB array), one frame of 20,000 empty persons (204 GiB), an
``Infinity`` confidence (kept as a certain point), an ``Infinity`` canvas (OverflowError).
"""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import signverse
from bounded import assert_bounded, run_bounded
from signverse.core.errors import InputError

BODY25 = [10.0, 20.0, 0.9] * 25


def _one_line_error(path, match: str):
    with pytest.raises(InputError, match=match) as err:
        signverse.read_pose(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("name, text, match", [
    ("deep.json", '{"people":' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ("digits.json", '{"people": [], "canvas_width": ' + "1" * 5000 + ', "canvas_height": 5}',
     "not readable JSON"),
    ("infcanvas.json", '[{"people": [], "canvas_width": Infinity, "canvas_height": 5}]', "integers"),
    ("hugecanvas.json", '[{"people": [], "canvas_width": 1e30, "canvas_height": 5}]', "frame size"),
])
def test_damaged_json_is_a_one_line_error(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    _one_line_error(path, match)


def test_a_frame_numbered_ten_million_is_refused_within_bounds(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "v_000009999999_keypoints.json").write_text('{"people": []}')
    result = run_bounded(["-m", "signverse", "info", str(folder)])
    assert_bounded(result, "openpose frame 9999999")
    assert result.returncode != 0 and "would decode to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(folder) in result.stderr


def test_trimmed_folder_with_a_gap_still_reads(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    person = {"people": [{"pose_keypoints_2d": BODY25}]}
    for t in (1000, 1001, 1002):   # the first 1000 frames were trimmed away
        (folder / f"v_{t:012d}_keypoints.json").write_text(json.dumps(person))
    pose = signverse.read_pose(folder)
    assert pose.n_frames == 1003 and pose.valid[1000:, 0, :25].all() and not pose.valid[:1000].any()


def test_thousands_of_empty_persons_are_refused_within_bounds(tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"people": [{}] * 20_000}] + [{}] * 5000))
    result = run_bounded(["-m", "signverse", "info", str(path)])
    assert_bounded(result, "pose_keypoint 20000 persons")
    assert result.returncode != 0 and "persons" in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # below the person limit but far more slots than the file holds: the decode budget refuses it
    path.write_text(json.dumps([{"people": [{}] * 60}] + [{}] * 100_000))
    _one_line_error(path, "would decode to")


def test_a_long_file_of_mostly_empty_frames_still_reads(tmp_path):
    path = tmp_path / "long.json"
    frames = [{"people": [], "canvas_width": 64, "canvas_height": 64}] * 30_000
    frames[5] = {"people": [{"pose_keypoints_2d": BODY25}], "canvas_width": 64, "canvas_height": 64}
    path.write_text(json.dumps(frames))
    pose = signverse.read_pose(path)
    assert pose.n_frames == 30_000 and pose.valid[5, 0, :25].all()


def test_infinite_confidence_is_a_missing_point_with_one_warning(tmp_path, caplog):
    path = tmp_path / "inf.json"
    body = list(BODY25)
    body[3 * 4 + 2] = float("inf")   # point 4's confidence
    path.write_text(json.dumps([{"people": [{"pose_keypoints_2d": body}], "canvas_width": 100,
                                 "canvas_height": 100}]))
    with caplog.at_level(logging.WARNING):
        pose = signverse.read_pose(path)
    assert np.isfinite(pose.conf).all()
    assert not pose.valid[0, 0, 4] and pose.valid[0, 0, [0, 1, 2, 3, 5]].all()
    assert sum("non-finite confidence" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("fps_text", ["Infinity", "9" * 400, "true", "-3", "1e-300", "1e30"])
def test_an_unusable_fps_in_a_frame_file_falls_back_to_the_default(tmp_path, fps_text):
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "v_000000000000_keypoints.json").write_text(
        '{"people": [{"pose_keypoints_2d": %s}], "fps": %s}' % (json.dumps(BODY25), fps_text))
    assert signverse.read_pose(folder).fps == 24.0


def test_points_far_outside_any_frame_do_not_make_an_unwritable_frame_size(tmp_path):
    """No canvas and a point at x=1e300: the inferred frame was 10**300 px wide, and every
    writer (corpus, .pose, poses.npz) then failed with a traceback."""
    from signverse.cli.main import main
    path = tmp_path / "far.json"
    body = list(BODY25)
    body[0] = 1e30      # a float32 number: kept, off any frame
    body[3] = 1e300     # beyond float32: a missing point
    path.write_text(json.dumps([{"people": [{"pose_keypoints_2d": body}]}]))
    pose = signverse.read_pose(path)
    assert pose.width == 65535 and pose.height == 21
    assert pose.valid[0, 0, 0] and not pose.valid[0, 0, 1] and pose.valid[0, 0, 2:25].all()
    for fmt in ("corpus", "pose", "signverse2m"):
        assert main(["convert", str(path), str(tmp_path / f"out-{fmt}"), "--format", fmt]) == 0


def test_a_frame_file_linked_to_dev_zero_is_refused_not_read_forever(tmp_path):
    """A frame file that is a link to /dev/zero was read until memory ran out (MemoryError
    traceback); the same link as a .pose file was reported as 'no .pose files found'."""
    import os
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "v_000000000001_keypoints.json").write_text(json.dumps({"people": []}))
    (folder / "v_000000000000_keypoints.json").symlink_to("/dev/zero")
    result = run_bounded(["-m", "signverse", "info", str(folder)], timeout=20)
    assert_bounded(result, "openpose frame linked to /dev/zero")
    assert result.returncode == 2 and "not a regular file" in result.stderr
    assert "v_000000000000_keypoints.json" in result.stderr
    link = tmp_path / "zero.pose"
    link.symlink_to("/dev/zero")
    _one_line_error(link, "not a regular file")
    result = run_bounded(["-m", "signverse", "info", str(link)], timeout=20)
    assert result.returncode == 2 and "not a regular file" in result.stderr, str(result)


@pytest.mark.parametrize("fmt", ["openpose", "pose_keypoint"])
def test_a_zero_frame_sequence_is_not_written_as_an_unreadable_output(tmp_path, fmt, capsys):
    """A 0-frame .pose converted to OpenPose made an empty folder (or "[]") and reported
    "wrote 1 sequence"; nothing opens such an output. Now that item fails by name."""
    from signverse.cli.main import main
    from signverse.core import PoseSeq
    pose = PoseSeq(np.zeros((0, 1, 128, 2), np.float32), np.zeros((0, 1, 128), np.float32), fps=24,
                   width=100, height=100, layout="dwpose")
    src = tmp_path / "empty.pose"
    signverse.write_pose(pose, src)
    assert main(["convert", str(src), str(tmp_path / "out"), "--format", fmt]) != 0
    err = capsys.readouterr().err
    assert "no frames" in err and "Traceback" not in err
    assert not list((tmp_path / "out").rglob("*.json"))

"""Hostile and malformed .pose files: non-finite values, components that do not fit their layout."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from signverse.core import InputError, PoseSeq
from signverse.io.pose_file import pose_to_pose_format, read_pose_file
from signverse.layouts import get_layout

pytest.importorskip("pose_format")


def _holistic(t=6, seed=0, layout="mediapipe-holistic"):
    rng = np.random.default_rng(seed)
    k = get_layout(layout).num_points
    conf = rng.uniform(0.4, 1.0, (t, 1, k)).astype(np.float32)
    return PoseSeq(rng.uniform(0, 200, (t, 1, k, 2)).astype(np.float32), conf, fps=25,
                   width=256, height=256, layout=layout)


def _write(pose_format_obj, path):
    with open(path, "wb") as handle:
        pose_format_obj.write(handle)
    return path


def _insert_point(pf, component: str, name: str):
    """Add one point at the end of ``component`` (header and data), as a hostile writer would."""
    from pose_format.numpy.pose_body import NumPyPoseBody
    at = 0
    for c in pf.header.components:
        at += len(c.points)
        if c.name == component:
            c.points = list(c.points) + [name]
            break
    data = np.ma.getdata(pf.body.data)
    conf = np.asarray(pf.body.confidence)
    data = np.insert(data, at, data[:, :, at - 1], axis=2)
    conf = np.insert(conf, at, conf[:, :, at - 1], axis=2)
    pf.body = NumPyPoseBody(fps=pf.body.fps, data=np.ma.masked_array(data, mask=np.zeros_like(data, bool)),
                            confidence=conf)
    return pf


def test_one_inf_confidence_is_one_missing_point_not_a_poisoned_clip(tmp_path, caplog):
    pose = _holistic()
    pf = pose_to_pose_format(pose)
    conf = np.asarray(pf.body.confidence).copy()
    conf[2, 0, 5] = np.inf
    data = np.ma.getdata(pf.body.data).copy()
    data[3, 0, 7, 0] = np.nan
    data[4, 0, 9, 1] = -np.inf
    pf.body.confidence = conf
    pf.body.data = np.ma.masked_array(data, mask=np.zeros_like(data, bool))
    path = _write(pf, tmp_path / "inf.pose")
    with caplog.at_level(logging.WARNING):
        back = read_pose_file(path)
    assert np.isfinite(back.conf).all() and np.isfinite(back.xy[back.valid]).all()
    assert not back.valid[2, 0, 5] and not back.valid[3, 0, 7] and not back.valid[4, 0, 9]
    others = back.valid.copy()
    others[2, 0, 5] = others[3, 0, 7] = others[4, 0, 9] = True
    assert others.all()   # nothing else was lost
    np.testing.assert_allclose(back.conf[0], pose.conf[0], rtol=1e-6)
    assert sum("non-finite" in r.getMessage() for r in caplog.records) == 1
    # ... and the corpus stores sane confidences (one inf used to turn all of them into inf).
    from signverse.io.corpus import open_corpus
    from signverse.io.transcode import convert_path
    report = convert_path(path, tmp_path / "corpus")
    assert not report.failures
    (clip,) = list(open_corpus(tmp_path / "corpus"))
    assert np.isfinite(clip.pose.conf).all()
    np.testing.assert_allclose(clip.pose.conf[0], pose.conf[0], atol=0.01)


def test_a_hand_with_22_points_is_refused_not_shifted(tmp_path):
    pf = _insert_point(pose_to_pose_format(_holistic()), "LEFT_HAND_LANDMARKS", "EXTRA")
    path = _write(pf, tmp_path / "hand22.pose")
    with pytest.raises(InputError) as err:
        read_pose_file(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "LEFT_HAND_LANDMARKS" in message
    assert "22 points" in message


def test_wholebody_hand_with_22_points_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    pose = PoseSeq(rng.uniform(0, 99, (3, 1, 128, 2)).astype(np.float32),
                   np.ones((3, 1, 128), np.float32), fps=24, width=100, height=100, layout="dwpose")
    pf = _insert_point(pose_to_pose_format(pose), "LEFT_HAND", "EXTRA")
    with pytest.raises(InputError, match=r"LEFT_HAND: 22 points"):
        read_pose_file(_write(pf, tmp_path / "dw22.pose"))


def test_non_integer_face_point_names_are_a_one_line_error(tmp_path):
    pf = pose_to_pose_format(_holistic())
    face = next(c for c in pf.header.components if c.name == "FACE_LANDMARKS")
    face.points = ["abc"] + list(face.points[1:])
    path = _write(pf, tmp_path / "face.pose")
    with pytest.raises(InputError, match=r"FACE_LANDMARKS: point name 'abc' is not a face point number"):
        read_pose_file(path)
    # unknown body point names too
    pf = pose_to_pose_format(_holistic())
    body = next(c for c in pf.header.components if c.name == "POSE_LANDMARKS")
    body.points = ["NOT_A_JOINT"] + list(body.points[1:])
    with pytest.raises(InputError, match=r"POSE_LANDMARKS: point 'not_a_joint' is not in"):
        read_pose_file(_write(pf, tmp_path / "body.pose"))


# -- declared sizes far beyond the file (found by fuzzing) ---------------------------------------
def _header(version: float, components) -> bytes:
    """A pose-format header, written by hand as a hostile producer would."""
    import struct

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<H", len(raw)) + raw
    out = struct.pack("<f", version) + struct.pack("<HHH", 100, 100, 0) + struct.pack("<H", len(components))
    for name, fmt, points in components:
        out += text(name) + text(fmt) + struct.pack("<HHH", len(points), 0, 0) + b"".join(map(text, points))
    return out


def test_version0_frames_without_persons_are_refused_within_bounds(tmp_path):
    """171 KB: 65535 frames of no person over 20,000 unnamed points. pose-format decodes each
    such frame as float64 zeros for every point (21 GB); it used to run out of memory."""
    import struct
    from bounded import assert_bounded, run_bounded
    path = tmp_path / "v00.pose"
    path.write_bytes(_header(0.0, [("C", "XYC", [""] * 20_000)]) + struct.pack("<HH", 25, 65535)
                     + b"\0\0" * 65535)
    result = run_bounded(["-m", "signverse", "info", str(path)])
    assert_bounded(result, "pose v0.0 empty frames")
    assert result.returncode != 0 and "version 0.0 body" in result.stderr and str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_one_stored_holistic_point_cannot_inflate_to_the_whole_layout(tmp_path):
    """One body point per frame in the file becomes 543 points in memory (~400x): 720 KB took
    550 MB. Refused beyond the decode budget; the same file with fewer frames still reads."""
    import struct
    from signverse.core.limits import DECODE_FLOOR_BYTES

    def write(frames: int):
        body = struct.pack("<f", 25.0) + struct.pack("<I", frames) + struct.pack("<H", 1)
        body += np.full((frames, 1, 1, 2), 5, np.float32).tobytes() + np.ones((frames, 1, 1), np.float32).tobytes()
        path = tmp_path / f"one{frames}.pose"
        path.write_bytes(_header(0.2, [("POSE_LANDMARKS", "XYC", ["NOSE"])]) + body)
        return path
    k = get_layout("mediapipe-holistic").num_points
    over = DECODE_FLOOR_BYTES.value() // (k * 12) + 10
    with pytest.raises(InputError, match="would decode to") as err:
        read_pose_file(write(over))
    assert "\n" not in str(err.value) and f"one{over}.pose" in str(err.value)
    pose = read_pose_file(write(100))
    assert pose.n_frames == 100 and pose.valid[:, 0, 0].all() and pose.valid[:, 0].sum() == 100


def test_real_pose_files_are_within_the_decode_budget(shared_data):
    from signverse.io import read_pose
    for path in sorted(shared_data("poses").glob("*.pose")):
        assert read_pose(path).n_frames > 0, path


def test_a_pose_whose_points_do_not_fit_its_layout_is_not_written(tmp_path):
    """134 points under the 128-point dwpose layout used to be written as a .pose whose header
    and body disagree (read back as shifted garbage)."""
    from signverse.core.errors import SignverseError
    from signverse.io.pose_file import write_pose_file
    pose = PoseSeq(np.full((3, 1, 134, 2), 5, np.float32), np.ones((3, 1, 134), np.float32), fps=24,
                   width=100, height=100, layout="dwpose")
    with pytest.raises(SignverseError, match="134 points per person but layout dwpose has 128"):
        write_pose_file(pose, tmp_path / "bad.pose")
    assert not list(tmp_path.iterdir())


def test_a_frame_wider_than_a_pose_header_holds_is_one_line_error(tmp_path, capsys):
    """A poses.npz may state a 70000-px frame; converting it to .pose ended in pose-format's
    ValueError traceback."""
    from signverse.cli.main import main
    from signverse.io import write_pose
    pose = PoseSeq(np.full((3, 1, 128, 2), 5, np.float32), np.ones((3, 1, 128), np.float32), fps=24,
                   width=70000, height=100, layout="dwpose")
    src = write_pose(pose, tmp_path / "wide.npz", video_id="wide")
    assert main(["convert", str(src), str(tmp_path / "wide.pose")]) == 2
    err = capsys.readouterr().err
    assert "70000x100 does not fit a .pose header" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("wide.pose*"))


@pytest.mark.parametrize("fps", [1e-6, 1e30])
def test_an_implausible_frame_rate_is_one_line_error(tmp_path, fps, capsys):
    """A .pose at 1e-6 fps converted to a release wrote a tar stating 0 fps (which nothing opens;
    resampling it to 24 fps would have claimed 24 million frames per frame); at 1e30 fps the
    conversion ended in an OverflowError traceback."""
    from signverse.cli.main import main
    from signverse.io.pose_file import write_pose_file
    path = write_pose_file(PoseSeq(
        np.full((3, 1, 128, 2), 5, np.float32), np.ones((3, 1, 128), np.float32), fps=fps, width=100,
        height=100, layout="dwpose"), tmp_path / "odd.pose")
    with pytest.raises(InputError, match="frame rate .* is outside 0.1-1000 fps") as err:
        read_pose_file(path)
    assert str(path) in str(err.value)
    assert main(["convert", str(path), str(tmp_path / "out"), "--format", "signverse2m"]) == 2
    assert "frame rate" in capsys.readouterr().err


def test_a_fractional_integer_rounding_frame_rate_is_resampled_for_the_release(tmp_path):
    """0.4 fps rounds to 0: the release writer now resamples it to 24 fps instead of writing 0."""
    from signverse.io.transcode import _to_release
    pose = PoseSeq(np.full((2, 1, 128, 2), 5, np.float32), np.ones((2, 1, 128), np.float32), fps=0.4,
                   width=100, height=100, layout="dwpose")
    assert _to_release(pose).fps == 24


def test_the_release_writer_refuses_an_implausible_frame_rate_from_any_source():
    """A corpus row (or an API-made pose) at 1e-300 fps reached the resampler (ValueError)."""
    from signverse.io.transcode import _to_release
    pose = PoseSeq(np.full((2, 1, 128, 2), 5, np.float32), np.ones((2, 1, 128), np.float32),
                   fps=1e-300, width=100, height=100, layout="dwpose")
    with pytest.raises(InputError, match="outside 0.1-1000 fps"):
        _to_release(pose)

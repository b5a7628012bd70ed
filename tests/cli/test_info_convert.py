"""``signverse info`` and ``signverse convert`` through the real entry point, on real files."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import shared
from signverse.cli.main import main
from signverse.io import read_pose
from signverse.io.signverse2m import open_release
from signverse.layouts import convert


def run(*args: str) -> int:
    return main([str(a) for a in args])


def test_info_json_on_pose_file(capsys):
    assert run("info", shared("poses", "openpose.pose"), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layout"] == "openpose-137" and info["frames"] == 93 and info["width"] == 1000
    assert info["persons_per_frame"] == {"min": 1, "mean": 1.0, "max": 1}
    assert info["visible_min_conf"] == 0.5 and info["points"] == 124 and info["layout_points"] == 137
    assert 0.3 < info["visible"]["left_hand"] < 0.6 and 0.4 < info["visible"]["right_hand"] < 0.7
    assert run("info", shared("poses", "openpose.pose"), "--json", "--min-conf", "0.0001") == 0
    info = json.loads(capsys.readouterr().out)
    assert 0.4 < info["visible"]["left_hand"] < 0.7 and info["visible"]["right_hand"] == 1.0


def test_pose_to_release_tar_to_pose_folder(tmp_path, capsys):
    src = shared("poses", "poses_mmposewholebody_SOUP.pose")
    tar = tmp_path / "soup.tar"
    assert run("convert", src, tar) == 0
    videos = list(open_release(tar))
    assert [v.video_id for v in videos] == ["poses_mmposewholebody_SOUP"]
    original = convert(read_pose(src), "dwpose")
    got = videos[0].pose
    # 29.97 fps is resampled to the release's integer 24 fps; duration is kept
    assert got.fps == 24 and abs(got.duration - original.duration) < 1 / 24
    assert got.layout == "dwpose" and (got.width, got.height) == (320, 240)
    out = tmp_path / "poses"
    assert run("convert", tar, out, "--format", "pose") == 0
    back = read_pose(out / "poses_mmposewholebody_SOUP.pose")
    assert back.n_frames == got.n_frames and np.allclose(back.xy[got.valid], got.xy[got.valid], atol=1e-3)
    capsys.readouterr()
    assert run("info", tar, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "release" and summary["items"] == 1 and summary["frames"] == got.n_frames


def test_folder_to_corpus_with_a_bad_file(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("colin-SAD.pose", "openpose.pose"):
        shutil.copy(shared("poses", name), folder / name)
    (folder / "broken.pose").write_bytes(b"\x00garbage")
    corpus = tmp_path / "corpus"
    assert run("convert", folder, corpus, "--layout", "dwpose") == 1   # one failure -> non-zero
    captured = capsys.readouterr()
    assert "wrote 2 sequence(s)" in captured.out
    assert "FAILED" in captured.err and "broken.pose" in captured.err
    from signverse import open_corpus
    c = open_corpus(corpus)
    assert sorted(c.ids()) == ["colin-SAD", "openpose"]
    assert c["openpose"].pose.layout == "dwpose" and c["openpose"].pose.n_frames == 93
    assert run("info", corpus) == 0
    assert "2 clips from 2 videos" in capsys.readouterr().out


def test_user_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    proc = subprocess.run([sys.executable, "-m", "signverse", "info", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.npz" in lines[0] and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "signverse", "convert", str(tmp_path / "nope.pose"),
                           str(tmp_path / "x.tar")], capture_output=True, text=True)
    assert proc.returncode == 2 and "nope.pose" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("target", ["one.pose", "one.npz"])
def test_single_file_targets(tmp_path, target):
    src = shared("poses", "colin-1-HOUSE.pose")
    assert run("convert", src, tmp_path / target, "--layout", "dwpose") == 0
    pose = read_pose(tmp_path / target)
    assert pose.layout == "dwpose" and pose.n_frames > 0

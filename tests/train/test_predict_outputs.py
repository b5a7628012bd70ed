"""`signverse predict` on text2pose writes files a user can open: pixels in a real frame, rendered
correctly, named after the input text, never overwriting."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("pose_format")

from signverse.cli.main import main  # noqa: E402
from signverse.train.placement import measure_placement, place_frames  # noqa: E402
from signverse.train.recipes import pose_to_frames  # noqa: E402
from signverse.train.run import train_task  # noqa: E402

TINY_T2P = {"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 1}


def test_placement_round_trips_a_training_pose(samples):
    pose = samples[0].pose
    placement = measure_placement([s.pose for s in samples])
    assert (placement["width"], placement["height"]) == (640, 480)
    assert 250 < placement["neck_x"] < 400 and 150 < placement["neck_y"] < 300
    assert 90 < placement["shoulder_width"] < 150       # synthetic shoulders are 100-130 px apart
    placed = place_frames(pose_to_frames(pose), measure_placement([pose]), fps=pose.fps)
    assert (placed.width, placed.height) == (640, 480)
    both = placed.valid[:, 0] & pose.valid[:, 0]
    err = np.abs(placed.xy[:, 0][both] - pose.xy[:, 0][both])
    assert np.median(err) < 3.0                          # same place, in pixels (median-based centre)


def test_placement_rescales_into_a_requested_size(samples):
    placement = measure_placement([s.pose for s in samples])
    frames = pose_to_frames(samples[0].pose)
    big = place_frames(frames, placement, size=(1280, 960))
    small = place_frames(frames, placement)
    assert (big.width, big.height) == (1280, 960)
    assert np.allclose(np.nanmedian(big.xy, axis=(0, 1, 2)), 2 * np.nanmedian(small.xy, axis=(0, 1, 2)), rtol=1e-3)
    default = place_frames(frames, None)     # a run trained before placement was recorded
    assert (default.width, default.height) == (640, 480)
    inside = default.xy[default.valid]
    assert (inside[:, 0] > 0).all() and (inside[:, 0] < 640).all()


def test_predict_writes_pixel_poses_named_after_the_text(tmp_path, samples, capsys):
    from signverse.io import read_pose
    from signverse.render import render_to
    run = tmp_path / "t2p"
    train_task("text2pose", None, run, epochs=2, samples=samples, model_overrides=TINY_T2P,
               train_overrides={"eval_every": 2})
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["placement"]["width"] == 640
    out = tmp_path / "generated"
    assert main(["predict", str(run), "hello", "--out", str(out)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["file"] == str(out / "hello.pose") and (row["width"], row["height"]) == (640, 480)
    pose = read_pose(out / "hello.pose")
    assert (pose.width, pose.height) == (640, 480)
    visible = pose.xy[pose.valid]
    assert visible.size and np.nanmax(np.abs(visible)) > 10          # pixels, not unit coordinates
    png = render_to(pose, tmp_path / "hello.png", frame=0)
    from PIL import Image
    with Image.open(png) as im:
        assert im.size == (640, 480)
    # a second text and the same text again: new files, nothing replaced
    before = (out / "hello.pose").read_bytes()
    assert main(["predict", str(run), "banana", "--out", str(out)]) == 0
    assert main(["predict", str(run), "hello", "--out", str(out), "--size", "320x240"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == [str(out / "banana.pose"), str(out / "hello-2.pose")]
    assert (out / "hello.pose").read_bytes() == before
    assert read_pose(out / "hello-2.pose").width == 320


def test_predict_size_must_be_wxh(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(tmp_path), "hello", "--size", "big"])
    assert exc.value.code == 2 and "WIDTHxHEIGHT" in capsys.readouterr().err


def test_file_stems_are_safe_and_keep_any_script():
    from signverse.cli.predict import file_stem
    assert file_stem("hello", "00000") == "hello"
    assert file_stem("good morning!", "00000") == "good_morning"
    assert file_stem("../../etc/passwd", "00000") == "etc_passwd"
    assert file_stem("guten Tag, Müller", "0") == "guten_Tag_Müller"
    assert file_stem("???", "00003") == "00003"

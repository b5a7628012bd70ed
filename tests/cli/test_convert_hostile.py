"""convert/render on hostile or unusual input: captions carried over, bounded file names,
zero-person sequences, absurd frame sizes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bounded import assert_bounded, run_bounded
from signverse.cli.main import main
from signverse.core import PoseSeq, Segment
from signverse.io import read_pose
from signverse.io.signverse2m import ShardWriter, open_release, write_video_folder

VTT_DE = "WEBVTT\n\n00:00:00.000 --> 00:00:00.500\nerste\n\n00:00:00.500 --> 00:00:01.000\nzweite\n"


def _pose(t=24, persons=1, seed=0, width=64, height=64):
    rng = np.random.default_rng(seed)
    return PoseSeq(rng.uniform(0, min(width, height), (t, persons, 128, 2)).astype(np.float32),
                   np.ones((t, persons, 128), np.float32), fps=24, width=width, height=height,
                   layout="dwpose")


def _release_with_captions(root):
    segments = {"de": [Segment(0.0, 0.5, "erste", "de"), Segment(0.5, 1.0, "zweite", "de")],
                "en": [Segment(0.0, 1.0, "first and second", "en")]}
    write_video_folder(root, "capvid00001", _pose(), captions=segments, vtt={"de": VTT_DE})
    return root


def test_release_to_release_keeps_captions(tmp_path, capsys):
    src = _release_with_captions(tmp_path / "src")
    for dst in (tmp_path / "one.tar", tmp_path / "shards"):
        assert main(["convert", str(src), str(dst), "--format", "signverse2m"]) == 0
        (video,) = list(open_release(dst))
        assert video.video_id == "capvid00001"
        assert video.vtt["de"] == VTT_DE            # stored as it was
        segs = video.caption_segments().segments
        assert [s.text for s in segs["de"]] == ["erste", "zweite"]
        assert [s.text for s in segs["en"]] == ["first and second"]
        assert video.captions["subtitle_en"] == "first and second"


def test_release_to_corpus_cuts_one_clip_per_cue(tmp_path):
    from signverse.io.corpus import open_corpus
    src = _release_with_captions(tmp_path / "src")
    assert main(["convert", str(src), str(tmp_path / "corpus")]) == 0
    corpus = open_corpus(tmp_path / "corpus")
    clips = sorted(corpus, key=lambda c: c.clip_id)
    assert [c.clip_id for c in clips] == ["capvid00001-0000", "capvid00001-0001"]
    assert [(c.text, c.text_language) for c in clips] == [("erste", "de"), ("zweite", "de")]
    assert [c.pose.n_frames for c in clips] == [12, 12] and clips[1].start == 0.5


def test_long_and_hostile_ids_get_bounded_names_and_a_mapping(tmp_path, capsys):
    """A 5000-character id used to abort `convert --format pose` with 0 files written."""
    ids = ["v" * 5000, ".._.._escape1", "plain01"]
    with ShardWriter(tmp_path / "src") as shards:
        for i, vid in enumerate(ids):
            shards.add_video(vid, _pose(seed=i))
    out = tmp_path / "poses"
    assert main(["convert", str(tmp_path / "src"), str(out), "--format", "pose"]) == 0
    assert "wrote 3 sequence(s)" in capsys.readouterr().out
    files = sorted(p.name for p in out.glob("*.pose"))
    assert len(files) == 3 and all(len(name) <= 130 for name in files) and "plain01.pose" in files
    names = json.loads((out / "names.json").read_text())
    assert sorted(names.values()) == sorted(ids[:2]) and set(names) <= set(files)
    long_file = next(f for f, original in names.items() if original == ids[0])
    assert read_pose(out / long_file).n_frames == 24
    assert not (tmp_path / "escape1.pose").exists()


@pytest.mark.parametrize("target", ["zero.npz", "zero.tar", "corpus"])
def test_zero_person_pose_converts(tmp_path, target):
    pytest.importorskip("pose_format")
    from signverse.io.pose_file import write_pose_file
    empty = PoseSeq(np.zeros((5, 0, 128, 2), np.float32), np.zeros((5, 0, 128), np.float32), fps=24,
                    width=64, height=64, layout="dwpose")
    src = write_pose_file(empty, tmp_path / "zero.pose")
    assert main(["convert", str(src), str(tmp_path / target)]) == 0
    if target != "corpus":
        back = read_pose(tmp_path / target) if target.endswith(".npz") else \
            next(iter(open_release(tmp_path / target))).pose
        assert back.n_frames == 5 and not back.valid.any()


def test_render_of_a_65535_square_header_is_a_one_line_error(tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    pytest.importorskip("pose_format")
    from signverse.io.pose_file import write_pose_file
    src = write_pose_file(_pose(t=3, width=65535, height=65535), tmp_path / "huge.pose")
    result = run_bounded(["-m", "signverse", "render", str(src), str(tmp_path / "x.png"), "--frame", "0"])
    assert_bounded(result, "render: 65535x65535 header")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, str(result)
    assert "huge.pose" in lines[0] and "65535x65535" in lines[0] and "SIGNVERSE_MAX_RENDER_PIXELS" in lines[0]
    assert not (tmp_path / "x.png").exists()
    from signverse.core import InputError
    from signverse.render import render_to
    monkeypatch.setenv("SIGNVERSE_MAX_RENDER_PIXELS", "100")   # the limit is stated and overridable
    with pytest.raises(InputError, match="more than 100 pixels"):
        render_to(_pose(t=2), tmp_path / "y.png")

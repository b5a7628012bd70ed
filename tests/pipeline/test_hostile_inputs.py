"""Hostile manifests: bytes that are not UTF-8, ids that are not file names (one bad item never
stops a run)."""
from __future__ import annotations

import numpy as np
import pytest

from signverse.core import InputError, PoseSeq, VideoRecord
from signverse.pipeline.inputs import load_inputs, load_manifest


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".tsv"])
def test_a_manifest_that_is_not_utf8_is_a_one_line_error(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"video_id,sign_language\r\nabc,ase\r\nd\xe9f,gsg\r\n" if suffix != ".jsonl"
                     else b'{"video_id": "abc"}\n{"video_id": "d\xe9f"}\n')
    for load in (load_manifest, load_inputs):
        with pytest.raises(InputError) as err:
            load(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message and "not UTF-8" in message
        assert "line 3" in message or "line 2" in message


def test_utf8_manifest_with_bom_and_crlf_still_loads(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffvid\u00e9o1,ase\r\nabc,gsg\r\n".encode("utf-8"))
    assert [r.video_id for r in load_inputs(path).records] == ["vid_o1", "abc"]


def test_release_shards_accept_ids_that_are_not_file_names(tmp_path):
    """'../../escape1' (cleaned to '.._.._escape1') and a 5000-character id used to make every
    --release-shards run exit 2; now each is stored under a bounded folder name and read back."""
    from signverse.io.signverse2m import open_release
    from signverse.pipeline.inputs import safe_id
    from signverse.pipeline.run import _ReleaseSink
    from signverse.pipeline.worker import VideoResult
    rng = np.random.default_rng(0)
    pose = PoseSeq(rng.uniform(0, 60, (5, 1, 128, 2)).astype(np.float32),
                   np.ones((5, 1, 128), np.float32), fps=24, width=64, height=64, layout="dwpose")
    ids = [safe_id("../../escape1"), safe_id("y" * 5000), "ok_id"]
    assert ids[0] == ".._.._escape1"
    sink = _ReleaseSink(tmp_path / "release")
    for vid in ids:
        sink.add(VideoRecord(video_id=vid), VideoResult(vid, video_pose=pose))
        sink.commit()
    sink.close()
    names = sorted(p.name for p in (tmp_path / "release").iterdir() if p.name != ".release-writer.lock")
    assert all(n.startswith("Sign_DWPose_NPZ_") for n in names) and len(names) == 3
    release = open_release(tmp_path / "release")
    assert sorted(v.video_id for v in release) == sorted(ids) and not release.failures
    assert not (tmp_path / "escape1").exists()


@pytest.mark.slow
def test_extract_with_release_shards_survives_hostile_ids(make_video, cli, tmp_path):
    """The CLI run that used to exit 2 on every attempt: ids '../../escape1' and 5000 characters."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("av")
    from signverse.io.signverse2m import open_release
    make_video(tmp_path / "a.mp4", seconds=1.0)
    make_video(tmp_path / "b.mp4", seconds=1.0, seed=1)
    long_id = "z" * 5000
    (tmp_path / "m.csv").write_text(f"video_id,path\n../../escape1,a.mp4\n{long_id},b.mp4\n")
    res = cli("extract", str(tmp_path / "m.csv"), "--out", str(tmp_path / "corpus"), "--release-shards",
              str(tmp_path / "rel"), "--fps", "6", "--no-progress", "--workers", "1")
    assert res.returncode == 0 and "2 videos done, 0 failed" in res.stdout, res.stdout + res.stderr
    release = open_release(tmp_path / "rel")
    assert sorted(v.video_id for v in release) == [".._.._escape1", long_id] and not release.failures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4", "corpus", "m.csv", "rel"]


@pytest.mark.parametrize("name, text, match", [
    ("big.jsonl", '{"video_id": ' + "1" * 5000 + "}\n", "line 1 is not JSON"),
    ("deep.jsonl", "[" * 50_000 + "]" * 50_000 + "\n", "line 1 is not JSON"),
    ("field.csv", "video_id,path\na," + "x" * 200_000 + "\n", "not readable CSV"),
])
def test_manifest_with_oversized_values_is_a_one_line_error(tmp_path, name, text, match):
    """Found by fuzzing: a 5000-digit number in a JSONL manifest (ValueError from int parsing)
    and a CSV field over csv's 128 KiB limit (csv.Error) ended in tracebacks."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        load_manifest(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)

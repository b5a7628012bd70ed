"""`signverse convert`: the output suffix must be able to hold the source, and an existing output
is never replaced or mixed into silently (--overwrite / --append); pose fields keep one layout."""
from __future__ import annotations

import shutil

import pytest

from conftest import shared
from signverse.cli.main import main
from signverse.io import read_pose
from signverse.io.signverse2m import open_release

pytest.importorskip("pose_format")
pytest.importorskip("pyarrow")


def run(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def two_poses(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("colin-SAD.pose", "poses_mmposewholebody_SOUP.pose"):
        shutil.copy(shared("poses", name), folder / name)
    return folder


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_single_file_suffix_refuses_several_sequences(tmp_path, two_poses, capsys):
    tar = tmp_path / "two.tar"
    assert run("convert", two_poses, tar) == 0
    for target in ("out.pose", "multi.npz"):
        assert run("convert", tar, tmp_path / target) == 2
        assert "holds one sequence" in _error(capsys)
        assert not (tmp_path / target).exists()          # no directory named out.pose/


def test_a_one_video_shard_converts_to_one_pose_file(tmp_path, capsys):
    tar = tmp_path / "fb.tar"
    assert run("convert", shared("poses", "poses_mmposewholebody_FOOTBALL.pose"), tar) == 0
    assert run("convert", tar, tmp_path / "out.pose") == 0
    assert (tmp_path / "out.pose").is_file() and read_pose(tmp_path / "out.pose").layout == "dwpose"


def test_unknown_suffix_is_an_error_unless_format_is_given(tmp_path, two_poses, capsys):
    assert run("convert", two_poses, tmp_path / "out.txt") == 2
    assert "suffix '.txt'" in _error(capsys) and not (tmp_path / "out.txt").exists()
    assert run("convert", two_poses, tmp_path / "out.txt", "--format", "corpus", "--layout", "dwpose") == 0
    assert (tmp_path / "out.txt" / "corpus.json").is_file()
    # .json is one POSE_KEYPOINT file: it holds one sequence, not two
    assert run("convert", two_poses, tmp_path / "out.json") == 2
    assert "holds one sequence" in _error(capsys) and not (tmp_path / "out.json").exists()


def test_existing_shard_is_refused_replaced_or_appended(tmp_path, two_poses, capsys):
    tar = tmp_path / "x.tar"
    assert run("convert", shared("poses", "colin-SAD.pose"), tar) == 0
    before = tar.read_bytes()
    assert run("convert", shared("poses", "openpose.pose"), tar) == 2
    assert "--overwrite" in _error(capsys) and tar.read_bytes() == before
    assert run("convert", shared("poses", "openpose.pose"), tar, "--append") == 0
    assert sorted(v.video_id for v in open_release(tar)) == ["colin-SAD", "openpose"]
    assert run("convert", shared("poses", "openpose.pose"), tar, "--append") == 1   # same id again
    assert "already in the output" in capsys.readouterr().err
    assert run("convert", shared("poses", "openpose.pose"), tar, "--overwrite") == 0
    assert [v.video_id for v in open_release(tar)] == ["openpose"]


def test_existing_pose_file_is_refused(tmp_path, capsys):
    out = tmp_path / "a.pose"
    assert run("convert", shared("poses", "colin-SAD.pose"), out) == 0
    assert run("convert", shared("poses", "openpose.pose"), out) == 2
    assert "exists" in _error(capsys) and read_pose(out).layout != "openpose-137"
    assert run("convert", shared("poses", "openpose.pose"), out, "--append") == 2
    assert "cannot be appended" in _error(capsys)
    assert run("convert", shared("poses", "openpose.pose"), out, "--overwrite") == 0
    assert read_pose(out).layout == "openpose-137"


def test_corpus_keeps_one_layout_per_pose_field(tmp_path, capsys):
    from signverse import open_corpus
    corpus = tmp_path / "corpus"
    assert run("convert", shared("poses", "poses_mmposewholebody_SOUP.pose"), corpus) == 0
    assert open_corpus(corpus).fields() == ["coco-wholebody"]
    holistic = shared("poses", "poses_FOOTBALL.pose")
    assert run("convert", holistic, corpus) == 2
    assert "--append" in _error(capsys)
    assert run("convert", holistic, corpus, "--append") == 1            # refused: another layout
    err = capsys.readouterr().err
    assert "layout mediapipe-holistic-world differs from the corpus's pose field 'coco-wholebody'" in err
    assert open_corpus(corpus).ids() == ["poses_mmposewholebody_SOUP"]
    assert run("convert", holistic, corpus, "--append", "--layout", "coco-wholebody") == 0
    c = open_corpus(corpus)
    assert sorted(c.ids()) == ["poses_FOOTBALL", "poses_mmposewholebody_SOUP"]
    assert {c[i].pose.layout for i in c.ids()} == {"coco-wholebody"} and c.fields() == ["coco-wholebody"]
    assert run("convert", holistic, corpus, "--overwrite", "--layout", "dwpose") == 0
    c = open_corpus(corpus)
    assert c.ids() == ["poses_FOOTBALL"] and c.fields() == ["dwpose"]


def test_mixed_folder_into_a_new_corpus_refuses_the_other_layouts(tmp_path, two_poses, capsys):
    corpus = tmp_path / "mixed"
    assert run("convert", two_poses, corpus) == 1
    assert "differs from the corpus's pose field" in capsys.readouterr().err
    assert run("convert", two_poses, tmp_path / "same", "--layout", "dwpose") == 0


def test_pose_folder_target_never_replaces_files(tmp_path, two_poses, capsys):
    out = tmp_path / "poses"
    assert run("convert", two_poses, out, "--format", "pose") == 0
    assert run("convert", two_poses, out, "--format", "pose") == 2
    assert "--append" in _error(capsys)
    assert run("convert", two_poses, out, "--format", "pose", "--append") == 1   # both names exist
    assert run("convert", two_poses, out, "--format", "pose", "--overwrite") == 0


def test_missing_output_parent_is_created(tmp_path, capsys):
    tar = tmp_path / "a" / "b" / "Sign_DWPose_NPZ_000001.tar"
    assert run("convert", shared("poses", "colin-SAD.pose"), tar) == 0 and tar.is_file()


def test_overwrite_and_append_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run("convert", "a", "b", "--overwrite", "--append")


def test_append_never_drops_videos_it_could_not_read_from_the_existing_shard(tmp_path, capsys):
    import io
    import tarfile
    tar = tmp_path / "x.tar"
    assert run("convert", shared("poses", "colin-SAD.pose"), tar) == 0
    with tarfile.open(tar, "a") as handle:   # a damaged video beside the good one
        junk = b"not an npz"
        info = tarfile.TarInfo("broken/npz/poses.npz")
        info.size = len(junk)
        handle.addfile(info, io.BytesIO(junk))
    before = tar.read_bytes()
    assert run("convert", shared("poses", "openpose.pose"), tar, "--append") == 2
    assert "left as it was" in _error(capsys) and tar.read_bytes() == before


def test_append_to_a_corpus_skips_clips_stored_before_so_a_rerun_continues(tmp_path, two_poses, capsys):
    from signverse import open_corpus
    corpus = tmp_path / "corpus"
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(two_poses / "colin-SAD.pose", first / "colin-SAD.pose")
    assert run("convert", first, corpus, "--layout", "dwpose") == 0    # an interrupted run got this far
    capsys.readouterr()
    assert run("convert", two_poses, corpus, "--layout", "dwpose", "--append") == 0   # the rerun
    out = capsys.readouterr().out
    assert "wrote 1 sequence(s)" in out and "1 already there (skipped)" in out
    ids = open_corpus(corpus).ids()
    assert sorted(ids) == ["colin-SAD", "poses_mmposewholebody_SOUP"] and len(ids) == len(set(ids))
    assert run("convert", two_poses, corpus, "--layout", "dwpose", "--append") == 0   # nothing new
    assert "wrote 0 sequence(s)" in capsys.readouterr().out and len(open_corpus(corpus).ids()) == 2

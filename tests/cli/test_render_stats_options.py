"""`render CORPUS --clip ID` draws that clip; `stats` refuses a file that is no manifest."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from signverse.cli.main import main


def run(*args) -> int:
    return main([str(a) for a in args])


def test_render_a_clip_of_a_corpus_and_a_release(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("PIL")
    from PIL import Image
    corpus, tar = tmp_path / "corpus", tmp_path / "s.tar"
    assert run("convert", shared("poses", "poses_mmposewholebody_SOUP.pose"), corpus, "--layout", "dwpose") == 0
    assert run("convert", shared("poses", "colin-SAD.pose"), tar) == 0
    assert run("render", corpus, tmp_path / "a.png", "--clip", "poses_mmposewholebody_SOUP", "--frame", "3") == 0
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (320, 240) and np.asarray(im).max() > 0
    assert run("render", tar, tmp_path / "b.png", "--clip", "colin-SAD", "--frame", "0") == 0
    capsys.readouterr()
    assert run("render", corpus, tmp_path / "c.png") == 2
    assert "pass --clip ID" in capsys.readouterr().err
    assert run("render", corpus, tmp_path / "c.png", "--clip", "nope") == 2
    err = capsys.readouterr().err
    assert "no clip 'nope'" in err and "poses_mmposewholebody_SOUP" in err and len(err.strip().splitlines()) == 1


def test_stats_refuses_a_text_file_that_is_no_manifest(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\nabout things\n")
    assert run("stats", notes) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "not a manifest" in err and len(err.strip().splitlines()) == 1


def test_stats_still_reads_a_headerless_signverse2m_manifest(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(b"abcdefghijk,ase\r\nbcdefghijkl,gsg\r\n")
    assert run("stats", manifest) == 0
    assert "2 videos" in capsys.readouterr().out

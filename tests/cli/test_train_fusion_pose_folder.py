"""README: `signverse train signx-fusion --data ../shared/data/poses` trains on a folder of pose
files (no index); an unreadable file is skipped, the rest trains."""
import json
import shutil

import pytest

from conftest import shared
from signverse.cli.main import main

pytest.importorskip("torch")


def test_fusion_trains_on_a_folder_of_pose_files(tmp_path, capsys, caplog):
    folder = tmp_path / "poses"
    folder.mkdir()
    for name in ("poses_mmposewholebody_SOUP.pose", "openpose.pose"):
        shutil.copy(shared("poses", name), folder / name)
    (folder / "broken.pose").write_bytes(b"\x00not a pose file")
    out = tmp_path / "run"
    assert main(["train", "signx-fusion", "--data", str(folder), "--out", str(out), "--epochs", "2", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["loss"] > 0
    assert any("broken" in r.getMessage() for r in caplog.records)
    from signverse.models.signx import load_run
    assert load_run(out).fusion is not None


def test_a_folder_without_pose_files_is_one_line_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["train", "signx-fusion", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "not a known sample source" in err and len(err.strip().splitlines()) == 1


def test_train_limit_takes_an_even_spread_of_samples(tmp_path, capsys):
    """`train --limit N`: a quick check on at most N samples from a few signer files."""
    from signverse.data.loaders import load_samples, spread
    assert spread(list(range(10)), 4) == [0, 3, 6, 9] and spread([1, 2], 5) == [1, 2]
    samples = load_samples(shared("islr"), limit=60)
    assert len(samples) == 60 and len({s.signer for s in samples}) >= 3
    out = tmp_path / "islr"
    assert main(["train", "islr", "--data", str(shared("islr")), "--out", str(out), "--limit", "60",
                 "--epochs", "1", "--set", "d_model=32", "--set", "n_layers=1", "--set", "n_heads=2",
                 "--json"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # islr trains on every sample by default (no dev part): all 60 of the limit, none held back
    assert metrics["n_train"] == 60 and metrics["n_dev"] == 0

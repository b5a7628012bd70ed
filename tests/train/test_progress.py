"""Progress output: plain lines off a terminal (epoch, loss, dev metric, ETA), silent on request."""
from __future__ import annotations

import io

import pytest

from signverse.cli.main import main
from signverse.core.progress import Progress, format_seconds


def test_plain_lines_when_not_a_tty():
    out = io.StringIO()
    with Progress(10, "islr", stream=out, min_interval=0.0) as bar:
        for _ in range(5):
            bar.update(1, epoch="1/2", loss=0.5)
        bar.line(epoch="1/2", loss=0.25, dev_top1=0.75)
    text = out.getvalue()
    assert "islr: epoch 1/2 loss 0.25 dev_top1 0.75" in text
    assert "ETA" in text and "\r" not in text                    # readable in a log file
    assert all(line.startswith("islr:") for line in text.splitlines())


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("SIGNVERSE_PROGRESS", "0")
    out = io.StringIO()
    with Progress(3, "x", stream=out, min_interval=0.0) as bar:
        bar.update(3, loss=1.0)
        bar.line(epoch="1/1")
    assert out.getvalue() == ""


def test_format_seconds():
    assert [format_seconds(s) for s in (4.4, 75, 3700)] == ["4s", "1m15s", "1h01m"]


def test_train_cli_shows_progress_and_the_refit_note(tmp_path, pose_folder, capsys):
    pytest.importorskip("torch")
    run = tmp_path / "run"
    assert main(["train", "islr", "--data", str(pose_folder), "--out", str(run), "--epochs", "3",
                 "--set", "d_model=16", "--set", "n_layers=1", "--set", "n_heads=2",
                 "--set", "dev_part=true", "--set", "refit_all=true"]) == 0
    cap = capsys.readouterr()
    assert "islr: reading" in cap.err and "items ready" in cap.err   # the data phase is not silent
    assert "epoch 3/3" in cap.err and "dev_top1" in cap.err and "ETA" in cap.err
    assert "refit on train+dev" in cap.err                       # the refit phase is shown too
    assert "note: dev figures come from the early-stopped model" in cap.out
    assert (run / "checkpoints" / "best.pt").exists() and (run / "checkpoints" / "last.pt").exists()
    assert main(["evaluate", str(run), "--data", str(pose_folder)]) == 0
    assert "not a held-out score" in capsys.readouterr().err


def test_signx_training_shows_progress(capsys):
    pytest.importorskip("torch")
    import numpy as np
    from signverse.layouts import get_layout
    from signverse.models.signx.fusion import FrameSet, FusionConfig, train_fusion
    k = get_layout("dwpose").num_points
    rng = np.random.default_rng(0)
    frames = FrameSet({"dwpose": (rng.normal(size=(40, k, 2)).astype(np.float32), np.ones((40, k), bool))})
    cfg = FusionConfig(tracks=("dwpose",), hidden=16, latent=8, heads=2)
    train_fusion(frames, cfg, steps=3, batch_size=8, log_every=0)
    err = capsys.readouterr().err
    assert "signx-fusion: loss" in err and "3/3 steps" in err

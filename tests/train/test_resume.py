"""Training survives interruption: checkpoints as it goes, ``--resume`` continues a killed run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.core.errors import InputError  # noqa: E402
from signverse.train.checkpoint import load_model  # noqa: E402
from signverse.train.recipes import ClassifierRecipe  # noqa: E402
from signverse.train.run import evaluate_run, train_task  # noqa: E402

TINY = {"d_model": 16, "n_heads": 2, "n_layers": 1}
REPO = Path(__file__).resolve().parents[2]


class Interrupt(Exception):
    pass


def _interrupt_after(monkeypatch, n_epochs: int):
    """Make the n-th+1 training epoch raise, as a kill between two epochs would end it."""
    calls = {"n": 0}
    original = ClassifierRecipe.batches

    def batches(self, prepared, batch_size, rng, train):
        if train:
            calls["n"] += 1
            if calls["n"] > n_epochs:
                raise Interrupt
        return original(self, prepared, batch_size, rng, train)

    monkeypatch.setattr(ClassifierRecipe, "batches", batches)


def _weights(run):
    return torch.load(Path(run) / "model.pt", weights_only=True)


# 2: inside the early-stopping phase; 6: inside the refit; with weight averaging (its state resumes too)
@pytest.mark.parametrize("stop_after,ema", [(2, 0.0), (6, 0.0), (2, 0.9)])
def test_resume_gives_the_uninterrupted_result(tmp_path, samples, monkeypatch, stop_after, ema):
    opts = dict(epochs=4, samples=samples[::2], model_overrides=TINY, progress=False,
                train_overrides={"lr": 3e-3, "patience": 0, "dev_part": True, "refit_all": True,
                                 "ema_decay": ema})
    straight = train_task("islr", None, tmp_path / "straight", **opts)
    with monkeypatch.context() as m:
        _interrupt_after(m, stop_after)
        with pytest.raises(Interrupt):
            train_task("islr", None, tmp_path / "run", **opts)
    ck = tmp_path / "run" / "checkpoints"
    assert (ck / "best.pt").exists() and not (tmp_path / "run" / "model.pt").exists()
    assert (ck / ("last.pt" if stop_after < 4 else "refit-last.pt")).exists()
    resumed = train_task("islr", None, tmp_path / "run", resume=True, **opts)
    def scores(m):   # everything but the measured inference time
        return {k: v for k, v in m["dev"].items() if k != "ms_per_clip"}
    assert resumed["best_epoch"] == straight["best_epoch"] and scores(resumed) == scores(straight)
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "run")
    assert all(torch.equal(a[k], b[k]) for k in a)                # bit-identical continuation
    def epochs(run):
        rows = [json.loads(r) for r in (run / "log.jsonl").read_text().splitlines()]
        return [(r.get("phase"), r.get("epoch")) for r in rows]
    assert epochs(tmp_path / "run") == epochs(tmp_path / "straight")   # each epoch logged once


def test_resume_refuses_other_arguments_and_missing_checkpoints(tmp_path, samples):
    opts = dict(samples=samples, model_overrides=TINY, progress=False)
    with pytest.raises(InputError, match="nothing to resume"):
        train_task("islr", None, tmp_path / "run", epochs=2, resume=True, **opts)
    train_task("islr", None, tmp_path / "run", epochs=2, train_overrides={"refit_all": False}, **opts)
    with pytest.raises(InputError, match="other arguments.*train"):
        train_task("islr", None, tmp_path / "run", epochs=3, resume=True,
                   train_overrides={"refit_all": False}, **opts)


def test_killed_cli_run_resumes_and_loads(tmp_path, pose_folder):
    """SIGKILL after the first checkpoint; ``--resume`` finishes; the run loads and predicts."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "signverse", "train", "islr", "--data", str(pose_folder), "--out", str(run),
           "--epochs", "15", "--set", "d_model=16", "--set", "n_layers=1", "--set", "n_heads=2",
           "--set", "patience=0", "--set", "refit_all=false"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert last.exists(), "no checkpoint appeared"
    assert not (run / "model.pt").exists(), "the run finished before it could be killed"
    # A killed run is already usable: config.json + checkpoints/best.pt load (with a warning).
    assert load_model(run) is not None
    done = subprocess.run(cmd + ["--resume", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 15/15" in done.stderr and "epoch 1/15 " not in done.stderr   # continued, not restarted
    assert (run / "model.pt").exists() and (run / "checkpoints" / "best.pt").exists() and last.exists()
    log = [json.loads(r) for r in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == list(range(15))            # every epoch once, none repeated
    res = evaluate_run(run, pose_folder)
    assert 0 <= res["top1"] <= 1 and "not a held-out score" in res["warning"]


def test_checkpoints_are_plain_weights(tmp_path, samples):
    run = tmp_path / "run"
    train_task("islr", None, run, epochs=3, samples=samples, model_overrides=TINY, progress=False,
               train_overrides={"dev_part": True, "refit_all": True})
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    last = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert set(best) == set(last["model"]) and "optimizer" in last
    assert json.loads(last["state"])["epoch"] == 2
    assert not list((run / "checkpoints").glob("*.tmp"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert "early-stopped model" in metrics["dev_note"] and "refit on train+dev" in metrics["dev_note"]
    assert np.isfinite(metrics["dev"]["top1"])


def test_time_budget_stops_training_and_says_so(tmp_path, samples):
    run = tmp_path / "run"
    m = train_task("islr", None, run, epochs=50, samples=samples, model_overrides=TINY, progress=False,
                   train_overrides={"time_budget_s": 1e-3, "patience": 0, "dev_part": True, "refit_all": True})
    assert m["epochs_run"] == 1 and "of 50 epochs" in m["data_report"]["stopped_by_time_budget"]
    # no time left for a refit worth having: the early-stopped model is kept, and the note says so
    assert "refit_epochs" not in m and m["refit_skipped_by_time_budget"]
    assert "describe the saved model" in m["dev_note"] and (run / "model.pt").exists()

"""Run directories: save -> load round trip gives the same outputs; weights load without pickle."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.core.errors import InputError  # noqa: E402
from signverse.models import get_model  # noqa: E402
from signverse.train.checkpoint import load_model, read_run, save_run  # noqa: E402
from signverse.train.trainer import TrainConfig, Trainer, lr_factor  # noqa: E402


@pytest.mark.parametrize("name,io", [("signdw-islr", {"n_features": 12, "n_classes": 4}),
                                      ("signdw-text2pose", {"vocab_size": 11}),
                                      ("signdw-pose2text", {"n_features": 12, "vocab_size": 11})])
def test_save_load_round_trip_same_outputs(tmp_path, name, io):
    torch.manual_seed(0)
    model = get_model(name, d_model=32, n_heads=2, **io).eval()
    batch = model.example_batch(2)
    save_run(tmp_path / "run", model, task="x", config={"io": io}, vocab={"labels": {"labels": list("abcd")}},
             metrics={"dev": {}})
    loaded = load_model(tmp_path / "run", "cpu")
    assert type(loaded) is type(model) and loaded.config == model.config
    with torch.no_grad():
        a, b = model.loss(batch)[0], loaded.loss(batch)[0]
    assert torch.allclose(a, b)
    # model.pt is a plain state_dict readable with weights_only=True (no code execution)
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"] == name and cfg["model_config"]["d_model"] == 32


def test_incomplete_run_dir_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not a run directory"):
        read_run(tmp_path / "absent")
    (tmp_path / "r").mkdir()
    with pytest.raises(InputError, match="config.json"):
        read_run(tmp_path / "r")


def test_trainer_early_stops_and_restores_best(tmp_path):
    torch.manual_seed(0)
    model = get_model("signdw-islr", d_model=16, n_heads=2, n_layers=1, n_features=4, n_classes=2)
    x = torch.randn(16, 5, 4)
    y = (x[:, :, 0].mean(1) > 0).long()
    batch = {"x": x, "mask": torch.ones(16, 5, dtype=torch.bool), "y": y}
    scores = iter([0.5, 0.9, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6])
    snapshots = []

    def evaluate(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"top1": next(scores)}
    cfg = TrainConfig(epochs=8, patience=3, monitor="top1", lr=1e-2)
    res = Trainer(model, cfg, lambda e: [batch], evaluate, steps_per_epoch=1,
                  log_path=tmp_path / "log.jsonl").fit()
    assert res.best_epoch == 1 and len(res.history) == 5        # stopped 3 epochs after the best
    best = snapshots[1]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[1])["dev_top1"] == 0.9


def test_schedule_warmup_then_cosine():
    f = [lr_factor(s, 100, 10, 0.0) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[50] < f[20] and f[99] < 0.01
    assert np.all(np.diff(f[10:]) <= 1e-12)


def test_seeded_training_is_deterministic():
    def once():
        torch.manual_seed(3)
        model = get_model("signdw-islr", d_model=16, n_heads=2, n_layers=1, n_features=4, n_classes=2)
        gen = torch.Generator().manual_seed(0)
        batch = {"x": torch.randn(8, 5, 4, generator=gen), "mask": torch.ones(8, 5, dtype=torch.bool),
                 "y": torch.randint(0, 2, (8,), generator=gen)}
        from signverse.train.trainer import seed_everything
        seed_everything(7)
        Trainer(model, TrainConfig(epochs=3), lambda e: [batch], steps_per_epoch=1).fit()
        return torch.cat([p.flatten() for p in model.parameters()])
    assert torch.equal(once(), once())

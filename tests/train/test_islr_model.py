"""The ISLR model parts: depthwise-conv blocks, late dropout, seed ensembles, motion features,
hand-gap filling."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.models import get_model  # noqa: E402
from signverse.train.checkpoint import load_model, save_run  # noqa: E402
from signverse.data.features.encoder import FEATURE_DIMS, LH, RH, fill_hand_gaps, frame_features  # noqa: E402

SMALL = {"d_model": 16, "n_heads": 2, "n_layers": 2, "conv_kernel": 5}


def test_conv_encoder_ignores_padding():
    torch.manual_seed(0)
    model = get_model("signdw-islr", n_features=8, n_classes=3, **SMALL).eval()
    x = torch.randn(1, 7, 8)
    alone = model(x, torch.ones(1, 7, dtype=torch.bool))
    padded = torch.cat([x, torch.randn(1, 5, 8) * 100], 1)      # loud padding must not leak in
    mask = torch.zeros(1, 12, dtype=torch.bool)
    mask[0, :7] = True
    assert torch.allclose(alone, model(padded, mask), atol=1e-5)


def test_ensemble_averages_members_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = get_model("signdw-islr", n_features=8, n_classes=3, members=3, **SMALL).eval()
    batch = model.example_batch(4)
    probs = model(batch["x"], batch["mask"]).exp()
    assert torch.allclose(probs.sum(-1), torch.ones(4), atol=1e-5)
    each = torch.stack([m(batch["x"], batch["mask"]).softmax(-1) for m in model.members]).mean(0)
    assert torch.allclose(probs, each, atol=1e-5)
    loss, logs = model.train().loss(batch)
    loss.backward()
    assert all(p.grad is not None for m in model.members for p in m.head.parameters())
    save_run(tmp_path / "run", model.eval(), task="islr", config={"io": {"n_features": 8, "n_classes": 3}},
             vocab={})
    back = load_model(tmp_path / "run")
    assert len(back.members) == 3
    assert torch.allclose(back(batch["x"], batch["mask"]), model(batch["x"], batch["mask"]), atol=1e-6)


def test_late_dropout_switches_on_late():
    model = get_model("signdw-islr", n_features=8, n_classes=3, late_dropout=0.4, late_dropout_start=0.5,
                      **SMALL)
    model.on_epoch(0, 10)
    assert model.late_drop.p == 0.0
    model.on_epoch(5, 10)
    assert model.late_drop.p == 0.4


def test_motion_features():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 54, 2)).astype(np.float32)
    pts[4, RH] = np.nan
    f = frame_features(pts, "motion")
    assert f.shape == (10, FEATURE_DIMS["motion"]) and np.isfinite(f).all()
    assert np.array_equal(f[:, :FEATURE_DIMS["base"]], frame_features(pts))
    lag1 = f[:, FEATURE_DIMS["base"]:FEATURE_DIMS["base"] + 84]
    assert np.allclose(lag1[0], 0) and np.allclose(lag1[2, :2], pts[2, LH][0] - pts[1, LH][0], atol=1e-6)
    with pytest.raises(ValueError, match="unknown feature set"):
        frame_features(pts, "nope")


def test_fill_hand_gaps_interpolates_short_gaps_only():
    pts = np.zeros((10, 54, 2), np.float32)
    pts[:, RH, 0] = np.arange(10, dtype=np.float32)[:, None]
    pts[3:5, RH] = np.nan                      # 2 missing frames: filled
    pts[6:10, LH] = np.nan                     # missing to the end: no frame after, left alone
    out = fill_hand_gaps(pts, 2)
    assert np.allclose(out[3:5, RH, 0], [[3], [4]])
    assert np.isnan(out[6:, LH]).all()
    pts[2:6, RH] = np.nan                      # 4 missing frames > max_gap: left alone
    assert np.isnan(fill_hand_gaps(pts, 2)[2:6, RH]).all()
    assert fill_hand_gaps(pts, 0) is pts


def test_runs_saved_before_the_new_settings_still_load(tmp_path, samples):
    """A run whose config.json predates conv blocks / ensembles / feature sets loads as it was."""
    import json
    from signverse.train.run import evaluate_run, train_task
    run = tmp_path / "old"
    train_task("islr", None, run, epochs=1, samples=samples, progress=False,
               model_overrides={"d_model": 16, "n_heads": 2, "n_layers": 1, "conv_kernel": 0,
                                "late_dropout": 0.0, "members": 1},
               recipe_overrides={"features": "base", "fill_hand_gaps": 0})
    cfg = json.loads((run / "config.json").read_text())
    for key in ("conv_kernel", "late_dropout", "late_dropout_start", "members"):
        del cfg["model_config"][key]
    for key in ("features", "fill_hand_gaps"):
        del cfg["recipe"][key]
    for key in ("augment", "tta_augment"):          # ranges added later (the hidden span)
        del cfg["recipe"][key]["time_mask"]
    del cfg["train"]["ema_decay"]
    (run / "config.json").write_text(json.dumps(cfg))
    assert 0 <= evaluate_run(run, None, samples=samples[:8])["top1"] <= 1

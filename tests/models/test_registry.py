"""Every registered model (SignDW, and SignX once registered) builds, runs forward and backward."""
from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from signverse.core.errors import SignverseError  # noqa: E402
from signverse.models import default_config, get_model, list_models, register_model  # noqa: E402

# Small sizes for whichever of these fields a config has; others keep their defaults.
TINY = {"d_model": 32, "n_heads": 2, "n_layers": 1, "enc_layers": 1, "dec_layers": 1,
        "max_frames": 16, "max_len": 64}


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_backward(name):
    torch.manual_seed(0)
    cfg = default_config(name)
    over = {k: v for k, v in TINY.items() if k in {f.name for f in dataclasses.fields(cfg)}}
    model = get_model(name, **over)
    assert model.model_name == name
    batch = model.example_batch(2, "cpu")
    model.train()
    loss, logs = model.loss(batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert isinstance(logs, dict) and all(isinstance(v, float) for v in logs.values())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_signdw_models_are_registered_per_task():
    assert {"signdw-islr", "signdw-langid", "signdw-pose2text", "signdw-text2pose",
            "signdw-text2pose-parallel"} <= set(list_models())
    assert list_models(task="text2pose") == ["signdw-text2pose", "signdw-text2pose-dtw", "signdw-text2pose-parallel",
                                             "signdw-text2pose-template"]


def test_overrides_and_errors():
    m = get_model("signdw-islr", d_model=48, n_features=10, n_classes=3)
    assert m.config.d_model == 48 and m.n_classes == 3
    with pytest.raises(SignverseError, match="unknown model"):
        get_model("no-such-model")
    with pytest.raises(SignverseError, match="no config field"):
        default_config("signdw-islr", nonsense=1)


def test_register_requires_dataclass_config():
    with pytest.raises(SignverseError, match="dataclass"):
        register_model("bad-model", dict)(lambda cfg, **io: None)

"""ISLR training extras: weight averaging (EMA) in the trainer, the hidden-span augmentation, and
``--set augment={...}`` changing only the ranges it names."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.data.features.encoder import AugmentConfig, augment_points  # noqa: E402
from signverse.models import get_model  # noqa: E402
from signverse.train.recipes import ClassifierSettings, settings_with  # noqa: E402
from signverse.train.trainer import TrainConfig, Trainer, seed_everything  # noqa: E402

OFF = AugmentConfig(rotate_deg=0, scale=0, shear=0, shift=0, jitter=0, speed=0, crop=0, hand_drop=0,
                    hand_rotate_deg=0)


def _train(ema_decay: float, snapshots: list | None = None):
    """A tiny seeded fit (3 epochs x 2 steps); ``snapshots`` receives the weights after every step."""
    seed_everything(5)
    model = get_model("signdw-islr", d_model=16, n_heads=2, n_layers=1, n_features=4, n_classes=2)
    gen = torch.Generator().manual_seed(0)
    batches = [{"x": torch.randn(8, 5, 4, generator=gen), "mask": torch.ones(8, 5, dtype=torch.bool),
                "y": torch.randint(0, 2, (8,), generator=gen)} for _ in range(2)]

    def epoch_batches(epoch):
        for b in batches:
            yield b
            if snapshots is not None:   # resumed after the optimizer step on ``b``
                snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    Trainer(model, TrainConfig(epochs=3, lr=1e-2, ema_decay=ema_decay), epoch_batches, steps_per_epoch=2).fit()
    return model.state_dict()


def test_ema_keeps_the_moving_average_of_the_step_weights():
    steps: list[dict] = []
    plain = _train(0.0, steps)
    averaged = _train(0.9)
    assert len(steps) == 6
    assert all(torch.equal(plain[k], steps[-1][k]) for k in plain)     # off: the last step's weights
    expect = {k: v.float().clone() for k, v in steps[0].items()}
    for step, weights in enumerate(steps[1:], start=1):
        decay = min(0.9, (1 + step) / (10 + step))
        for k, v in weights.items():
            expect[k] = expect[k] * decay + v.float() * (1 - decay) if v.dtype.is_floating_point else v
    assert all(torch.allclose(averaged[k].float(), expect[k], atol=1e-6) for k in expect)
    assert any(not torch.allclose(averaged[k], plain[k]) for k in plain)   # and it is not the last step


def test_time_mask_hides_one_span_of_frames():
    pts = np.random.default_rng(0).normal(size=(40, 54, 2)).astype(np.float32)
    assert np.isfinite(augment_points(pts, np.random.default_rng(1), OFF)).all()
    spans = []
    for seed in range(30):
        out = augment_points(pts, np.random.default_rng(seed), settings_with(OFF, {"time_mask": 0.25}))
        hidden = np.isnan(out).all(-1).all(-1)
        assert np.isnan(out).any(-1).any(-1).sum() == hidden.sum()     # whole frames only
        idx = np.flatnonzero(hidden)
        assert len(idx) <= 10 and (not len(idx) or idx[-1] - idx[0] + 1 == len(idx))   # one span
        assert np.array_equal(out[~hidden], pts[~hidden])              # the rest untouched
        spans.append(len(idx))
    assert max(spans) > 3


def test_augment_override_changes_only_the_named_ranges():
    base = ClassifierSettings()
    new = settings_with(base, {"augment": {"rotate_deg": 33.0}, "tta": 2})
    assert new.augment.rotate_deg == 33.0 and new.tta == 2
    assert {k: v for k, v in vars(new.augment).items() if k != "rotate_deg"} == \
        {k: v for k, v in vars(base.augment).items() if k != "rotate_deg"}
    assert base.augment.rotate_deg != 33.0                              # the original is not changed

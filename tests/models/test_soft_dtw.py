"""Soft-DTW loss: equals classic DTW as gamma -> 0, per-sample lengths in one batch, finite gradients."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.metrics.pose import dtw_path  # noqa: E402
from signverse.models.signdw.soft_dtw import pose_cost, soft_dtw  # noqa: E402


def test_small_gamma_is_classic_dtw_for_each_length():
    torch.manual_seed(0)
    cost = torch.rand(3, 7, 5, requires_grad=True)
    len1, len2 = torch.tensor([7, 4, 1]), torch.tensor([5, 5, 3])
    value = soft_dtw(cost, len1, len2, gamma=1e-4)
    for b in range(3):
        n, m = int(len1[b]), int(len2[b])
        expected = dtw_path(cost[b, :n, :m].detach().numpy())[0]
        assert float(value[b]) == pytest.approx(expected, abs=1e-3)
    value.sum().backward()
    assert torch.isfinite(cost.grad).all()
    assert cost.grad[1, 4:].abs().sum() == 0          # cells past a sample's length play no part
    assert cost.grad[2, :, 3:].abs().sum() == 0


def test_larger_gamma_is_a_soft_minimum_below_the_hard_one():
    cost = torch.tensor([[[1.0, 2.0], [2.0, 1.0]]])
    hard = float(soft_dtw(cost, torch.tensor([2]), torch.tensor([2]), gamma=1e-4))
    soft = float(soft_dtw(cost, torch.tensor([2]), torch.tensor([2]), gamma=1.0))
    assert hard == pytest.approx(2.0, abs=1e-3) and soft < hard


def test_pose_cost_is_mean_squared_error_over_present_target_points():
    rng = np.random.default_rng(0)
    pred = torch.tensor(rng.normal(size=(1, 3, 4, 2)), dtype=torch.float32)
    target = torch.tensor(rng.normal(size=(1, 2, 4, 2)), dtype=torch.float32)
    present = torch.tensor([[[True, True, False, True], [False, False, False, False]]])
    cost = pose_cost(pred, target, present)
    keep = [0, 1, 3]
    manual = ((pred[0][:, keep] - target[0, 0][keep]) ** 2).sum(-1).mean(-1)
    assert torch.allclose(cost[0, :, 0], manual, atol=1e-5)
    # a target frame with no point: cost 0 (neutral), not NaN
    assert torch.equal(cost[0, :, 1], torch.zeros(3))

import pytest

torch = pytest.importorskip("torch")

from signverse.models.schedule import lr_factor, one_cycle  # noqa: E402


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 10, 11, 20, 500])
def test_one_cycle_survives_any_run_length(steps):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = one_cycle(opt, 0.1, steps)
    lrs = []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert all(0 <= lr <= 0.1 + 1e-12 for lr in lrs)
    if steps >= 10:
        assert max(lrs) > 5 * lrs[-1]          # warms up, then anneals


def test_lr_factor_warms_up_then_decays_to_the_floor():
    f = [lr_factor(s, 100, 10, 0.1) for s in range(101)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[100] == pytest.approx(0.1)

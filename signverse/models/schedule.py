"""Learning-rate schedules shared by the trainers.

``lr_factor`` is the generic trainer's schedule (plain arithmetic); ``one_cycle`` is torch's
OneCycle made safe for short runs (the SignX trainers use it).
"""
from __future__ import annotations

import math


def lr_factor(step: int, total: int, warmup: int, min_frac: float) -> float:
    """Linear warmup to 1, then cosine to ``min_frac``.

    >>> [round(lr_factor(s, 10, 2, 0.0), 2) for s in (0, 1, 2, 9)]
    [0.5, 1.0, 1.0, 0.04]
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * progress))


def one_cycle(optimizer, max_lr: float, total_steps: int, *, pct_start: float = 0.1):
    """``OneCycleLR`` that also works for very short runs.

    OneCycle divides by the length of its warm-up phase, which is zero when
    ``pct_start * total_steps == 1`` (e.g. 10 steps at 10 %): the warm-up gets at least two steps,
    and runs under four steps keep a constant learning rate.
    """
    import torch
    total = int(total_steps)
    if total < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total,
                                               pct_start=min(0.5, max(pct_start, 2.0 / total)))

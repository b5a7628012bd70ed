"""Soft-DTW (Cuturi & Blondel, 2017) over batches of pose sequences, differentiable in torch.

A training loss that, unlike a frame-by-frame L1 against clips of unequal timing, does not pull
the output towards the time-blurred mean motion: each real clip is compared with the generated
sequence after the best (soft) time alignment, the way DTW-MJE scores it.

The accumulated cost is filled one anti-diagonal at a time (``T1 + T2`` vectorised steps), and
samples of different lengths share one batch: cell ``(i, j)`` depends only on cells with smaller
indices, so padding past a sample's lengths never reaches the value read at its own end cell.
"""
from __future__ import annotations

import torch


def pose_cost(pred: torch.Tensor, target: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """``[B, T1, T2]`` mean squared point error over the points present in the target frame.
    ``pred [B, T1, K, 2]``, ``target [B, T2, K, 2]``, ``present [B, T2, K]``.

    Squared (as in the soft-DTW paper) rather than DTW-MJE's plain L2 because it expands into two
    matrix products: no ``[B, T1, T2, K, 2]`` difference tensor, which made a training epoch an order
    of magnitude slower on CPU.
    """
    w = present.to(pred.dtype)                                        # [B, T2, K]
    n = w.sum(-1).clamp(min=1)                                        # [B, T2]
    p2 = torch.einsum("bik,bjk->bij", pred.pow(2).sum(-1), w)
    py = torch.einsum("bikd,bjkd->bij", pred, target * w[..., None])
    y2 = (target.pow(2).sum(-1) * w).sum(-1)                           # [B, T2]
    return ((p2 - 2 * py + y2[:, None]) / n[:, None]).clamp(min=0)


def soft_dtw(cost: torch.Tensor, len1: torch.Tensor, len2: torch.Tensor,
             gamma: float = 0.01) -> torch.Tensor:
    """Soft-DTW value ``[B]`` of cost matrices ``[B, T1, T2]`` for each sample's lengths
    (steps (1,0), (0,1), (1,1); ``gamma`` -> 0 gives classic DTW).

    >>> c = torch.tensor([[[0., 1.], [1., 0.]]])
    >>> round(float(soft_dtw(c, torch.tensor([2]), torch.tensor([2]), gamma=1e-3)), 3)
    0.0
    """
    B, n, m = cost.shape
    # A large finite stand-in for infinity: exp/log of real infinities would turn the gradients
    # of unreachable cells (multiplied by 0 in torch.where) into NaN.
    inf = 1e10
    # R[d] holds the anti-diagonal i + j = d of the accumulated cost, indexed by i (0..n).
    prev2 = cost.new_full((B, n + 1), inf)
    prev2[:, 0] = 0.0                                                # d = 0: R[0, 0] = 0
    prev1 = cost.new_full((B, n + 1), inf)                           # d = 1: borders
    diagonals = [prev2, prev1]
    i = torch.arange(n + 1, device=cost.device)
    for d in range(2, n + m + 1):
        j = d - i
        valid = (i >= 1) & (j >= 1) & (j <= m)
        c = cost[:, (i - 1).clamp(0, n - 1), (j - 1).clamp(0, m - 1)]   # [B, n + 1]
        up = torch.cat([prev1.new_full((B, 1), inf), prev1[:, :-1]], 1)    # R[i-1, j]
        left = prev1                                                       # R[i, j-1]
        diag = torch.cat([prev2.new_full((B, 1), inf), prev2[:, :-1]], 1)  # R[i-1, j-1]
        stacked = torch.stack([up, left, diag], 0)
        softmin = -gamma * torch.logsumexp(-stacked / gamma, 0)
        cur = torch.where(valid[None], c + softmin, prev1.new_full((B, n + 1), inf))
        diagonals.append(cur)
        prev2, prev1 = prev1, cur
    R = torch.stack(diagonals, 1)                                    # [B, n + m + 1, n + 1]
    b = torch.arange(B, device=cost.device)
    return R[b, len1 + len2, len1]

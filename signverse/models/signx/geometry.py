"""Small geometry for SignX fusion: weighted 2-D similarity fits and temporal smoothing (torch)."""
from __future__ import annotations

import torch


def similarity_fit(u: torch.Tensor, v: torch.Tensor, w: torch.Tensor, shrink: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted 2-D similarity fit from template anchors ``u [..., n, 2]`` to observed anchors
    ``v [..., n, 2]`` (weights ``w [..., n]``): ``(a [..., 2] as (re, im), u_bar, v_bar, any)``.

    ``a = sum w dv conj(du) / sum w |du|^2`` on centred points, pulled towards identity by
    ``shrink`` and with its scale kept within [1/2, 2] (a few jittery or far anchors, e.g. feet out
    of the picture, can ask for any scale); ``any`` says whether some anchor had weight."""
    total = w.sum(-1)
    wn = w / total.clamp(min=1e-12).unsqueeze(-1)
    u_bar = (wn.unsqueeze(-1) * u).sum(-2)
    v_bar = (wn.unsqueeze(-1) * v).sum(-2)
    du = u - u_bar.unsqueeze(-2)
    dv = v - v_bar.unsqueeze(-2)
    re = (wn * (dv[..., 0] * du[..., 0] + dv[..., 1] * du[..., 1])).sum(-1) + shrink
    im = (wn * (dv[..., 1] * du[..., 0] - dv[..., 0] * du[..., 1])).sum(-1)
    den = (wn * (du ** 2).sum(-1)).sum(-1) + shrink
    a = torch.stack([re / den, im / den], -1)
    mag = a.norm(dim=-1, keepdim=True).clamp(min=1e-8)
    return a * (mag.clamp(0.5, 2.0) / mag), u_bar, v_bar, total > 1e-6


def apply_similarity(a: torch.Tensor, u_bar: torch.Tensor, v_bar: torch.Tensor,
                      query: torch.Tensor) -> torch.Tensor:
    """``a * (query - u_bar) + v_bar`` with 2-vectors as complex numbers."""
    rel = query - u_bar
    return torch.stack([a[..., 0] * rel[..., 0] - a[..., 1] * rel[..., 1],
                        a[..., 1] * rel[..., 0] + a[..., 0] * rel[..., 1]], -1) + v_bar


def smooth_frames(x: torch.Tensor, window: int) -> torch.Tensor:
    """Centred moving average of ``x [T, ...]`` over ``window`` frames (fewer at the clip ends)."""
    if window <= 1 or len(x) < 2:
        return x
    half = window // 2
    c = torch.cat([x.new_zeros(1, *x.shape[1:]), x.cumsum(0)])
    idx = torch.arange(len(x), device=x.device)
    lo, hi = (idx - half).clamp(min=0), (idx + half + 1).clamp(max=len(x))
    n = (hi - lo).to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return (c[hi] - c[lo]) / n

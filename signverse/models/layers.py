"""Shared layers of the SignDW family: positions, masks, pooling, a pre-norm Transformer stack."""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """``[..., dim]`` sinusoidal code of (possibly fractional) positions ``[...]``."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device,
                                                        dtype=torch.float32) / max(half, 1))
    ang = positions.float().unsqueeze(-1) * freq
    out = torch.cat([ang.sin(), ang.cos()], -1)
    if dim % 2:
        out = torch.nn.functional.pad(out, (0, 1))
    return out


class Positions(nn.Module):
    """Adds learned or sinusoidal absolute positions to ``[B, T, D]``."""

    def __init__(self, dim: int, kind: str = "sinusoidal", max_len: int = 1024):
        super().__init__()
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {kind!r}")
        self.kind, self.dim, self.max_len = kind, dim, max_len
        self.table = nn.Embedding(max_len, dim) if kind == "learned" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.arange(x.shape[1], device=x.device)
        if self.table is not None:
            return x + self.table(t.clamp(max=self.max_len - 1))
        return x + sinusoidal(t, self.dim).to(x.dtype)


def causal_mask(n: int, device=None) -> torch.Tensor:
    """``[n, n]`` bool, True where attention is NOT allowed (future positions)."""
    return torch.triu(torch.ones(n, n, dtype=torch.bool, device=device), 1)


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``[B, T]`` bool, True on valid steps."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None] < lengths[:, None]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``[B, T, D]`` over valid steps of ``mask [B, T]``."""
    w = mask.unsqueeze(-1).to(x.dtype)
    return (x * w).sum(1) / w.sum(1).clamp(min=1.0)


def encoder_stack(d_model: int, n_heads: int, n_layers: int, dropout: float,
                  ff_mult: int = 4) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_mult * d_model, dropout,
                                       batch_first=True, norm_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)


def decoder_stack(d_model: int, n_heads: int, n_layers: int, dropout: float,
                  ff_mult: int = 4) -> nn.TransformerDecoder:
    layer = nn.TransformerDecoderLayer(d_model, n_heads, ff_mult * d_model, dropout,
                                       batch_first=True, norm_first=True, activation="gelu")
    return nn.TransformerDecoder(layer, n_layers)

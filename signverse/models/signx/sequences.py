"""Clip batches for sequence models: padded multi-track frames, frame masks and augmentation."""
from __future__ import annotations

import math

import numpy as np
import torch

from signverse.models.signx.fusion import Tracks

ClipTracks = dict[str, tuple[np.ndarray, np.ndarray]]


def resample(clip: ClipTracks, max_frames: int) -> ClipTracks:
    """At most ``max_frames`` frames, picked evenly over the clip (longer clips only)."""
    n = len(next(iter(clip.values()))[0])
    if n <= max_frames:
        return clip
    idx = np.linspace(0, n - 1, max_frames).round().astype(int)
    return {t: (p[idx], v[idx]) for t, (p, v) in clip.items()}


def collate(clips: list[ClipTracks], tracks: tuple[str, ...], max_frames: int) -> tuple[Tracks, torch.Tensor]:
    """Pad clips to one length: ``({track: (points [B, T, K, 2], valid [B, T, K])}, mask [B, T])``.

    Tracks a clip lacks are all-invalid for it; padded frames are invalid and masked out.
    """
    clips = [resample(c, max_frames) for c in clips]
    lengths = [len(next(iter(c.values()))[0]) for c in clips]
    T = max(lengths)
    names = [t for t in tracks if any(t in c for c in clips)]
    out: Tracks = {}
    for name in names:
        k = next(c[name][0].shape[1] for c in clips if name in c)
        pts = np.zeros((len(clips), T, k, 2), np.float32)
        val = np.zeros((len(clips), T, k), bool)
        for i, c in enumerate(clips):
            if name in c:
                p, v = c[name]
                pts[i, :len(p)], val[i, :len(v)] = p, v
        out[name] = (torch.from_numpy(pts), torch.from_numpy(val))
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]
    return out, mask


def augment(tracks: Tracks, rotate_deg: float = 10.0, scale: float = 0.1, shift: float = 0.1,
            generator: torch.Generator | None = None) -> Tracks:
    """One random similarity transform per clip, the same for all its tracks and frames."""
    any_pts = next(iter(tracks.values()))[0]
    B = any_pts.shape[0]
    ang = (torch.rand(B, generator=generator) * 2 - 1) * math.radians(rotate_deg)
    s = 1 + (torch.rand(B, generator=generator) * 2 - 1) * scale
    d = (torch.rand(B, 2, generator=generator) * 2 - 1) * shift
    rot = torch.stack([torch.stack([ang.cos(), -ang.sin()], -1),
                       torch.stack([ang.sin(), ang.cos()], -1)], -2) * s[:, None, None]
    out = {}
    for name, (pts, val) in tracks.items():
        moved = torch.einsum("btkc,bdc->btkd", pts, rot) + d[:, None, None]
        out[name] = (torch.where(val.unsqueeze(-1), moved, pts), val)
    return out

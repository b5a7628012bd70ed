"""Multi-track pose fusion: any subset of pose tracks of the same frames -> one latent per frame.

Each track (its own layout) has a per-frame MLP encoder over its normalised points plus their
validity mask; the track tokens, a learned always-present "null" token and a learned query meet in
one attention layer per frame, so a missing track (or a frame with no track at all) never yields
NaN. Each track also has decoders from the latent back to its points, which the self-supervised
losses use: reconstruction, cross-track consistency and masked-track prediction.

Decoding a track uses what the layouts already know: where the OTHER given tracks convert to it
(``signverse.layouts`` point maps), the decoder predicts a residual on top of that conversion
(learning e.g. how MMPose and MediaPipe place the same joint differently); points no other track
reaches are decoded from the latent alone. A track is never its own prior, so reconstruction still
has to go through the latent.

>>> import torch
>>> from signverse.models.signx.fusion import FusionConfig, FusionModel
>>> m = FusionModel(FusionConfig(tracks=("dwpose",), hidden=32, latent=16))
>>> z = m({"dwpose": (torch.zeros(2, 3, 128, 2), torch.ones(2, 3, 128, dtype=torch.bool))})
>>> tuple(z.shape)
(2, 3, 16)
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from signverse.layouts import get_layout
from signverse.models.signx.tracks import DEFAULT_TRACKS
from signverse.models.schedule import one_cycle
from signverse.core.progress import Progress

log = logging.getLogger(__name__)

# {track name: (points [..., K, 2] normalised, valid [..., K] bool)}
Tracks = dict[str, tuple[torch.Tensor, torch.Tensor]]


@dataclass
class FusionConfig:
    """Sizes of the fusion model and weights of its self-supervised losses."""

    tracks: tuple[str, ...] = DEFAULT_TRACKS
    hidden: int = 256
    latent: int = 128
    heads: int = 4
    dropout: float = 0.0
    point_dropout: float = 0.1      # training: drop this share of valid points from the input
    w_recon: float = 1.0
    w_consistency: float = 0.5
    w_masked: float = 1.0
    clip: float = 8.0               # normalised coordinates beyond this are treated as outliers


def _mlp(d_in: int, hidden: int, d_out: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, d_out))


class FusionModel(nn.Module):
    """Per-track encoders, attention across tracks per frame, per-track decoders."""

    def __init__(self, config: FusionConfig | None = None):
        super().__init__()
        self.cfg = config = config or FusionConfig()
        self.tracks = tuple(config.tracks)
        self.n_points = {t: get_layout(t).num_points for t in self.tracks}
        keys = [self._key(t) for t in self.tracks]
        self.encoders = nn.ModuleDict({k: _mlp(3 * self.n_points[t], config.hidden, config.latent,
                                               config.dropout) for k, t in zip(keys, self.tracks)})
        self.decoders = nn.ModuleDict({k: _mlp(config.latent, config.hidden, 2 * self.n_points[t])
                                       for k, t in zip(keys, self.tracks)})
        self.residuals = nn.ModuleDict({k: _mlp(config.latent, config.hidden, 2 * self.n_points[t])
                                        for k, t in zip(keys, self.tracks)})
        self._maps = self._point_maps()
        self.track_embed = nn.Parameter(torch.randn(len(self.tracks), config.latent) * 0.02)
        self.null_token = nn.Parameter(torch.zeros(config.latent))
        self.query = nn.Parameter(torch.randn(config.latent) * 0.02)
        self.attn = nn.MultiheadAttention(config.latent, config.heads, dropout=config.dropout,
                                          batch_first=True)
        self.norm_in = nn.LayerNorm(config.latent)
        self.out = nn.Sequential(nn.LayerNorm(config.latent), nn.Linear(config.latent, config.latent))

    def _point_maps(self) -> dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Layout conversions between configured tracks as (index, weight, used) tensors."""
        from signverse.layouts import can_convert
        from signverse.layouts.convert import conversion
        maps = {}
        for src in self.tracks:
            for dst in self.tracks:
                if src == dst or not can_convert(src, dst):
                    continue
                idx, w = conversion(src, dst).arrays()
                used = idx >= 0
                if used.any():
                    maps[(src, dst)] = (torch.from_numpy(np.where(used, idx, 0)), torch.from_numpy(w),
                                        torch.from_numpy(used))
        return maps

    def prior(self, tracks: Tracks, target: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Mean of the other given tracks converted to ``target``: points ``[..., K, 2]`` and
        where any source reached them ``[..., K]`` (None when no given track converts)."""
        acc = cnt = None
        for src, (pts, valid) in tracks.items():
            if src == target or (src, target) not in self._maps:
                continue
            pts, valid = self._clean(pts, valid)
            idx, w, used = (t.to(pts.device) for t in self._maps[(src, target)])
            val = (pts[..., idx, :] * w.unsqueeze(-1)).sum(-2)             # [..., K, 2]
            ok = (valid[..., idx] | ~used).all(-1) & used.any(-1)         # every used source valid
            acc = torch.where(ok.unsqueeze(-1), val, 0.0) + (0 if acc is None else acc)
            cnt = ok.to(pts.dtype) + (0 if cnt is None else cnt)
        if acc is None:
            return None
        return acc / cnt.clamp(min=1).unsqueeze(-1), cnt > 0

    @staticmethod
    def _key(track: str) -> str:
        return track.replace(".", "_").replace("-", "_")

    # -- forward ---------------------------------------------------------------------------------
    def _clean(self, pts: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        valid = valid.bool() & torch.isfinite(pts).all(-1) & (pts.abs() <= self.cfg.clip).all(-1)
        # where(), not multiplication: NaN * 0 is NaN.
        return torch.where(valid.unsqueeze(-1), pts, torch.zeros_like(pts)), valid

    def encode_tracks(self, tracks: Tracks) -> tuple[torch.Tensor, torch.Tensor]:
        """Track tokens ``[..., N, D]`` (N = configured tracks) and presence ``[..., N]``."""
        tokens, present, batch = [], [], None
        for i, name in enumerate(self.tracks):
            if name in tracks:
                pts, valid = self._clean(*tracks[name])
                batch = pts.shape[:-2]
                x = torch.cat([pts, valid.unsqueeze(-1).to(pts.dtype)], -1).flatten(-2)
                tokens.append(self.encoders[self._key(name)](x) + self.track_embed[i])
                present.append(valid.any(-1))
            else:
                tokens.append(None)
                present.append(None)
        unknown = set(tracks) - set(self.tracks)
        if unknown:
            raise KeyError(f"fusion model has no encoder for track(s) {sorted(unknown)}")
        if batch is None:
            raise ValueError("no track given")
        ref = next(t for t in tokens if t is not None)
        tokens = [t if t is not None else ref.new_zeros(ref.shape) for t in tokens]
        present = [p if p is not None else torch.zeros(batch, dtype=torch.bool, device=ref.device)
                   for p in present]
        return torch.stack(tokens, -2), torch.stack(present, -1)

    def forward(self, tracks: Tracks) -> torch.Tensor:
        """Latent ``[..., latent]`` per frame from whichever tracks are given."""
        tokens, present = self.encode_tracks(tracks)
        batch = tokens.shape[:-2]
        tokens = tokens.reshape(-1, *tokens.shape[-2:])
        present = present.reshape(-1, present.shape[-1])
        n = tokens.shape[0]
        null = self.null_token.expand(n, 1, -1)
        kv = self.norm_in(torch.cat([null, tokens], 1))
        pad = torch.cat([torch.zeros(n, 1, dtype=torch.bool, device=tokens.device), ~present], 1)
        q = self.query.expand(n, 1, -1)
        fused, _ = self.attn(q, kv, kv, key_padding_mask=pad, need_weights=False)
        z = self.out(fused[:, 0] + q[:, 0])
        return z.reshape(*batch, -1)

    def decode(self, z: torch.Tensor, track: str,
               prior: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Points ``[..., K, 2]`` (normalised) of ``track`` from latents ``[..., latent]``, as a
        residual on ``prior`` (from :meth:`prior`) where it reaches a point."""
        shape = (*z.shape[:-1], self.n_points[track], 2)
        out = self.decoders[self._key(track)](z).reshape(shape)
        if prior is not None:
            res = self.residuals[self._key(track)](z).reshape(shape)
            out = torch.where(prior[1].unsqueeze(-1), prior[0] + res, out)
        return out

    def predict_track(self, tracks: Tracks, target: str) -> torch.Tensor:
        """``target``'s points from the given tracks (the target itself is left out of the input)."""
        inputs = {t: v for t, v in tracks.items() if t != target}
        return self.decode(self(inputs), target, self.prior(inputs, target))

    # -- self-supervised objective ---------------------------------------------------------------
    def loss(self, batch: Tracks) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction + cross-track consistency + masked-track prediction on a frame batch."""
        cfg = self.cfg
        clean = {t: self._clean(*batch[t]) for t in batch}
        inputs = clean
        if self.training and cfg.point_dropout > 0:
            inputs = {t: (p, v & (torch.rand(v.shape, device=v.device) >= cfg.point_dropout))
                      for t, (p, v) in clean.items()}
        z_full = self(inputs)
        recon = sum(masked_l2(self.decode(z_full, t, self.prior(inputs, t)), *clean[t])
                    for t in clean) / len(clean)
        losses = {"recon": recon}
        total = cfg.w_recon * recon
        names = list(clean)
        if len(names) >= 2:
            # Drop one track for the whole batch: the rest must still predict it, and agree.
            dropped = random.choice(names)
            rest = {t: inputs[t] for t in names if t != dropped}
            z_drop = self(rest)
            masked = masked_l2(self.decode(z_drop, dropped, self.prior(rest, dropped)), *clean[dropped])
            both = clean[dropped][1].any(-1)   # frames where the dropped track had points
            cons = ((z_drop - z_full) ** 2).mean(-1)
            cons = (cons * both).sum() / both.sum().clamp(min=1)
            losses |= {"masked": masked, "consistency": cons}
            total = total + cfg.w_masked * masked + cfg.w_consistency * cons
        return total, {k: float(v.detach()) for k, v in losses.items()} | {"loss": float(total.detach())}

    def example_batch(self, batch_size: int = 2, device="cpu") -> Tracks:
        """A tiny random batch of two tracks (registry protocol)."""
        out = {}
        for t in self.tracks[:2]:
            k = self.n_points[t]
            out[t] = (torch.randn(batch_size, k, 2, device=device),
                      torch.rand(batch_size, k, device=device) > 0.2)
        return out


def masked_l2(pred: torch.Tensor, pts: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared point distance over valid points (0 when none is valid)."""
    d = ((pred - pts) ** 2).sum(-1)
    w = valid.to(d.dtype)
    return (d * w).sum() / w.sum().clamp(min=1.0)


def to_torch(tracks: dict[str, tuple[np.ndarray, np.ndarray]], device="cpu") -> Tracks:
    """numpy ``{track: (points, valid)}`` -> torch."""
    return {t: (torch.as_tensor(p, dtype=torch.float32, device=device),
                torch.as_tensor(v, dtype=torch.bool, device=device)) for t, (p, v) in tracks.items()}


@dataclass
class FrameSet:
    """Frames with any subset of tracks: ``{track: (points [N, K, 2], valid [N, K])}``.

    A track absent from a clip is stored with all points invalid, so frames of different clips
    can be batched together.
    """

    tracks: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_clips(cls, clips: list[dict[str, tuple[np.ndarray, np.ndarray]]],
                   track_names: tuple[str, ...]) -> "FrameSet":
        names = [t for t in track_names if any(t in c for c in clips)]
        out = {}
        for t in names:
            k = get_layout(t).num_points
            pts, val = [], []
            for c in clips:
                n = len(next(iter(c.values()))[0])
                p, v = c.get(t, (np.zeros((n, k, 2), np.float32), np.zeros((n, k), bool)))
                pts.append(p)
                val.append(v)
            out[t] = (np.concatenate(pts), np.concatenate(val))
        return cls(out)

    def __len__(self) -> int:
        return len(next(iter(self.tracks.values()))[0]) if self.tracks else 0

    def take(self, idx: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {t: (p[idx], v[idx]) for t, (p, v) in self.tracks.items()}


def train_fusion(frames: FrameSet, config: FusionConfig | None = None, *, model: FusionModel | None = None,
                 steps: int = 500, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                 log_every: int = 100) -> tuple[FusionModel, list[dict[str, float]]]:
    """Self-supervised training of a fusion model on frames (any tracks); returns model and history."""
    torch.manual_seed(seed)
    random.seed(seed)
    rng = np.random.default_rng(seed)
    model = model or FusionModel(config)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = one_cycle(opt, lr, steps)
    history, t0 = [], time.time()
    bar = Progress(steps, "signx-fusion")
    for step in range(steps):
        idx = rng.integers(0, len(frames), size=min(batch_size, len(frames)))
        loss, parts = model.loss(to_torch(frames.take(idx)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(parts)
        bar.update(1, loss=round(float(loss.detach()), 4))
        if log_every and (step + 1) % log_every == 0:
            log.info("fusion step %d/%d %s (%.1fs)", step + 1, steps,
                     {k: round(v, 4) for k, v in parts.items()}, time.time() - t0)
    bar.close()
    model.eval()
    return model, history

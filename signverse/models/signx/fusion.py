"""Multi-track pose fusion: any subset of pose tracks of the same frames -> one latent per frame.

Each track (its own layout) has a per-frame MLP encoder over its normalised points plus their
validity mask; the track tokens, a learned always-present "null" token and a learned query meet in
one attention layer per frame, so a missing track (or a frame with no track at all) never yields
NaN. Each track also has decoders from the latent back to its points, which the self-supervised
losses use: reconstruction, cross-track consistency and masked-track prediction.

Decoding a track uses what the layouts already know: where the OTHER given tracks convert to it
(``signverse.layouts`` point maps), the decoder predicts a residual on top of that conversion
(learning e.g. how MMPose and MediaPipe place the same joint differently); points no other track
reaches start from the track's *template* (its mean pose over the training frames, in the shared
normalised frame) fitted by a local similarity transform to the nearby points that do have a source
(a face-mesh vertex follows the 68 face points around it, a missing hand follows the wrist), and the
decoder again predicts a residual on top. The residual heads start at zero (an untrained model is
exactly "conversion, else fitted mean pose"); training first sets them, in closed form, to the mean
offset of each point from its prior, then learns the rest from masked-track prediction only (the
case met at prediction time; reconstruction uses plain decoders from the latent). A track is never
its own prior, and neither is a track derived from the same estimator output (see
``FrameSet.sources``): the residual must learn how one estimator differs from another, not that a
converted copy equals its original.

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
from signverse.models.signx.geometry import apply_similarity, similarity_fit, smooth_frames
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
    anchor_sigma: float = 0.1       # template fit: Gaussian reach of a point's anchors (shoulder widths)
    anchor_shrink: float = 0.002    # template fit: pull of the local similarity towards identity
    anchor_k: int = 8               # template fit: nearest points with a source that anchor a point


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
        for head in self.residuals.values():    # start as the prior itself (conversion / template)
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        for k, t in zip(keys, self.tracks):
            self.register_buffer(f"template_{k}", torch.zeros(self.n_points[t], 2))
            self.register_buffer(f"template_has_{k}", torch.zeros(self.n_points[t], dtype=torch.bool))
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

    # -- templates: the fallback for points no given track reaches ---------------------------------
    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs saved before templates existed load with empty ones (plain decoder fallback).
        for name, buf in self.named_buffers(recurse=False):
            state_dict.setdefault(prefix + name, buf.clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def fit_templates(self, tracks: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Set each track's template: the mean of its valid normalised points over ``tracks``
        (``{track: (points [N, K, 2], valid [N, K])}``, e.g. ``FrameSet.tracks``)."""
        for name, (pts, valid) in tracks.items():
            if name not in self.n_points:
                continue
            pts = np.asarray(pts, np.float64)
            valid = (np.asarray(valid, bool) & np.isfinite(pts).all(-1)
                     & (np.abs(pts) <= self.cfg.clip).all(-1))
            n = valid.sum(0)
            mean = np.where(valid[..., None], pts, 0.0).sum(0) / np.maximum(n, 1)[:, None]
            key = self._key(name)
            getattr(self, f"template_{key}").copy_(torch.as_tensor(mean, dtype=torch.float32))
            getattr(self, f"template_has_{key}").copy_(torch.as_tensor(n > 0))

    def template(self, track: str) -> tuple[torch.Tensor, torch.Tensor]:
        key = self._key(track)
        return getattr(self, f"template_{key}"), getattr(self, f"template_has_{key}")

    def _fit_template(self, target: str, pts: torch.Tensor, ok: torch.Tensor,
                      fill: torch.Tensor) -> torch.Tensor:
        """Template points of ``target`` at ``fill`` ([K] bool), each moved by the similarity
        transform that best maps the template onto the points known in this frame (``pts`` where
        ``ok``): fitted on its ``anchor_k`` nearest known points (Gaussian weights by template
        distance), else, when none of those is known (a missing hand), on all known points; with no
        known point at all, the template itself (the mean pose in the normalised frame)."""
        tmpl, has = self.template(target)
        tmpl = tmpl.to(pts)
        cfg = self.cfg
        anchors = (ok.reshape(-1, ok.shape[-1]).any(0) & has.to(ok.device)).nonzero().squeeze(-1)
        targets = fill.nonzero().squeeze(-1)
        t_pts = tmpl[targets]                                                # [P, 2]
        out = t_pts.expand(*pts.shape[:-2], len(targets), 2)
        if len(anchors) == 0 or len(targets) == 0:
            return out.clone()
        d2 = ((t_pts[:, None] - tmpl[anchors][None]) ** 2).sum(-1)          # [P, A]
        d2_near, near = d2.topk(min(cfg.anchor_k, len(anchors)), -1, largest=False)
        near = anchors[near]                                                 # [P, k] point indices
        g = torch.exp(-d2_near / (2 * cfg.anchor_sigma ** 2))
        weight = g * ok[..., near].to(pts.dtype)
        a, u_bar, v_bar, local_ok = similarity_fit(tmpl[near], pts[..., near, :], weight, cfg.anchor_shrink)
        local = apply_similarity(a, u_bar, v_bar, t_pts)                    # [..., P, 2]
        # The fallback: one transform per frame from all known points, equally weighted.
        a, u_bar, v_bar, wide_ok = similarity_fit(tmpl[anchors], pts[..., anchors, :],
                                                  ok[..., anchors].to(pts.dtype), cfg.anchor_shrink)
        wide = apply_similarity(a.unsqueeze(-2), u_bar.unsqueeze(-2), v_bar.unsqueeze(-2), t_pts)
        out = torch.where(wide_ok[..., None, None], wide, out)
        return torch.where(local_ok.unsqueeze(-1), local, out)

    def complete(self, tracks: Tracks, target: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The prior of every point of ``target``: ``(points [..., K, 2], sourced [..., K])``.

        Points a given track converts to are that conversion (``sourced`` True); the others are the
        template fitted to those points. None when the target has neither a source nor a template.
        """
        conv = self.prior(tracks, target)
        _, has = self.template(target)
        if not bool(has.any()):
            return conv
        if conv is None:
            if not tracks:
                return None
            ref = next(iter(tracks.values()))[0]
            shape = (*ref.shape[:-2], self.n_points[target])
            conv = (ref.new_zeros(*shape, 2), torch.zeros(shape, dtype=torch.bool, device=ref.device))
        pts, ok = conv
        fill = (~ok).reshape(-1, ok.shape[-1]).any(0) & has.to(ok.device)
        if not bool(fill.any()):
            return conv
        fitted = self._fit_template(target, pts, ok, fill)
        idx = fill.nonzero().squeeze(-1)
        filled = pts.clone()
        filled[..., idx, :] = torch.where(ok[..., idx].unsqueeze(-1), pts[..., idx, :], fitted)
        return filled, ok

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
        residual on ``prior`` (from :meth:`complete` or :meth:`prior`) where it reaches a point:
        everywhere once the track has a template, else where a given track converts to it."""
        shape = (*z.shape[:-1], self.n_points[track], 2)
        if prior is None:
            return self.decoders[self._key(track)](z).reshape(shape)
        out = prior[0] + self.residuals[self._key(track)](z).reshape(shape)
        reach = prior[1] | self.template(track)[1].to(prior[1].device)
        if bool(reach.all()):       # the usual case once templates are fitted
            return out
        return torch.where(reach.unsqueeze(-1), out, self.decoders[self._key(track)](z).reshape(shape))

    def predict_track(self, tracks: Tracks, target: str) -> torch.Tensor:
        """``target``'s points from the given tracks (the target itself is left out of the input)."""
        inputs = {t: v for t, v in tracks.items() if t != target}
        return self.decode(self(inputs), target, self.complete(inputs, target))

    def predict_clip(self, tracks: Tracks, target: str, smooth: int = 3) -> torch.Tensor:
        """:meth:`predict_track` for the frames ``[T, ...]`` of one clip, averaged over a centred
        window of ``smooth`` frames: the two estimators jitter independently, so the input's
        frame-to-frame jitter is noise for the target (on FOOTBALL, hands 4.0 -> 3.5 px)."""
        return smooth_frames(self.predict_track(tracks, target), smooth)

    # -- self-supervised objective ---------------------------------------------------------------
    @torch.no_grad()
    def init_residuals(self, tracks: Tracks, priors: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Start each residual head at the mean offset of the track from its prior (normalised
        frame) over frames where another estimator's track gave a prior: the systematic part of
        how two estimators place the same joint, in closed form; training learns the rest."""
        for t, (prior, ok) in priors.items():
            if t not in tracks or t not in self.n_points:
                continue
            pts, valid = self._clean(*tracks[t])
            seen = ok.any(-1, keepdim=True)            # a frame where some other track had points
            w = (valid & seen).to(pts.dtype).unsqueeze(-1)
            n = w.sum(0)
            offset = torch.where(n > 0, ((pts - prior) * w).sum(0) / n.clamp(min=1), 0.0)
            self.residuals[self._key(t)][-1].bias.copy_(offset.flatten())

    @staticmethod
    def _others(tracks: Tracks, target: str, sources: dict[str, torch.Tensor] | None) -> Tracks:
        """Every track except ``target`` and (per frame) the tracks of the same estimator output."""
        out = {}
        for t, (p, v) in tracks.items():
            if t == target:
                continue
            if sources is not None and t in sources and target in sources:
                v = v & (sources[t] != sources[target]).unsqueeze(-1)
            out[t] = (p, v)
        return out

    @torch.no_grad()
    def training_priors(self, batch: Tracks, sources: dict[str, torch.Tensor] | None = None
                        ) -> dict[str, tuple[torch.Tensor, torch.Tensor] | None]:
        """Each track's prior from the other estimators' tracks (what :meth:`loss` decodes on)."""
        clean = {t: self._clean(*batch[t]) for t in batch}
        return {t: self.complete(self._others(clean, t, sources), t) for t in clean}

    def loss(self, batch: Tracks, sources: dict[str, torch.Tensor] | None = None,
             priors: dict[str, tuple[torch.Tensor, torch.Tensor] | None] | None = None,
             targets: Tracks | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction + cross-track consistency + masked-track prediction on a frame batch.

        ``sources`` gives, per track, an estimator-output id per frame ``[...]``: tracks sharing an
        id in a frame (one converted from the other) never serve as each other's prior or input.
        ``priors`` (from :meth:`training_priors` on the clean batch; computed here when not given)
        are what each track's decoder adds its residual to. ``targets`` (``batch`` when not given)
        are the points each track's masked prediction must match (input-only tracks: none).
        """
        cfg = self.cfg
        clean = {t: self._clean(*batch[t]) for t in batch}
        inputs = clean
        if self.training and cfg.point_dropout > 0:
            inputs = {t: (p, v & (torch.rand(v.shape, device=v.device) >= cfg.point_dropout))
                      for t, (p, v) in clean.items()}
        names = list(clean)
        z_full = self(inputs)
        rests = {t: self._others(inputs, t, sources) for t in names}
        if priors is None:
            priors = self.training_priors(batch, sources)
        # Reconstruction keeps the latent complete: the plain decoders, from the latent alone. The
        # residual heads learn only from the masked case below, the one met at prediction time
        # (the target itself is never an input there).
        recon = sum(masked_l2(self.decode(z_full, t), *clean[t]) for t in names) / len(names)
        losses = {"recon": recon}
        total = cfg.w_recon * recon
        if len(names) >= 2:
            # Every track in turn is predicted from the other estimators' tracks alone, and their
            # latent must agree with the full one where the track had points.
            masked = cons = 0.0
            for t in names:
                z_drop = self(rests[t])
                # Only frames where another estimator's track had points: from nothing, the residual
                # would learn some other clip's offset from the mean pose.
                seen = torch.stack([v.any(-1) for _, v in rests[t].values()], -1).any(-1)
                target_pts, target_valid = clean[t] if targets is None else self._clean(*targets[t])
                masked = masked + masked_l2(self.decode(z_drop, t, priors[t]), target_pts,
                                            target_valid & seen.unsqueeze(-1))
                both = target_valid.any(-1) & seen
                c = ((z_drop - z_full) ** 2).mean(-1)
                cons = cons + (c * both).sum() / both.sum().clamp(min=1)
            masked, cons = masked / len(names), cons / len(names)
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
    can be batched together. ``sources`` holds, per track, an id per frame of the estimator output
    it came from: two tracks of a clip with the same id are one output in two layouts (one derived
    from the other by conversion), so neither may stand in for the other in training.
    """

    tracks: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    sources: dict[str, np.ndarray] = field(default_factory=dict)
    #: per track, frames where it is only an input, never a prediction target: a track converted
    #: from another estimator (dwpose from MediaPipe) is not what that track's estimator would give
    input_only: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_clips(cls, clips: list[dict[str, tuple[np.ndarray, np.ndarray]]],
                   track_names: tuple[str, ...],
                   sources: list[dict[str, str]] | None = None,
                   input_only: list[set[str]] | None = None) -> "FrameSet":
        """``sources[i]`` names the estimator output behind each track of clip ``i`` (tracks left
        out, or no ``sources`` at all: every track is its own output); ``input_only[i]`` lists the
        tracks of clip ``i`` that serve as inputs only."""
        names = [t for t in track_names if any(t in c for c in clips)]
        ids: dict[tuple[int, str], int] = {}
        out, src, only = {}, {}, {}
        for t in names:
            k = get_layout(t).num_points
            pts, val, sid, io = [], [], [], []
            for i, c in enumerate(clips):
                n = len(next(iter(c.values()))[0])
                p, v = c.get(t, (np.zeros((n, k, 2), np.float32), np.zeros((n, k), bool)))
                origin = (sources[i].get(t, t) if sources is not None else t)
                pts.append(p)
                val.append(v)
                sid.append(np.full(n, ids.setdefault((i, origin), len(ids)), np.int64))
                io.append(np.full(n, input_only is not None and t in input_only[i]))
            out[t] = (np.concatenate(pts), np.concatenate(val))
            src[t] = np.concatenate(sid)
            only[t] = np.concatenate(io)
        return cls(out, src, only)

    def __len__(self) -> int:
        return len(next(iter(self.tracks.values()))[0]) if self.tracks else 0

    def take(self, idx: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {t: (p[idx], v[idx]) for t, (p, v) in self.tracks.items()}

    def take_sources(self, idx: np.ndarray) -> dict[str, torch.Tensor] | None:
        return {t: torch.as_tensor(s[idx]) for t, s in self.sources.items()} if self.sources else None

    def take_targets(self, idx: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Like :meth:`take`, with points of input-only tracks marked invalid (nothing to learn)."""
        out = self.take(idx)
        for t, only in self.input_only.items():
            if only[idx].any():
                p, v = out[t]
                out[t] = (p, v & ~only[idx][:, None])
        return out


def train_fusion(frames: FrameSet, config: FusionConfig | None = None, *, model: FusionModel | None = None,
                 steps: int = 500, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                 log_every: int = 100) -> tuple[FusionModel, list[dict[str, float]]]:
    """Self-supervised training of a fusion model on frames (any tracks); returns model and history."""
    torch.manual_seed(seed)
    random.seed(seed)
    rng = np.random.default_rng(seed)
    if model is None:
        model = FusionModel(config)
        model.fit_templates(frames.tracks)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = one_cycle(opt, lr, steps)
    history, t0 = [], time.time()
    # Priors depend on the data only: computed once for every frame, then looked up per batch.
    priors: dict[str, tuple[list, list]] = {}
    for start in range(0, len(frames), 256):
        idx = np.arange(start, min(start + 256, len(frames)))
        for t, pr in model.training_priors(to_torch(frames.take(idx)), frames.take_sources(idx)).items():
            if pr is not None:
                priors.setdefault(t, ([], []))
                priors[t][0].append(pr[0])
                priors[t][1].append(pr[1])
    all_priors = {t: (torch.cat(p), torch.cat(v)) for t, (p, v) in priors.items()}
    model.init_residuals(to_torch(frames.take_targets(np.arange(len(frames)))), all_priors)
    bar = Progress(steps, "signx-fusion")
    for step in range(steps):
        idx = rng.integers(0, len(frames), size=min(batch_size, len(frames)))
        batch_priors = {t: (all_priors[t][0][idx], all_priors[t][1][idx]) if t in all_priors else None
                        for t in frames.tracks}
        loss, parts = model.loss(to_torch(frames.take(idx)), frames.take_sources(idx), batch_priors,
                                 to_torch(frames.take_targets(idx)))
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

"""Pose2Gloss by diffusion: denoise gloss embeddings conditioned on the fused latent sequence.

The conditioning encoder is the fusion model applied per frame to whichever tracks a clip has,
followed by a temporal Transformer. A denoiser (Transformer decoder over ``max_len`` gloss slots,
cross-attending to the encoded frames) predicts the clean embeddings from noisy ones (DDPM
training, x0 parameterisation, cosine schedule); inference runs a few deterministic DDIM steps and
scores each slot by cosine similarity to the gloss codebook. Isolated signs use one slot;
continuous signing uses ``max_len`` slots filled with ``<end>`` after the last gloss.

The codebook is a fixed random set of (near-orthogonal) unit vectors scaled to unit variance per
dimension; it is not learned, so the diffusion target cannot collapse.

:class:`PoseClassifier` is the same encoder with a mean-pool + linear head, the plain
discriminative peer used in the benchmark.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from signverse.models.signx.fusion import FusionConfig, FusionModel, Tracks
from signverse.models.signx.sequences import ClipTracks, augment, collate
from signverse.models.schedule import one_cycle
from signverse.core.progress import Progress

log = logging.getLogger(__name__)

END = "<end>"


@dataclass
class GlossConfig:
    """Sizes of the Pose2Gloss model and its diffusion."""

    fusion: FusionConfig = field(default_factory=FusionConfig)
    d_model: int = 128
    heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 2
    dropout: float = 0.1
    emb_dim: int = 64
    max_len: int = 1                 # gloss slots (1 = isolated sign)
    max_frames: int = 32
    diffusion_steps: int = 100
    infer_steps: int = 5
    ce_weight: float = 1.0           # auxiliary cross-entropy on cosine scores of the denoised x0
    temperature: float = 0.1
    p_full_noise: float = 0.5        # share of training steps at pure noise, where inference starts
    clamp: bool = True               # DDIM: pull each intermediate x0 onto the codebook (soft nearest)
    freeze_fusion: bool = False
    # Isolated signs (max_len 1): weight of a classifier head on the pooled encoder whose
    # distribution, as a codebook mix, conditions the denoiser; the diffusion then refines that
    # prior and the final scores combine both (0 = plain diffusion, as in runs written before).
    prior_weight: float = 1.0
    # With a prior: the denoiser reads the encoder's output without sending gradients back, so the
    # encoder learns exactly what the plain classifier learns and the diffusion only refines.
    detach_memory: bool = True
    # Temperature of the refined cosine distribution when it is combined with the prior: cosines lie
    # in [-1, 1], so at 1.0 the refinement re-ranks close calls and cannot override a confident prior
    # (at the training temperature, 0.1, it overrode it and lost top-1 on unseen signers).
    refine_temperature: float = 1.0

    @classmethod
    def from_dict(cls, d: dict) -> "GlossConfig":
        d = dict(d)
        d.setdefault("prior_weight", 0.0)   # runs saved before the prior existed have no prior head
        d.setdefault("detach_memory", False)
        fus = d.pop("fusion", {})
        fus = FusionConfig(**{**fus, "tracks": tuple(fus.get("tracks", FusionConfig().tracks))})
        return cls(fusion=fus, **d)


class SequenceEncoder(nn.Module):
    """Fusion latent per frame -> temporal Transformer -> ``[B, T, d_model]``."""

    def __init__(self, fusion: FusionConfig, d_model: int, heads: int, layers: int, dropout: float):
        super().__init__()
        from signverse.models.layers import Positions, encoder_stack
        self.fusion = FusionModel(fusion)
        self.proj = nn.Linear(fusion.latent, d_model)
        self.pos = Positions(d_model, "sinusoidal")
        self.temporal = encoder_stack(d_model, heads, layers, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tracks: Tracks, mask: torch.Tensor, latents: torch.Tensor | None = None) -> torch.Tensor:
        z = self.fusion(tracks) if latents is None else latents
        h = self.pos(self.proj(z))
        h = self.temporal(h, src_key_padding_mask=~mask)
        return self.norm(h)


def _cosine_alpha_bar(n: int) -> torch.Tensor:
    s = 0.008
    t = torch.linspace(0, n, n + 1) / n
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (f / f[0]).clamp(1e-5, 1.0)   # index 0 = clean


def make_codebook(vocab_size: int, dim: int, seed: int = 1234) -> torch.Tensor:
    """Fixed random gloss embeddings: unit directions scaled to per-dimension variance ~1."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(vocab_size, dim, generator=g)
    return F.normalize(e, dim=-1) * math.sqrt(dim)


class Pose2Gloss(nn.Module):
    """Diffusion over gloss embeddings conditioned on encoded pose frames."""

    def __init__(self, config: GlossConfig, vocab: list[str]):
        super().__init__()
        from signverse.models.layers import decoder_stack, sinusoidal
        self._sinusoidal = sinusoidal
        self.cfg = config
        self.vocab = list(vocab)
        if config.max_len > 1 and END not in self.vocab:
            self.vocab = [END] + self.vocab
        self.encoder = SequenceEncoder(config.fusion, config.d_model, config.heads,
                                       config.enc_layers, config.dropout)
        if config.freeze_fusion:
            self.encoder.fusion.requires_grad_(False)
        self.register_buffer("codebook", make_codebook(len(self.vocab), config.emb_dim), persistent=True)
        self.register_buffer("alpha_bar", _cosine_alpha_bar(config.diffusion_steps), persistent=False)
        self.in_proj = nn.Linear(config.emb_dim, config.d_model)
        self.slot = nn.Parameter(torch.randn(config.max_len, config.d_model) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(config.d_model, config.d_model), nn.GELU(),
                                      nn.Linear(config.d_model, config.d_model))
        self.denoiser = decoder_stack(config.d_model, config.heads, config.dec_layers, config.dropout)
        self.out = nn.Sequential(nn.LayerNorm(config.d_model), nn.Linear(config.d_model, config.emb_dim))
        self.use_prior = config.prior_weight > 0 and config.max_len == 1
        if self.use_prior:
            self.prior_head = nn.Sequential(nn.LayerNorm(config.d_model), nn.Dropout(config.dropout),
                                            nn.Linear(config.d_model, len(self.vocab)))
            self.prior_proj = nn.Linear(config.emb_dim, config.d_model)

    def prior_logits(self, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, V]`` logits of the classifier prior (masked mean of the encoded frames)."""
        from signverse.models.layers import masked_mean
        return self.prior_head(masked_mean(memory, mask))

    def _prior_embedding(self, logits: torch.Tensor) -> torch.Tensor:
        # detached: the prior head learns from its own cross-entropy, the denoiser learns to use it
        return self.prior_proj(logits.detach().softmax(-1) @ self.codebook)[:, None]

    @property
    def end_id(self) -> int | None:
        return self.vocab.index(END) if END in self.vocab else None

    def denoise(self, x_t: torch.Tensor, t: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted clean embeddings ``[B, L, E]`` from noisy ``x_t`` at integer steps ``t [B]``
        (``prior``: the classifier prior's ``[B, 1, d_model]`` embedding, when the model has one)."""
        temb = self.time_mlp(self._sinusoidal(t.float(), self.cfg.d_model))
        h = self.in_proj(x_t) + self.slot + temb[:, None]
        if prior is not None:
            h = h + prior
        h = self.denoiser(h, memory, memory_key_padding_mask=~mask)
        return self.out(h)

    def targets(self, glosses: list[list[int]]) -> torch.Tensor:
        """``[B, L]`` token ids, ``<end>``-filled after each sequence (truncated to ``max_len``)."""
        L = self.cfg.max_len
        fill = self.end_id if self.end_id is not None else 0
        out = torch.full((len(glosses), L), fill, dtype=torch.long)
        for i, g in enumerate(glosses):
            g = list(g)[:L]
            out[i, :len(g)] = torch.tensor(g, dtype=torch.long)
        return out

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """DDPM loss (x0 MSE) + cross-entropy of the denoised x0's cosine scores."""
        memory = self.encoder(batch["tracks"], batch["mask"], batch.get("latents"))
        y = batch["targets"]
        x0 = self.codebook[y]
        B = y.shape[0]
        t = torch.randint(1, self.cfg.diffusion_steps + 1, (B,), device=y.device)
        # Inference starts from pure noise, where the prediction rests on the pose alone; low-noise
        # steps are easy (copy x_t), so over-sample the hard end.
        full = torch.rand(B, device=y.device) < self.cfg.p_full_noise
        t = torch.where(full, torch.full_like(t, self.cfg.diffusion_steps), t)
        ab = self.alpha_bar[t].view(B, 1, 1)
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
        prior_logits = self.prior_logits(memory, batch["mask"]) if self.use_prior else None
        prior = self._prior_embedding(prior_logits) if prior_logits is not None else None
        cond = memory.detach() if (self.use_prior and self.cfg.detach_memory) else memory
        x0_hat = self.denoise(x_t, t, cond, batch["mask"], prior)
        mse = F.mse_loss(x0_hat, x0)
        logits = self.cosine(x0_hat) / self.cfg.temperature
        ce = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        total = mse + self.cfg.ce_weight * ce
        parts = {"mse": float(mse.detach()), "ce": float(ce.detach())}
        if prior_logits is not None:
            prior_ce = F.cross_entropy(prior_logits, y[:, 0])
            total = total + self.cfg.prior_weight * prior_ce
            parts["prior_ce"] = float(prior_ce.detach())
        return total, {"loss": float(total.detach()), **parts}

    def cosine(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) @ F.normalize(self.codebook, dim=-1).T

    @torch.no_grad()
    def trajectory(self, tracks: Tracks, mask: torch.Tensor, steps: int | None = None, seed: int = 0,
                   latents: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The denoiser's clean estimates ``[B, L, E]`` at each of ``steps`` deterministic DDIM steps."""
        return self._trajectory(tracks, mask, steps, seed, latents)[0]

    def _trajectory(self, tracks, mask, steps, seed, latents):
        """(clean estimates per step, prior logits or None)."""
        steps = steps or self.cfg.infer_steps
        memory = self.encoder(tracks, mask, latents)
        prior_logits = self.prior_logits(memory, mask) if self.use_prior else None
        prior = self._prior_embedding(prior_logits) if prior_logits is not None else None
        B = memory.shape[0]
        g = torch.Generator(device="cpu").manual_seed(seed)
        x = torch.randn(B, self.cfg.max_len, self.cfg.emb_dim, generator=g).to(memory.device)
        times = torch.linspace(self.cfg.diffusion_steps, 0, steps + 1).round().long().tolist()
        out = []
        for t, t_next in zip(times[:-1], times[1:]):
            tt = torch.full((B,), t, dtype=torch.long, device=memory.device)
            x0 = self.denoise(x, tt, memory, mask, prior)
            out.append(x0)
            if self.cfg.clamp and t_next > 0:
                # Intermediate estimates are blends of glosses the denoiser never saw in training;
                # replacing them by the score-weighted codebook mix keeps x_t in distribution.
                x0 = (self.cosine(x0) / self.cfg.temperature).softmax(-1) @ self.codebook
            ab, ab_next = self.alpha_bar[t], self.alpha_bar[t_next]
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt().clamp(min=1e-4)
            x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        return out, prior_logits

    @torch.no_grad()
    def sample(self, tracks: Tracks, mask: torch.Tensor, steps: int | None = None, seed: int = 0,
               latents: torch.Tensor | None = None) -> torch.Tensor:
        """Denoised embeddings ``[B, L, E]`` after ``steps`` deterministic DDIM steps."""
        return self.trajectory(tracks, mask, steps, seed, latents)[-1]

    @torch.no_grad()
    def scores(self, tracks: Tracks, mask: torch.Tensor, steps: int | None = None, seed: int = 0,
               latents: torch.Tensor | None = None) -> torch.Tensor:
        """Cosine similarity ``[B, L, V]`` of each slot to each gloss embedding, averaged over the
        DDIM trajectory's clean estimates (the first rests on the pose alone, later ones refine).

        With a classifier prior the scores are probabilities instead: the product of the prior's
        and the refined cosine distribution (``softmax(cos / temperature)``), renormalised."""
        traj, prior_logits = self._trajectory(tracks, mask, steps, seed, latents)
        cos = torch.stack([self.cosine(x0) for x0 in traj]).mean(0)
        if prior_logits is None:
            return cos
        joint = (cos / self.cfg.refine_temperature).log_softmax(-1) + prior_logits.log_softmax(-1)[:, None]
        return joint.softmax(-1)

    def decode(self, scores: torch.Tensor) -> list[list[str]]:
        """Best gloss per slot, cut at the first ``<end>``."""
        out = []
        for row in scores.argmax(-1).tolist():
            seq = []
            for i in row:
                if i == self.end_id:
                    break
                seq.append(self.vocab[i])
            out.append(seq)
        return out

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        tracks = self.encoder.fusion.example_batch(batch_size * 4, device)
        tracks = {k: (p.view(batch_size, 4, *p.shape[1:]), v.view(batch_size, 4, *v.shape[1:]))
                  for k, (p, v) in tracks.items()}
        return {"tracks": tracks, "mask": torch.ones(batch_size, 4, dtype=torch.bool, device=device),
                "targets": torch.randint(0, len(self.vocab), (batch_size, self.cfg.max_len), device=device)}


class PoseClassifier(nn.Module):
    """The same encoder with a masked-mean-pool + linear head (cross-entropy), for comparison."""

    def __init__(self, config: GlossConfig, vocab: list[str]):
        super().__init__()
        self.cfg = config
        self.vocab = list(vocab)
        self.encoder = SequenceEncoder(config.fusion, config.d_model, config.heads,
                                       config.enc_layers, config.dropout)
        if config.freeze_fusion:
            self.encoder.fusion.requires_grad_(False)
        self.head = nn.Sequential(nn.LayerNorm(config.d_model), nn.Dropout(config.dropout),
                                  nn.Linear(config.d_model, len(self.vocab)))

    def logits(self, tracks: Tracks, mask: torch.Tensor, latents: torch.Tensor | None = None) -> torch.Tensor:
        from signverse.models.layers import masked_mean
        return self.head(masked_mean(self.encoder(tracks, mask, latents), mask))

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        ce = F.cross_entropy(self.logits(batch["tracks"], batch["mask"], batch.get("latents")),
                             batch["targets"][:, 0])
        return ce, {"loss": float(ce.detach())}

    @torch.no_grad()
    def scores(self, tracks: Tracks, mask: torch.Tensor, **_) -> torch.Tensor:
        return self.logits(tracks, mask).softmax(-1)[:, None]

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        return Pose2Gloss.example_batch(self, batch_size, device)   # same batch shape


def train_gloss(clips: list[ClipTracks], glosses: list[list[str]], config: GlossConfig | None = None, *,
                vocab: list[str] | None = None, fusion: FusionModel | None = None,
                classifier: bool = False, epochs: int = 20, batch_size: int = 32, lr: float = 1e-3,
                seed: int = 0, augment_clips: bool = True, track_dropout: float = 0.5,
                max_seconds: float | None = None) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train Pose2Gloss (or, with ``classifier=True``, the classifier peer) on normalised clips.

    ``glosses[i]`` is the gloss sequence of clip ``i`` (one gloss for isolated signs); ``fusion``
    initialises the conditioning encoder's fusion model (e.g. a self-supervised one). With several
    tracks per clip, ``track_dropout`` is the chance a batch keeps only a random non-empty subset of
    them, so the model recognises from any one track (e.g. dwpose from Video2Pose) at test time.
    """
    config = config or GlossConfig()
    if fusion is not None:
        config = dataclasses.replace(config, fusion=fusion.cfg)
    vocab = vocab or sorted({g for seq in glosses for g in seq})
    torch.manual_seed(seed)
    model = (PoseClassifier if classifier else Pose2Gloss)(config, vocab)
    if fusion is not None:
        model.encoder.fusion.load_state_dict(fusion.state_dict())
    index = {g: i for i, g in enumerate(model.vocab)}
    unknown = {g for seq in glosses for g in seq} - set(index)
    if unknown:
        raise ValueError(f"glosses not in the vocabulary: {sorted(unknown)[:5]}")
    ids = [[index[g] for g in seq] for seq in glosses]
    max_len = config.max_len
    fill = index.get(END, 0)
    targets = torch.tensor([(s[:max_len] + [fill] * max_len)[:max_len] for s in ids], dtype=torch.long)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    n_steps = max(1, epochs * math.ceil(len(clips) / batch_size))
    sched = one_cycle(opt, lr, n_steps)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    history, t0, step = [], time.time(), 0
    model.train()
    bar = Progress(n_steps, f"signx {type(model).__name__}")
    for epoch in range(epochs):
        order = rng.permutation(len(clips))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            tracks, mask = collate([clips[i] for i in idx], config.fusion.tracks, config.max_frames)
            if augment_clips:
                tracks = augment(tracks, generator=gen)
            if len(tracks) > 1 and rng.random() < track_dropout:
                names = list(tracks)
                keep = rng.choice(names, size=int(rng.integers(1, len(names))), replace=False)
                tracks = {t: tracks[t] for t in keep}
            loss, parts = model.loss({"tracks": tracks, "mask": mask, "targets": targets[idx]})
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if step < n_steps:
                sched.step()
            step += 1
            history.append(parts | {"epoch": epoch})
            bar.update(1, epoch=f"{epoch + 1}/{epochs}", loss=round(float(loss.detach()), 4))
        log.info("%s epoch %d/%d loss %.4f (%.1fs)", type(model).__name__, epoch + 1, epochs,
                 np.mean([h["loss"] for h in history if h["epoch"] == epoch]), time.time() - t0)
        if max_seconds and time.time() - t0 > max_seconds:
            log.warning("stopping after %d epochs: time budget %.0fs reached", epoch + 1, max_seconds)
            break
    bar.close()
    model.eval()
    return model, history


@torch.no_grad()
def predict_scores(model: nn.Module, clips: list[ClipTracks], batch_size: int = 64, steps: int | None = None,
                   seed: int = 0) -> np.ndarray:
    """Scores ``[N, L, V]`` for clips (cosine for Pose2Gloss, softmax for the classifier)."""
    model.eval()
    out = []
    for start in range(0, len(clips), batch_size):
        tracks, mask = collate(clips[start:start + batch_size], model.cfg.fusion.tracks, model.cfg.max_frames)
        kw = {"steps": steps, "seed": seed} if isinstance(model, Pose2Gloss) else {}
        out.append(model.scores(tracks, mask, **kw).numpy())
    return np.concatenate(out)

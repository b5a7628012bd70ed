"""SignDW pose encoder: a Transformer over per-frame features with classification and text heads.

Batches are dicts of tensors: ``x [B, T, F]`` frame features, ``mask [B, T]`` (True = real frame),
plus ``y [B]`` class ids (islr / langid) or ``tokens [B, L]`` (``<bos> ... <eos>``, 0-padded) for
pose2text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from signverse.models.layers import Positions, causal_mask, decoder_stack, encoder_stack, masked_mean
from signverse.models.registry import register_model


@dataclass
class PoseEncoderConfig:
    """Sizes and regularisation of the pose encoder (and its heads)."""

    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 3
    ff_mult: int = 2
    dropout: float = 0.2
    input_dropout: float = 0.1       # dropout on the projected frame features
    frame_dropout: float = 0.1       # training only: fraction of frames hidden from attention
    positions: str = "sinusoidal"    # or "learned"
    max_len: int = 512
    label_smoothing: float = 0.1
    pooling: str = "meanmax"         # "mean" or "meanmax" (mean and max over valid frames)
    # Depthwise-conv blocks (the Kaggle ISLR winners' design): with conv_kernel > 0 every layer is
    # a temporal depthwise-conv block followed by a Transformer layer; 0 = Transformer layers only.
    conv_kernel: int = 0
    # Dropout before the classification head that switches on only after this fraction of the
    # epochs ("late dropout": early epochs fit freely, later ones are regularised).
    late_dropout: float = 0.0
    late_dropout_start: float = 0.5
    # Classifiers only: an ensemble of this many independently initialised encoders + heads,
    # trained side by side on the same batches; predictions average their probabilities.
    members: int = 1
    # pose2text decoder
    dec_layers: int = 2
    max_text_len: int = 64


class ConvBlock(nn.Module):
    """Pre-norm residual block: expand, depthwise temporal conv (``kernel`` frames), gate, project.

    Padded frames are zeroed before the convolution so they never leak into real ones.
    """

    def __init__(self, dim: int, kernel: int, dropout: float, expand: int = 2):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, 2 * expand * dim)
        self.conv = nn.Conv1d(expand * dim, expand * dim, kernel, padding=kernel // 2, groups=expand * dim)
        self.conv_norm = nn.LayerNorm(expand * dim)
        self.project = nn.Linear(expand * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a, gate = self.expand(self.norm(h)).chunk(2, -1)
        a = (a * torch.sigmoid(gate)) * mask.unsqueeze(-1)
        a = self.conv(a.transpose(1, 2)).transpose(1, 2)
        a = F.silu(self.conv_norm(a))
        return h + self.drop(self.project(a)) * mask.unsqueeze(-1)


class PoseEncoder(nn.Module):
    """Frame features ``[B, T, F]`` -> contextual states ``[B, T, D]``.

    >>> enc = PoseEncoder(10, PoseEncoderConfig(d_model=16, n_layers=1))
    >>> enc(torch.zeros(2, 5, 10), torch.ones(2, 5, dtype=torch.bool)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, n_features: int, cfg: PoseEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.proj = nn.Sequential(nn.LayerNorm(n_features), nn.Linear(n_features, cfg.d_model),
                                  nn.GELU(), nn.Dropout(cfg.input_dropout),
                                  nn.Linear(cfg.d_model, cfg.d_model))
        self.pos = Positions(cfg.d_model, cfg.positions, cfg.max_len)
        if cfg.conv_kernel > 0:
            self.convs = nn.ModuleList(ConvBlock(cfg.d_model, cfg.conv_kernel, cfg.dropout)
                                       for _ in range(cfg.n_layers))
            self.layers = nn.ModuleList(encoder_stack(cfg.d_model, cfg.n_heads, 1, cfg.dropout, cfg.ff_mult)
                                        for _ in range(cfg.n_layers))
        else:
            self.stack = encoder_stack(cfg.d_model, cfg.n_heads, cfg.n_layers, cfg.dropout, cfg.ff_mult)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.training and self.cfg.frame_dropout > 0:
            # Hide random frames (never all of them): robustness to dropped detections and speed.
            keep = torch.rand(mask.shape, device=mask.device) >= self.cfg.frame_dropout
            keep = keep | ~(mask & keep).any(1, keepdim=True)
            mask = mask & keep
        h = self.pos(self.proj(torch.nan_to_num(x)))
        if self.cfg.conv_kernel > 0:
            for conv, layer in zip(self.convs, self.layers):
                h = layer(conv(h, mask), src_key_padding_mask=~mask)
        else:
            h = self.stack(h, src_key_padding_mask=~mask)
        return self.norm(h) * mask.unsqueeze(-1)

    def pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mean = masked_mean(h, mask)
        if self.cfg.pooling == "mean":
            return mean
        mx = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        return torch.cat([mean, torch.nan_to_num(mx, neginf=0.0)], -1)

    @property
    def pooled_dim(self) -> int:
        return self.cfg.d_model * (1 if self.cfg.pooling == "mean" else 2)


class PoseClassifier(nn.Module):
    """Pose encoder + pooled classification head (islr: sign classes; langid: sign languages)."""

    def __init__(self, cfg: PoseEncoderConfig, n_features: int, n_classes: int):
        super().__init__()
        self.cfg, self.n_features, self.n_classes = cfg, n_features, n_classes
        self.encoder = PoseEncoder(n_features, cfg)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(self.encoder.pooled_dim, n_classes))
        self.late_drop = nn.Dropout(0.0)

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """Trainer hook: late dropout switches on after ``late_dropout_start`` of the epochs."""
        on = self.cfg.late_dropout > 0 and epoch >= self.cfg.late_dropout_start * epochs
        self.late_drop.p = self.cfg.late_dropout if on else 0.0

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Class logits ``[B, n_classes]``."""
        h = self.encoder(x, mask)
        return self.head(self.late_drop(self.encoder.pool(h, mask)))

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        logits = self(batch["x"], batch["mask"])
        loss = F.cross_entropy(logits, batch["y"], weight=batch.get("class_weight"),
                               label_smoothing=self.cfg.label_smoothing)
        acc = (logits.argmax(-1) == batch["y"]).float().mean()
        return loss, {"loss": float(loss.detach()), "acc": float(acc)}

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        T = 6
        mask = torch.ones(batch_size, T, dtype=torch.bool, device=device)
        mask[0, -2:] = False
        return {"x": torch.randn(batch_size, T, self.n_features, device=device), "mask": mask,
                "y": torch.randint(0, self.n_classes, (batch_size,), device=device)}


class PoseClassifierEnsemble(nn.Module):
    """``cfg.members`` PoseClassifiers; logits are the log of their mean probabilities."""

    def __init__(self, cfg: PoseEncoderConfig, n_features: int, n_classes: int):
        super().__init__()
        self.cfg, self.n_features, self.n_classes = cfg, n_features, n_classes
        self.members = nn.ModuleList(PoseClassifier(cfg, n_features, n_classes) for _ in range(cfg.members))

    def on_epoch(self, epoch: int, epochs: int) -> None:
        for m in self.members:
            m.on_epoch(epoch, epochs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logp = torch.stack([m(x, mask).log_softmax(-1) for m in self.members])
        return torch.logsumexp(logp, 0) - math.log(len(self.members))

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        # Each member learns on its own (sum of member losses): an ensemble of independent
        # models, not one wide model -- their disagreement is what averaging removes.
        losses, accs = [], []
        for m in self.members:
            loss, logs = m.loss(batch)
            losses.append(loss)
            accs.append(logs["acc"])
        loss = torch.stack(losses).mean()
        return loss, {"loss": float(loss.detach()), "acc": sum(accs) / len(accs)}

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        return self.members[0].example_batch(batch_size, device)


class Pose2Text(nn.Module):
    """Pose encoder + causal Transformer text decoder; greedy and beam-search decoding."""

    def __init__(self, cfg: PoseEncoderConfig, n_features: int, vocab_size: int,
                 pad_id: int = 0, bos_id: int = 1, eos_id: int = 2):
        super().__init__()
        self.cfg, self.n_features, self.vocab_size = cfg, n_features, vocab_size
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.encoder = PoseEncoder(n_features, cfg)
        self.embed = nn.Embedding(vocab_size, cfg.d_model, padding_idx=pad_id)
        self.pos = Positions(cfg.d_model, "sinusoidal", cfg.max_text_len + 2)
        self.decoder = decoder_stack(cfg.d_model, cfg.n_heads, cfg.dec_layers, cfg.dropout, cfg.ff_mult)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, vocab_size)

    def _decode(self, tokens, memory, mem_mask):
        h = self.pos(self.embed(tokens) * (self.cfg.d_model ** 0.5))
        h = self.decoder(h, memory, tgt_mask=causal_mask(tokens.shape[1], tokens.device),
                         tgt_key_padding_mask=tokens == self.pad_id,
                         memory_key_padding_mask=~mem_mask, tgt_is_causal=True)
        return self.out(self.norm(h))

    def forward(self, x, mask, tokens):
        """Next-token logits ``[B, L, V]`` for teacher-forced ``tokens``."""
        return self._decode(tokens, self.encoder(x, mask), mask)

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        tokens = batch["tokens"]
        logits = self(batch["x"], batch["mask"], tokens[:, :-1])
        target = tokens[:, 1:]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                               ignore_index=self.pad_id, label_smoothing=self.cfg.label_smoothing)
        return loss, {"loss": float(loss.detach())}

    @torch.no_grad()
    def generate(self, x, mask, max_len: int | None = None, beam: int = 1) -> list[list[int]]:
        """Token ids (without bos/eos) per sample; ``beam > 1`` runs beam search."""
        max_len = max_len or self.cfg.max_text_len
        memory = self.encoder(x, mask)
        if beam <= 1:
            return self._greedy(memory, mask, max_len)
        return [self._beam(memory[i:i + 1], mask[i:i + 1], max_len, beam)
                for i in range(x.shape[0])]

    def _greedy(self, memory, mask, max_len):
        B = memory.shape[0]
        tokens = torch.full((B, 1), self.bos_id, dtype=torch.long, device=memory.device)
        done = torch.zeros(B, dtype=torch.bool, device=memory.device)
        for _ in range(max_len):
            nxt = self._decode(tokens, memory, mask)[:, -1].argmax(-1)
            nxt = nxt.masked_fill(done, self.pad_id)
            tokens = torch.cat([tokens, nxt[:, None]], 1)
            done |= nxt == self.eos_id
            if done.all():
                break
        return [self._strip(row) for row in tokens[:, 1:].tolist()]

    def _beam(self, memory, mask, max_len, beam):
        # Each hypothesis: (score, token list, finished); length-normalised scores pick the winner.
        hyps = [(0.0, [self.bos_id], False)]
        for _ in range(max_len):
            live = [h for h in hyps if not h[2]]
            if not live:
                break
            toks = torch.tensor([h[1] for h in live], device=memory.device)
            logp = self._decode(toks, memory.expand(len(live), -1, -1),
                                mask.expand(len(live), -1))[:, -1].log_softmax(-1)
            cand = [h for h in hyps if h[2]]
            top = logp.topk(min(beam, logp.shape[-1]), -1)
            for i, h in enumerate(live):
                for lp, tok in zip(top.values[i].tolist(), top.indices[i].tolist()):
                    cand.append((h[0] + lp, h[1] + [tok], tok == self.eos_id))
            hyps = sorted(cand, key=lambda h: h[0] / len(h[1]), reverse=True)[:beam]
        best = max(hyps, key=lambda h: h[0] / len(h[1]))
        return self._strip(best[1][1:])

    def _strip(self, ids: list[int]) -> list[int]:
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(i)
        return out

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        T, L = 6, 5
        tokens = torch.randint(4, self.vocab_size, (batch_size, L), device=device)
        tokens[:, 0] = self.bos_id
        tokens[:, -1] = self.eos_id
        return {"x": torch.randn(batch_size, T, self.n_features, device=device),
                "mask": torch.ones(batch_size, T, dtype=torch.bool, device=device), "tokens": tokens}


@register_model("signdw-islr-base", PoseEncoderConfig, task="islr",
                description="SignDW pose encoder (d=128, 3 layers) + pooled head for isolated sign recognition")
@register_model("signdw-langid", PoseEncoderConfig, task="langid",
                description="SignDW pose encoder + pooled head for sign-language identification")
def build_classifier(cfg: PoseEncoderConfig, n_features: int = 64, n_classes: int = 2, **_) -> nn.Module:
    if cfg.members > 1:
        return PoseClassifierEnsemble(cfg, n_features, n_classes)
    return PoseClassifier(cfg, n_features, n_classes)


# The islr default is small: ~2k training clips, and it must train in minutes on 2 CPU cores
# (on a 15%-of-signers dev part it matched the d=128 / 3-layer encoder at half the cost).
# Depthwise-conv blocks (kernel 9) before each Transformer layer and late dropout on the pooled
# features raised unseen-signer top-1 0.755 -> 0.774 and per-class 0.550 -> 0.595 on a held-out
# third of the signers (benchmarks/islr.py docstring has the ablation).
register_model("signdw-islr", PoseEncoderConfig, task="islr",
               description="SignDW pose encoder (d=64, 2 x [depthwise conv + Transformer]) + pooled head "
                           "for isolated sign recognition",
               d_model=64, n_layers=2, conv_kernel=9, late_dropout=0.3)(build_classifier)


@register_model("signdw-pose2text", PoseEncoderConfig, task="pose2text",
                description="SignDW pose encoder + Transformer text decoder (greedy/beam)")
def build_pose2text(cfg: PoseEncoderConfig, n_features: int = 64, vocab_size: int = 8, **_) -> Pose2Text:
    return Pose2Text(cfg, n_features, vocab_size)

"""SignDW text -> pose: a text encoder, a length head and a pose decoder over DWPose frames.

Frame vector (as in the SignVerse-2M baseline): the 128 DWPose points x (x, y, conf) = 384 values,
point-major (``frame.reshape(128, 3)``). Coordinates are whatever the caller normalised them to
(signverse's text2pose task uses neck-centred, shoulder-width-scaled units); conf is in [0, 1].

Two decoders share the text encoder and the length head:

* ``signdw-text2pose`` (autoregressive, the released baseline): frame ``t`` is predicted from the
  frames before it plus a progress counter channel.
* ``signdw-text2pose-parallel`` (the first release's non-autoregressive variant): all frames at
  once from positional queries.

Repairs of the released baseline's defects:

* The counter means the same in training and inference: ``progress_t = t / L_hat`` where ``L_hat``
  is the length head's own (detached, rounded) prediction, in both. (The baseline fed ``t / T_true``
  while training but had no true length at inference.) Generation emits exactly ``L_hat`` frames.
* No silent linear resampling of long clips: targets longer than ``max_frames`` are truncated by the
  data pipeline, which counts and reports them (see ``signverse.train.recipes``); ``max_frames`` is a
  config field stored with the checkpoint.
* Evaluation is done on generated sequences with DTW-MJE, not on teacher-forced loss.

Batch: ``tokens [B, L]`` (0-padded text ids), ``pose [B, T, 384]``, ``pose_mask [B, T]``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from signverse.models.layers import (Positions, causal_mask, decoder_stack, encoder_stack,
                                     lengths_to_mask, masked_mean, sinusoidal)
from signverse.models.registry import register_model

N_POINTS = 128
FRAME_DIM = N_POINTS * 3


@dataclass
class Text2PoseConfig:
    """Sizes of the SignDW text -> pose models."""

    d_model: int = 128
    n_heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 3
    ff_mult: int = 2
    dropout: float = 0.1
    max_frames: int = 256        # longer targets are truncated (reported), never resampled
    max_text_len: int = 64
    input_noise: float = 0.05    # AR only: Gaussian noise on teacher-forced inputs (exposure bias)
    input_frame_dropout: float = 0.5   # AR only: share of teacher-forced input frames blanked
    conf_weight: float = 0.1
    length_weight: float = 1.0
    # signdw-text2pose-dtw only: soft-DTW temperature, and the weight of the motion-energy term
    # (mean joint speed of the output vs the clip's)
    sdtw_gamma: float = 0.01
    motion_weight: float = 1.0
    l1_weight: float = 0.0           # frame-aligned L1 next to soft-DTW (anchors the word's shape)
    field_decoder: bool = False      # dtw only: per-frame MLP over (text vector, Fourier(progress))
    fourier: int = 16                # Fourier features of the progress (half-periods over the clip)


class _Text2PoseBase(nn.Module):
    def __init__(self, cfg: Text2PoseConfig, vocab_size: int, frame_dim: int = FRAME_DIM):
        super().__init__()
        self.cfg, self.vocab_size, self.frame_dim = cfg, vocab_size, frame_dim
        self.embed = nn.Embedding(vocab_size, cfg.d_model, padding_idx=0)
        self.text_pos = Positions(cfg.d_model, "sinusoidal", cfg.max_text_len + 2)
        self.text_enc = encoder_stack(cfg.d_model, cfg.n_heads, cfg.enc_layers, cfg.dropout, cfg.ff_mult)
        self.text_norm = nn.LayerNorm(cfg.d_model)
        self.length_head = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_model), nn.GELU(),
                                         nn.Linear(cfg.d_model, 1))
        self.dec = decoder_stack(cfg.d_model, cfg.n_heads, cfg.dec_layers, cfg.dropout, cfg.ff_mult)
        self.dec_norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, frame_dim)

    # -- text side ------------------------------------------------------------------------
    def encode_text(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = tokens[:, :self.cfg.max_text_len]
        mask = tokens != 0
        mask[:, 0] = True   # an empty text still has one (padding) position to attend to
        h = self.text_pos(self.embed(tokens) * self.cfg.d_model ** 0.5)
        h = self.text_norm(self.text_enc(h, src_key_padding_mask=~mask))
        return h, mask

    def log_length(self, memory, mem_mask) -> torch.Tensor:
        return self.length_head(masked_mean(memory, mem_mask)).squeeze(-1)

    def predicted_length(self, log_len: torch.Tensor) -> torch.Tensor:
        """``L_hat``: rounded, in ``[1, max_frames]``; the counter divides by it in training too."""
        return log_len.detach().exp().round().clamp(1, self.cfg.max_frames).long()

    def encode_for_generation(self, tokens: torch.Tensor, max_frames: int | None,
                              lengths: torch.Tensor | None):
        """Encode the text and fix each output's length: the length head's prediction, unless
        ``lengths`` are given; never above ``max_frames``."""
        memory, mem_mask = self.encode_text(tokens)
        L_hat = self.predicted_length(self.log_length(memory, mem_mask))
        if lengths is not None:
            L_hat = lengths.to(L_hat).clamp(1, self.cfg.max_frames)
        if max_frames is not None:
            L_hat = L_hat.clamp(max=max_frames)
        return memory, mem_mask, L_hat

    def progress(self, T: int, L_hat: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` progress counter ``t / L_hat``."""
        t = torch.arange(T, device=L_hat.device, dtype=torch.float32)[None]
        return t / L_hat[:, None].float()

    # -- losses ---------------------------------------------------------------------------
    def frame_loss(self, pred, target, frame_mask) -> tuple[torch.Tensor, torch.Tensor]:
        B, T, _ = pred.shape
        p = pred.reshape(B, T, -1, 3)
        y = target.reshape(B, T, -1, 3)
        point_ok = (y[..., 2] > 0) & frame_mask[..., None]
        xy_err = (p[..., :2] - y[..., :2]).abs().sum(-1)
        xy = (xy_err * point_ok).sum() / point_ok.sum().clamp(min=1)
        conf = F.binary_cross_entropy_with_logits(p[..., 2], y[..., 2].clamp(0, 1), reduction="none")
        conf = (conf * frame_mask[..., None]).sum() / (frame_mask.sum() * p.shape[2]).clamp(min=1)
        return xy, conf

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        memory, mem_mask = self.encode_text(batch["tokens"])
        log_len = self.log_length(memory, mem_mask)
        pose, frame_mask = batch["pose"], batch["pose_mask"]
        true_len = frame_mask.sum(1).clamp(min=1).float()
        pred = self.teacher_forced(memory, mem_mask, pose, frame_mask, self.predicted_length(log_len))
        xy, conf = self.frame_loss(pred, pose, frame_mask)
        length = F.smooth_l1_loss(log_len, true_len.log())
        total = xy + self.cfg.conf_weight * conf + self.cfg.length_weight * length
        return total, {"loss": float(total.detach()), "xy_l1": float(xy.detach()), "conf": float(conf.detach()),
                       "log_len": float(length.detach())}

    @staticmethod
    def to_frames(raw: torch.Tensor) -> torch.Tensor:
        """Network output -> frames: conf logits become probabilities."""
        B, T, D = raw.shape
        r = raw.reshape(B, T, -1, 3)
        return torch.cat([r[..., :2], r[..., 2:].sigmoid()], -1).reshape(B, T, D)

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        T = 5
        tokens = torch.randint(4, self.vocab_size, (batch_size, 3), device=device)
        pose = torch.randn(batch_size, T, self.frame_dim, device=device)
        pose.view(batch_size, T, -1, 3)[..., 2] = 1.0
        mask = torch.ones(batch_size, T, dtype=torch.bool, device=device)
        mask[0, -1] = False
        return {"tokens": tokens, "pose": pose, "pose_mask": mask}


class SignDWText2Pose(_Text2PoseBase):
    """Autoregressive decoder: input at step t = previous frame (zeros at t=0) + counter t / L_hat.

    >>> m = SignDWText2Pose(Text2PoseConfig(d_model=16, enc_layers=1, dec_layers=1), vocab_size=10)
    >>> frames, lengths = m.generate(torch.tensor([[4, 5, 0]]), max_frames=4)
    >>> frames.shape[0], frames.shape[2], int(lengths[0]) <= 4
    (1, 384, True)
    """

    def __init__(self, cfg: Text2PoseConfig, vocab_size: int, frame_dim: int = FRAME_DIM):
        super().__init__(cfg, vocab_size, frame_dim)
        self.frame_in = nn.Linear(frame_dim + 1, cfg.d_model)
        self.frame_pos = Positions(cfg.d_model, "sinusoidal", cfg.max_frames + 1)

    def _step_inputs(self, prev_frames, progress):
        return self.frame_pos(self.frame_in(torch.cat([prev_frames, progress.unsqueeze(-1)], -1)))

    def _run(self, inputs, memory, mem_mask, pad_mask=None):
        T = inputs.shape[1]
        h = self.dec(inputs, memory, tgt_mask=causal_mask(T, inputs.device), tgt_is_causal=True,
                     tgt_key_padding_mask=pad_mask, memory_key_padding_mask=~mem_mask)
        return self.out(self.dec_norm(h))

    def teacher_forced(self, memory, mem_mask, pose, frame_mask, L_hat):
        B, T, D = pose.shape
        prev = torch.cat([pose.new_zeros(B, 1, D), pose[:, :-1]], 1)
        if self.training and self.cfg.input_noise > 0:
            prev = prev + self.cfg.input_noise * torch.randn_like(prev)
        if self.training and self.cfg.input_frame_dropout > 0:
            # Blank whole previous frames so the decoder cannot just copy its input: it has to use
            # the text and the counter (teacher-forced loss falls while free-running DTW-MJE rises
            # without this; see benchmarks/text2pose.py).
            keep = torch.rand(B, T, 1, device=prev.device) >= self.cfg.input_frame_dropout
            prev = prev * keep
        return self._run(self._step_inputs(prev, self.progress(T, L_hat)), memory, mem_mask)

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, max_frames: int | None = None,
                 lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``[B, T, 384]`` (conf as probabilities) and lengths ``[B]``.

        ``lengths`` forces the output length (e.g. to compare at the true length); by default the
        length head decides. Frames past a sample's length are zero.
        """
        memory, mem_mask, L_hat = self.encode_for_generation(tokens, max_frames, lengths)
        B, T = tokens.shape[0], int(L_hat.max())
        frames = memory.new_zeros(B, 0, self.frame_dim)
        prev = memory.new_zeros(B, 1, self.frame_dim)
        progress = self.progress(T, L_hat)
        for t in range(T):
            raw = self._run(self._step_inputs(prev, progress[:, :t + 1]), memory, mem_mask)[:, -1:]
            frame = self.to_frames(raw)
            frames = torch.cat([frames, frame], 1)
            prev = torch.cat([prev, frame], 1)
        frames = frames * lengths_to_mask(L_hat, T).unsqueeze(-1)
        return frames, L_hat


class SignDWText2PoseParallel(_Text2PoseBase):
    """Non-autoregressive decoder: queries = sinusoidal(t) + embedding of the counter t / L_hat."""

    def __init__(self, cfg: Text2PoseConfig, vocab_size: int, frame_dim: int = FRAME_DIM):
        super().__init__(cfg, vocab_size, frame_dim)
        self.query = nn.Sequential(nn.Linear(2 * cfg.d_model, cfg.d_model), nn.GELU(),
                                   nn.Linear(cfg.d_model, cfg.d_model))

    def _queries(self, T, L_hat):
        prog = self.progress(T, L_hat)
        t = torch.arange(T, device=L_hat.device).expand_as(prog)
        # progress scaled by 100 so the sinusoid resolves fractions of the clip
        return self.query(torch.cat([sinusoidal(t, self.cfg.d_model),
                                     sinusoidal(prog * 100.0, self.cfg.d_model)], -1))

    def _run(self, T, L_hat, memory, mem_mask):
        q = self._queries(T, L_hat)
        pad = ~lengths_to_mask(L_hat.clamp(max=T), T)
        pad[:, 0] = False
        h = self.dec(q, memory, tgt_key_padding_mask=None if self.training else pad,
                     memory_key_padding_mask=~mem_mask)
        return self.out(self.dec_norm(h))

    def teacher_forced(self, memory, mem_mask, pose, frame_mask, L_hat):
        return self._run(pose.shape[1], L_hat, memory, mem_mask)

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, max_frames: int | None = None,
                 lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as ``SignDWText2Pose.generate``, all frames in one pass."""
        memory, mem_mask, L_hat = self.encode_for_generation(tokens, max_frames, lengths)
        T = int(L_hat.max())
        frames = self.to_frames(self._run(T, L_hat, memory, mem_mask))
        return frames * lengths_to_mask(L_hat, T).unsqueeze(-1), L_hat


class SignDWText2PoseDTW(SignDWText2PoseParallel):
    """The parallel decoder trained by soft-DTW against each real clip instead of a frame-by-frame
    L1: clips of the same word differ in timing, and a frame-aligned loss is minimised by their
    time-blurred mean, a sequence that barely moves. Under soft-DTW every clip is compared after its
    best alignment, so the decoder can keep the sharp motion common to the clips. A motion term ties
    the output's mean joint speed to the clip's (alignment alone lets a sequence dwell or jump).

    In training the output has the clip's own length (the counter is ``t / T``), so the loss sees a
    sequence of the right duration from the first step; at inference the length head decides.
    """

    def __init__(self, cfg: Text2PoseConfig, vocab_size: int, frame_dim: int = FRAME_DIM):
        super().__init__(cfg, vocab_size, frame_dim)
        if cfg.field_decoder:
            width = 4 * cfg.d_model
            self.field = nn.Sequential(nn.Linear(cfg.d_model + 2 * cfg.fourier + 1, width), nn.GELU(),
                                       nn.Linear(width, width), nn.GELU(), nn.Linear(width, frame_dim))

    def _run(self, T, L_hat, memory, mem_mask):
        if not self.cfg.field_decoder:
            return super()._run(T, L_hat, memory, mem_mask)
        prog = self.progress(T, L_hat)                                          # [B, T]
        k = torch.arange(1, self.cfg.fourier + 1, device=prog.device, dtype=prog.dtype)
        ang = 3.14159265 * prog[..., None] * k                                  # half-periods over the clip
        text = masked_mean(memory, mem_mask)[:, None].expand(-1, T, -1)
        return self.field(torch.cat([text, ang.sin(), ang.cos(), prog[..., None]], -1))


    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        memory, mem_mask = self.encode_text(batch["tokens"])
        lengths = batch["pose_mask"].sum(1).clamp(min=1)
        raw = self._run(batch["pose"].shape[1], lengths, memory, mem_mask)
        return self.sequence_loss(raw, batch, self.log_length(memory, mem_mask))

    def sequence_loss(self, raw: torch.Tensor, batch: dict, log_len: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Soft-DTW + motion energy + presence (+ frame-aligned L1) of raw outputs ``[B, T, 384]``
        (conf as logits) generated at each clip's own length, and the length head's loss."""
        from signverse.models.signdw.soft_dtw import pose_cost, soft_dtw
        pose, frame_mask = batch["pose"], batch["pose_mask"]
        B, T, _ = pose.shape
        lengths = frame_mask.sum(1).clamp(min=1)
        raw = raw.reshape(B, T, -1, 3)
        y = pose.reshape(B, T, -1, 3)
        present = (y[..., 2] > 0) & frame_mask[..., None]
        cost = pose_cost(raw[..., :2], y[..., :2], present)
        align = (soft_dtw(cost, lengths, lengths, self.cfg.sdtw_gamma) / (2 * lengths)).mean()
        # speeds over the points the clip shows (the output's other points are not judged)
        motion = (_mean_speed(raw[..., :2], frame_mask, present)
                  - _mean_speed(y[..., :2], frame_mask, present)).abs().mean()
        conf = F.binary_cross_entropy_with_logits(raw[..., 2], y[..., 2].clamp(0, 1), reduction="none")
        conf = (conf * frame_mask[..., None]).sum() / (frame_mask.sum() * raw.shape[2]).clamp(min=1)
        length = F.smooth_l1_loss(log_len, lengths.float().log())
        total = (align + self.cfg.motion_weight * motion + self.cfg.conf_weight * conf
                 + self.cfg.length_weight * length)
        if self.cfg.l1_weight > 0:
            l1 = ((raw[..., :2] - y[..., :2]).abs().sum(-1) * present).sum() / present.sum().clamp(min=1)
            total = total + self.cfg.l1_weight * l1
        return total, {"loss": float(total.detach()), "sdtw": float(align.detach()),
                       "motion": float(motion.detach()), "conf": float(conf.detach()),
                       "log_len": float(length.detach())}


def _mean_speed(xy: torch.Tensor, frame_mask: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """``[B]`` mean per-point displacement between consecutive frames, over the points ``present``
    in both."""
    step = (xy[:, 1:] - xy[:, :-1]).pow(2).sum(-1).add(1e-8).sqrt()     # [B, T-1, K]
    ok = frame_mask[:, 1:] & frame_mask[:, :-1]
    w = (ok[..., None] & present[:, 1:] & present[:, :-1]).to(step.dtype)
    return (step * w).sum((1, 2)) / w.sum((1, 2)).clamp(min=1)


@register_model("signdw-text2pose", Text2PoseConfig, task="text2pose",
                description="SignDW text->pose, autoregressive decoder with progress counter + length head")
def build_text2pose(cfg: Text2PoseConfig, vocab_size: int = 8, frame_dim: int = FRAME_DIM,
                    **_) -> SignDWText2Pose:
    return SignDWText2Pose(cfg, vocab_size, frame_dim)


@register_model("signdw-text2pose-parallel", Text2PoseConfig, task="text2pose",
                description="SignDW text->pose, parallel decoding from positional queries + length head")
def build_text2pose_parallel(cfg: Text2PoseConfig, vocab_size: int = 8, frame_dim: int = FRAME_DIM,
                             **_) -> SignDWText2PoseParallel:
    return SignDWText2PoseParallel(cfg, vocab_size, frame_dim)


@dataclass
class Text2PoseDTWConfig(Text2PoseConfig):
    """Smaller than the other decoders: the soft-DTW loss costs more per step, and on 2 shared CPU
    cores a 128-wide, 3-layer decoder took ~1.3 s per batch of 32 against ~0.5 s for this size."""

    d_model: int = 64
    enc_layers: int = 1
    dec_layers: int = 2
    # Chosen on unseen ISLR-MP signers (fold 0 of 5, benchmarks/text2pose.py, 30 epochs): the
    # transformer decoder under soft-DTW stayed a slow blur (velocity ratio 0.13-0.17,
    # back-translation 0.41-0.72); the per-frame field decoder keeps the motion (0.67-0.73). With
    # it: no L1, motion 2: DTW-MJE 0.190 (mean sequence 0.187), back-translation 0.77; L1 0.25,
    # motion 4: 0.183, 0.79; L1 0.5, motion 8: 0.182, 0.97, velocity 0.67 (the smooth 16-term
    # Fourier basis cannot follow frame-to-frame detail); with 32 terms (these defaults): 0.183,
    # 0.87, 0.81. A full-weight presence loss matters: whether a hand is shown decides recognition.
    field_decoder: bool = True
    fourier: int = 32
    conf_weight: float = 1.0
    sdtw_gamma: float = 0.001
    l1_weight: float = 0.5
    motion_weight: float = 8.0


@register_model("signdw-text2pose-dtw", Text2PoseDTWConfig, task="text2pose",
                description="SignDW text->pose, parallel decoder trained by soft-DTW + motion energy "
                            "(sharp, moving output, not the time-blurred mean)")
def build_text2pose_dtw(cfg: Text2PoseDTWConfig, vocab_size: int = 8, frame_dim: int = FRAME_DIM,
                        **_) -> SignDWText2PoseDTW:
    return SignDWText2PoseDTW(cfg, vocab_size, frame_dim)


@dataclass
class Text2PoseTemplateConfig(Text2PoseDTWConfig):
    """The field decoder of ``signdw-text2pose-dtw`` adding motion to each word's median sequence."""

    template_input: bool = True      # the decoder also sees the template frame it refines
    motion_only: bool = True         # the residual's points average to zero over the sequence
    # 8 (signdw-text2pose-dtw's) left fold 0's velocity ratio at 0.73 after the 6 epochs a loaded
    # machine allowed; 16: 0.83 / 1.11 / 1.07 on folds 0 / 1 / 2 (benchmarks/text2pose.py)
    motion_weight: float = 16.0


class SignDWText2PoseTemplate(SignDWText2PoseDTW):
    """Word template + learned motion. The training data's median sequence of every training
    text (``signverse.models.signdw.text2pose_baselines.median_sequence``, set by the recipe before
    training and saved with the weights as buffers) is the base; the per-frame field decoder adds
    a residual to its points (zero-mean over the sequence: motion, not a new form) and to its
    presence logits, trained like ``signdw-text2pose-dtw``.

    Why: the plain field decoder has to rebuild each word's form from the text alone and, on signers
    it never saw, produced moving but often unrecognisable signing (back-translation 0.54 on fold 1
    of ISLR-MP, while the mean sequence keeps 0.95); anchored on the template it keeps the word's
    form and learns the motion. A text with no template (not seen in training) is refined from
    the mean of all templates. The last layer starts at zero: training starts from the template.

    >>> m = SignDWText2PoseTemplate(Text2PoseTemplateConfig(d_model=16), vocab_size=10, n_templates=1,
    ...                             template_frames=4, template_text_len=3)
    >>> m.set_templates([[4, 5]], [torch.ones(6, FRAME_DIM)])
    >>> frames, lengths = m.generate(torch.tensor([[4, 5, 0]]), lengths=torch.tensor([5]))
    >>> frames.shape, round(float(frames[0, 0, 0]), 3)
    (torch.Size([1, 5, 384]), 1.0)
    """

    def __init__(self, cfg: Text2PoseTemplateConfig, vocab_size: int, frame_dim: int = FRAME_DIM,
                 n_templates: int = 0, template_frames: int = 1, template_text_len: int = 1):
        super().__init__(dataclasses.replace(cfg, field_decoder=False), vocab_size, frame_dim)
        self.cfg = cfg
        n, k, lt = max(int(n_templates), 1), max(int(template_frames), 1), max(int(template_text_len), 1)
        self.register_buffer("tmpl_tokens", torch.zeros(n, lt, dtype=torch.long))
        self.register_buffer("tmpl_frames", torch.zeros(n, k, frame_dim))
        self.register_buffer("tmpl_used", torch.zeros(n, dtype=torch.bool))
        width = 4 * cfg.d_model
        n_in = cfg.d_model + 2 * cfg.fourier + 1 + (frame_dim if cfg.template_input else 0)
        self.field = nn.Sequential(nn.Linear(n_in, width), nn.GELU(), nn.Linear(width, width), nn.GELU(),
                                   nn.Linear(width, frame_dim))
        nn.init.zeros_(self.field[-1].weight)
        nn.init.zeros_(self.field[-1].bias)

    @torch.no_grad()
    def set_templates(self, token_lists, frames) -> None:
        """Template ``i`` = ``frames[i]`` (``[T_i, frame_dim]``, conf in [0, 1]) for the text whose
        token ids are ``token_lists[i]``; resampled to the buffer's frame count."""
        n, k, lt = self.tmpl_frames.shape[0], self.tmpl_frames.shape[1], self.tmpl_tokens.shape[1]
        if len(token_lists) > n:
            raise ValueError(f"{len(token_lists)} templates for a model sized for {n}")
        self.tmpl_tokens.zero_()
        self.tmpl_used.zero_()
        for i, (toks, f) in enumerate(zip(token_lists, frames)):
            toks = list(toks)[:lt]
            self.tmpl_tokens[i, :len(toks)] = torch.as_tensor(toks, dtype=torch.long)
            f = torch.as_tensor(f, dtype=torch.float32)
            self.tmpl_frames[i] = _interpolate(f[None], torch.linspace(0, len(f) - 1, k)[None])[0]
            self.tmpl_used[i] = True

    def template_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B]`` index of the template whose text is exactly ``tokens`` (-1: none)."""
        lt = self.tmpl_tokens.shape[1]
        tok = F.pad(tokens, (0, max(0, lt - tokens.shape[1])))
        fits = (tok[:, lt:] == 0).all(1) if tok.shape[1] > lt else torch.ones_like(tok[:, 0], dtype=torch.bool)
        same = (tok[:, None, :lt] == self.tmpl_tokens[None]).all(-1) & self.tmpl_used[None] & fits[:, None]
        return torch.where(same.any(1), same.float().argmax(1), torch.full_like(tok[:, 0], -1))

    def base(self, tokens: torch.Tensor, T: int, L: torch.Tensor) -> torch.Tensor:
        """``[B, T, frame_dim]`` each text's template stretched over its length ``L`` (frames past
        ``L`` repeat the last one)."""
        idx = self.template_index(tokens)
        used = self.tmpl_used.float()
        generic = (self.tmpl_frames * used[:, None, None]).sum(0) / used.sum().clamp(min=1)
        tmpl = torch.where((idx >= 0)[:, None, None], self.tmpl_frames[idx.clamp(min=0)], generic[None])
        k = tmpl.shape[1]
        t = torch.arange(T, device=L.device, dtype=torch.float32)[None]
        pos = (t / (L[:, None].float() - 1).clamp(min=1)).clamp(max=1) * (k - 1)
        return _interpolate(tmpl, pos)

    def _refined(self, tokens, T, L, memory, mem_mask) -> torch.Tensor:
        base = self.base(tokens, T, L)
        prog = self.progress(T, L)
        kk = torch.arange(1, self.cfg.fourier + 1, device=prog.device, dtype=prog.dtype)
        ang = 3.14159265 * prog[..., None] * kk
        text = masked_mean(memory, mem_mask)[:, None].expand(-1, T, -1)
        parts = [text, ang.sin(), ang.cos(), prog[..., None]] + ([base] if self.cfg.template_input else [])
        residual = self.field(torch.cat(parts, -1))
        B = base.shape[0]
        if self.cfg.motion_only:
            # The template fixes where each point is on average (the word's form); the decoder adds
            # motion around it. A free residual also learnt per-word offsets of the training
            # signers, which cost DTW-MJE on unseen ones (fold 1: 0.144 with, 0.139 without).
            inside = lengths_to_mask(L.clamp(max=T), T)[..., None, None].to(residual.dtype)
            r = residual.reshape(B, T, -1, 3)
            mean_xy = (r[..., :2] * inside).sum(1, keepdim=True) / inside.sum(1, keepdim=True).clamp(min=1)
            residual = torch.cat([r[..., :2] - mean_xy, r[..., 2:]], -1).reshape(B, T, -1)
        b = base.reshape(B, T, -1, 3)
        base_raw = torch.cat([b[..., :2], torch.logit(b[..., 2:].clamp(0.02, 0.98))], -1).reshape(B, T, -1)
        return base_raw + residual

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        memory, mem_mask = self.encode_text(batch["tokens"])
        lengths = batch["pose_mask"].sum(1).clamp(min=1)
        raw = self._refined(batch["tokens"], batch["pose"].shape[1], lengths, memory, mem_mask)
        return self.sequence_loss(raw, batch, self.log_length(memory, mem_mask))

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, max_frames: int | None = None,
                 lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as ``SignDWText2Pose.generate``."""
        memory, mem_mask, L_hat = self.encode_for_generation(tokens, max_frames, lengths)
        T = int(L_hat.max())
        frames = self.to_frames(self._refined(tokens, T, L_hat, memory, mem_mask))
        return frames * lengths_to_mask(L_hat, T).unsqueeze(-1), L_hat


def _interpolate(frames: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``frames [B, K, D]`` read at fractional frame positions ``pos [B, T]`` (linear)."""
    k = frames.shape[1]
    lo = pos.floor().long().clamp(0, k - 1)
    hi = (lo + 1).clamp(max=k - 1)
    w = (pos - lo.float()).unsqueeze(-1)
    take = lambda i: torch.gather(frames, 1, i[..., None].expand(-1, -1, frames.shape[2]))
    return take(lo) * (1 - w) + take(hi) * w


@register_model("signdw-text2pose-template", Text2PoseTemplateConfig, task="text2pose",
                description="SignDW text->pose: each training word's median sequence set in motion by the "
                            "soft-DTW field decoder (the default: recognisable and moving)")
def build_text2pose_template(cfg: Text2PoseTemplateConfig, vocab_size: int = 8, frame_dim: int = FRAME_DIM,
                             n_templates: int = 0, template_frames: int = 1, template_text_len: int = 1,
                             **_) -> SignDWText2PoseTemplate:
    return SignDWText2PoseTemplate(cfg, vocab_size, frame_dim, n_templates, template_frames, template_text_len)

"""Video2Pose: a small ViT (per-frame spatial Transformer + temporal Transformer) that regresses
dwpose keypoints (image-normalised), their visibility and the fused latent of each frame.

It is trained by distillation: a pose estimator (MediaPipe Holistic) runs once on real videos,
its track (and the dwpose track converted from it) goes through a fusion model to give the latent
targets, and everything is cached on disk (frames resized to ``image_size``), so retraining does
not re-run the estimator.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from signverse.core.errors import InputError, SignverseError, require
from signverse.core.pose import PoseSeq
from signverse.layouts import convert, get_layout
from signverse.models.schedule import one_cycle
from signverse.ops import flip
from signverse.core.progress import Progress

log = logging.getLogger(__name__)

KPT_LAYOUT = "dwpose"


@dataclass
class Video2PoseConfig:
    """ViT sizes; ``latent`` must match the fusion model whose latents are distilled."""

    image_size: int = 96
    patch: int = 16
    d_model: int = 128
    heads: int = 4
    spatial_layers: int = 3
    temporal_layers: int = 1
    dropout: float = 0.0
    latent: int = 128
    w_kpt: float = 1.0
    w_vis: float = 0.1
    w_latent: float = 0.5


class Video2Pose(nn.Module):
    """Frames ``[B, T, 3, S, S]`` (float, 0..1) -> dwpose keypoints, visibility logits, latents."""

    def __init__(self, config: Video2PoseConfig | None = None):
        super().__init__()
        from signverse.models.layers import Positions, encoder_stack
        self.cfg = c = config or Video2PoseConfig()
        if c.image_size % c.patch:
            raise SignverseError(f"image_size {c.image_size} is not a multiple of patch {c.patch}")
        self.n_kpt = get_layout(KPT_LAYOUT).num_points
        n_patches = (c.image_size // c.patch) ** 2
        self.patch_embed = nn.Conv2d(3, c.d_model, c.patch, stride=c.patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.pos = nn.Parameter(torch.randn(1, n_patches + 1, c.d_model) * 0.02)
        self.spatial = encoder_stack(c.d_model, c.heads, c.spatial_layers, c.dropout)
        self.tpos = Positions(c.d_model, "sinusoidal")
        self.temporal = encoder_stack(c.d_model, c.heads, c.temporal_layers, c.dropout)
        self.norm = nn.LayerNorm(c.d_model)
        self.kpt_head = nn.Linear(c.d_model, 2 * self.n_kpt)
        self.vis_head = nn.Linear(c.d_model, self.n_kpt)
        self.latent_head = nn.Linear(c.d_model, c.latent)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        B, T = frames.shape[:2]
        x = (frames.flatten(0, 1) - self.mean) / self.std
        x = self.patch_embed(x).flatten(2).transpose(1, 2)                  # [BT, N, d]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        x = self.spatial(x)[:, 0].reshape(B, T, -1)
        h = self.norm(self.temporal(self.tpos(x)))
        return {"keypoints": self.kpt_head(h).reshape(B, T, self.n_kpt, 2) + 0.5,
                "visibility": self.vis_head(h), "latent": self.latent_head(h)}

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked L1 on visible keypoints, BCE on visibility, MSE on latents (valid frames)."""
        c = self.cfg
        out = self(batch["frames"])
        valid = batch["valid"]
        w = valid.float()
        kpt = ((out["keypoints"] - batch["keypoints"]).abs().sum(-1) * w).sum() / w.sum().clamp(min=1)
        vis = F.binary_cross_entropy_with_logits(out["visibility"], w)
        frame_ok = batch.get("latent_mask", torch.ones(valid.shape[:2], dtype=torch.bool))
        lat = ((out["latent"] - batch["latent"]) ** 2).mean(-1)
        lat = (lat * frame_ok).sum() / frame_ok.sum().clamp(min=1)
        total = c.w_kpt * kpt + c.w_vis * vis + c.w_latent * lat
        return total, {"loss": float(total.detach()), "kpt": float(kpt.detach()),
                       "vis": float(vis.detach()), "latent": float(lat.detach())}

    def example_batch(self, batch_size: int = 2, device="cpu") -> dict:
        S, T = self.cfg.image_size, 3
        return {"frames": torch.rand(batch_size, T, 3, S, S, device=device),
                "keypoints": torch.rand(batch_size, T, self.n_kpt, 2, device=device),
                "valid": torch.rand(batch_size, T, self.n_kpt, device=device) > 0.3,
                "latent": torch.randn(batch_size, T, self.cfg.latent, device=device)}

    @torch.no_grad()
    def predict(self, frames: np.ndarray, width: int, height: int, window: int = 16,
                fps: float = 25.0) -> tuple[PoseSeq, np.ndarray]:
        """dwpose PoseSeq in pixels of a ``width`` x ``height`` video and latents ``[T, latent]``
        from resized frames ``[T, S, S, 3]`` uint8 (run in windows of ``window`` frames)."""
        self.eval()
        kpts, vis, lats = [], [], []
        for s in range(0, len(frames), window):
            x = torch.from_numpy(frames[s:s + window]).permute(0, 3, 1, 2).float().div(255)[None]
            out = self(x)
            kpts.append(out["keypoints"][0].numpy())
            vis.append(out["visibility"][0].sigmoid().numpy())
            lats.append(out["latent"][0].numpy())
        xy = np.concatenate(kpts) * np.array([width, height], np.float32)
        conf = np.concatenate(vis)
        conf = np.where(conf >= 0.5, conf, 0.0).astype(np.float32)
        pose = PoseSeq(xy[:, None], conf[:, None], fps=fps, width=width, height=height, layout=KPT_LAYOUT)
        return pose, np.concatenate(lats)


# -- frames and estimator targets -----------------------------------------------------------------

def read_frames(path: str | Path, size: int, fps: float | None = None) -> tuple[np.ndarray, int, int, float]:
    """Frames of a video resized to ``size`` x ``size`` (``[T, S, S, 3]`` uint8), width, height, fps."""
    from signverse.video import decode, probe
    from PIL import Image
    info = probe(path)
    frames = [np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR))
              for _, _, rgb in decode(path, fps)]
    if not frames:
        raise InputError(path, "no frames")
    return np.stack(frames), info.width, info.height, float(fps or info.fps)


def run_estimator(path: str | Path, fps: float | None = None) -> PoseSeq:
    """MediaPipe Holistic track of a video (the distillation teacher)."""
    require("mediapipe", "video")
    from signverse.estimators import estimate_video, get_estimator
    est = get_estimator("mediapipe")
    try:
        return estimate_video(est, path, fps=fps)
    finally:
        est.close()


def _frames_and_teacher(path: str | Path, size: int, fps: float | None) -> tuple[np.ndarray, PoseSeq]:
    """One decoding pass: the resized frames for the ViT and the teacher's track of the same frames."""
    require("mediapipe", "video")
    from PIL import Image

    from signverse.estimators import get_estimator, stack_frames
    from signverse.video import decode, probe
    info = probe(path)
    est = get_estimator("mediapipe")
    frames, poses, batch = [], [], []
    try:
        for _, _, rgb in decode(path, fps):
            frames.append(np.asarray(Image.fromarray(rgb).resize((size, size), Image.BILINEAR)))
            batch.append(rgb)
            if len(batch) == 8:
                poses.extend(est(batch))
                batch = []
        if batch:
            poses.extend(est(batch))
    finally:
        est.close()
    if not frames:
        raise InputError(path, "no frames")
    pose = stack_frames(poses, fps=float(fps or info.fps), width=info.width, height=info.height,
                        layout=est.layout, n_points=get_layout(est.layout).num_points)
    return np.stack(frames), pose


def cache_dir() -> Path:
    """Where estimator targets are cached (``SIGNVERSE_CACHE`` or the system temp dir)."""
    root = os.environ.get("SIGNVERSE_CACHE") or os.path.join(tempfile.gettempdir(), "signverse-cache")
    return Path(root) / "signx-video2pose"


@dataclass
class VideoTargets:
    """One video's resized frames and its teacher track."""

    name: str
    frames: np.ndarray          # [T, S, S, 3] uint8
    pose: PoseSeq               # teacher track (mediapipe-holistic), pixels of the original video

    @property
    def dwpose(self) -> PoseSeq:
        return convert(self.pose, KPT_LAYOUT)


def load_targets(path: str | Path, size: int, fps: float | None = None) -> VideoTargets:
    """Frames + teacher track of a video, from the cache when present (computed once)."""
    path = Path(path)
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{size}|{fps}".encode()).hexdigest()[:16]
    file = cache_dir() / f"{path.stem}-{key}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as z:
            pose = PoseSeq(z["xy"], z["conf"], fps=float(z["fps"]), width=int(z["width"]),
                           height=int(z["height"]), layout=str(z["layout"]))
            return VideoTargets(path.stem, z["frames"], pose)
    frames, pose = _frames_and_teacher(path, size, fps)
    n = len(frames)
    if pose.n_persons == 0:
        pose = PoseSeq.empty(n, 1, pose.n_points, fps=pose.fps, width=pose.width, height=pose.height,
                             layout=pose.layout)
    pose = pose.persons(0)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, frames=frames, xy=pose.xy, conf=pose.conf, fps=pose.fps, width=pose.width,
                        height=pose.height, layout=pose.layout)
    os.replace(tmp, file)
    return VideoTargets(path.stem, frames, pose)


@dataclass
class _Prepared:
    frames: np.ndarray       # [T, S, S, 3]
    kpt: np.ndarray          # [T, K, 2] image-normalised
    valid: np.ndarray        # [T, K]
    latent: np.ndarray       # [T, D]
    latent_ok: np.ndarray    # [T]


def _prepare(video: VideoTargets, fusion, mirror: bool) -> _Prepared:
    from signverse.models.signx.fusion import to_torch
    from signverse.models.signx.tracks import normalise_tracks
    pose = flip(video.pose) if mirror else video.pose
    frames = video.frames[:, :, ::-1] if mirror else video.frames
    dw = convert(pose, KPT_LAYOUT)
    kpt = np.nan_to_num(dw.xy[:, 0] / np.array([pose.width, pose.height], np.float32))
    valid = dw.valid[:, 0]
    teacher = {t: convert(pose, t) for t in fusion.tracks if t in ("mediapipe-holistic", KPT_LAYOUT)}
    norm, _ = normalise_tracks(teacher)
    with torch.no_grad():
        latent = fusion(to_torch(norm)).numpy()
    return _Prepared(np.ascontiguousarray(frames), kpt, valid, latent, pose.valid[:, 0].any(-1))


def train_video2pose(videos: list[VideoTargets], fusion, config: Video2PoseConfig | None = None, *,
                     steps: int = 300, batch_size: int = 4, window: int = 8, lr: float = 1e-3,
                     seed: int = 0, flip: bool = True, max_seconds: float | None = None
                     ) -> tuple[Video2Pose, list[dict[str, float]]]:
    """Distil the teacher tracks (keypoints) and ``fusion``'s latents into a Video2Pose ViT."""
    config = config or Video2PoseConfig(latent=fusion.cfg.latent)
    if config.latent != fusion.cfg.latent:
        raise SignverseError(f"Video2Pose latent {config.latent} != fusion latent {fusion.cfg.latent}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    fusion.eval()
    data = [_prepare(v, fusion, False) for v in videos]
    if flip:
        data += [_prepare(v, fusion, True) for v in videos]
    model = Video2Pose(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = one_cycle(opt, lr, steps)
    history, t0 = [], time.time()
    model.train()
    bar = Progress(steps, "signx-video2pose")
    for step in range(steps):
        items = [data[i] for i in rng.integers(0, len(data), batch_size)]
        starts = [int(rng.integers(0, max(1, len(d.frames) - window + 1))) for d in items]
        sl = [slice(s, s + window) for s in starts]
        n = min(len(d.frames[s]) for d, s in zip(items, sl))
        frames = np.stack([d.frames[s][:n] for d, s in zip(items, sl)])
        x = torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float().div(255)
        # Photometric jitter: brightness/contrast per clip (keypoints unchanged).
        x = ((x - 0.5) * (1 + 0.2 * (torch.rand(len(items), 1, 1, 1, 1) - 0.5)) + 0.5
             + 0.1 * (torch.rand(len(items), 1, 1, 1, 1) - 0.5)).clamp(0, 1)
        batch = {"frames": x,
                 "keypoints": torch.from_numpy(np.stack([d.kpt[s][:n] for d, s in zip(items, sl)])),
                 "valid": torch.from_numpy(np.stack([d.valid[s][:n] for d, s in zip(items, sl)])),
                 "latent": torch.from_numpy(np.stack([d.latent[s][:n] for d, s in zip(items, sl)])),
                 "latent_mask": torch.from_numpy(np.stack([d.latent_ok[s][:n] for d, s in zip(items, sl)]))}
        loss, parts = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(parts)
        bar.update(1, loss=round(float(loss.detach()), 4))
        if (step + 1) % 50 == 0:
            log.info("video2pose step %d/%d %s (%.1fs)", step + 1, steps,
                     {k: round(v, 4) for k, v in parts.items()}, time.time() - t0)
        if max_seconds and time.time() - t0 > max_seconds:
            log.warning("video2pose: stopping at step %d, time budget reached", step + 1)
            break
    bar.close()
    model.eval()
    return model, history


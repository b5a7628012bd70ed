"""Video2Pose: frames -> dwpose keypoints (plus their visibility and the fused latent of each frame).

A small network made to generalise from a handful of videos (the distillation teacher, MediaPipe
Holistic, runs once per video and is cached):

* it predicts a *normalised* pose: keypoints in the coordinates of a square view (a crop of the
  frame), which are mapped back to pixels through the view. Inference runs two passes: the whole
  frame letterboxed, which locates the signer; then a crop around the signer (the box from the
  first pass's shoulders, one box per video), whose keypoints are the output;
* a convolutional stem (translation equivariant), a small Transformer over the stride-8 feature map
  (context: which hand is which), and per-keypoint heatmaps at stride 4 read out by soft-argmax,
  so a keypoint's position comes from where its evidence is in the image, not from a global vector;
* training views are random crops around the teacher's box and random letterboxed frames (scale,
  shift, rotation; targets transformed the same way), horizontal flips with left/right swapped,
  and strong colour / noise / erasing augmentation;
* a temporal Transformer over per-frame features gives visibility and the fused latent (distilled
  from the fusion model), and keypoints are smoothed over time at inference.
"""
from __future__ import annotations

import hashlib
import logging
import math
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
from signverse.core.progress import Progress
from signverse.layouts import convert, get_layout
from signverse.models.schedule import one_cycle

log = logging.getLogger(__name__)

KPT_LAYOUT = "dwpose"
# dwpose body (OpenPose-18 order): the points the person box is built from.
NECK, R_SHOULDER, L_SHOULDER = 1, 2, 5
# Person box, in shoulder widths: centred this far below the neck, this many shoulder widths wide.
# Measured on the teacher tracks of the real videos: face, arms and hands lie within
# [-1.2, 1.0] x [-0.9, 1.8] shoulder widths of the neck.
BOX_DROP, BOX_SIDE = 0.5, 3.2


@dataclass
class Video2PoseConfig:
    """Network sizes; ``latent`` must match the fusion model whose latents are distilled."""

    image_size: int = 64        # side of the square view the network sees (a multiple of 8)
    frame_side: int = 256       # frames are decoded with this long side; views are cut from them
    stem: int = 16              # conv channels at stride 2 (x2 at stride 4, x4 at stride 8)
    d_model: int = 96
    heads: int = 4
    spatial_layers: int = 2
    temporal_layers: int = 1
    dropout: float = 0.0
    latent: int = 128
    smooth: int = 5             # centred moving average over this many frames at inference (1: none)
    flip_test: bool = True      # at inference, average each view with its mirror image (2x the work)
    w_kpt: float = 1.0
    w_vis: float = 0.1
    w_latent: float = 0.1


def _conv(cin: int, cout: int, stride: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.GroupNorm(4 if cout % 4 == 0 else 1, cout), nn.GELU())


class Video2Pose(nn.Module):
    """Views ``[B, T, 3, S, S]`` (float, 0..1) -> keypoints in view coordinates (0..1), visibility
    logits and latents. :meth:`predict` goes from whole frames to a pixel PoseSeq."""

    def __init__(self, config: Video2PoseConfig | None = None):
        super().__init__()
        from signverse.models.layers import Positions, encoder_stack
        self.cfg = c = config or Video2PoseConfig()
        if c.image_size % 8:
            raise SignverseError(f"image_size {c.image_size} is not a multiple of 8")
        self.n_kpt = get_layout(KPT_LAYOUT).num_points
        w = c.stem
        self.stage1 = _conv(3, w, 2)                                                # S/2
        self.stage2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w, 1))     # S/4
        self.stage3 = nn.Sequential(_conv(2 * w, 4 * w, 2), nn.Conv2d(4 * w, c.d_model, 1))  # S/8
        n_tokens = (c.image_size // 8) ** 2
        self.pos = nn.Parameter(torch.randn(1, n_tokens, c.d_model) * 0.02)
        self.spatial = encoder_stack(c.d_model, c.heads, c.spatial_layers, c.dropout, ff_mult=2)
        self.fuse = _conv(c.d_model + 2 * w, c.d_model, 1, kernel=1)
        self.heatmap = nn.Conv2d(c.d_model, self.n_kpt, 1)
        # Log-prior over heatmap cells, added to the evidence: training sets it to a Gaussian
        # around the mean pose in the person box (see set_prior), so an untrained network starts
        # at the mean pose of the view and learns where the image says otherwise.
        self.prior = nn.Parameter(torch.zeros(self.n_kpt, c.image_size // 4, c.image_size // 4))
        self.tpos = Positions(c.d_model, "sinusoidal")
        self.temporal = encoder_stack(c.d_model, c.heads, c.temporal_layers, c.dropout, ff_mult=2)
        self.norm = nn.LayerNorm(c.d_model)
        self.vis_head = nn.Linear(c.d_model, self.n_kpt)
        self.latent_head = nn.Linear(c.d_model, c.latent)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, views: torch.Tensor) -> dict[str, torch.Tensor]:
        B, T = views.shape[:2]
        x = (views.flatten(0, 1) - self.mean) / self.std
        skip = self.stage2(self.stage1(x))                                   # [BT, 2w, S/4, S/4]
        f = self.stage3(skip)                                                # [BT, d, S/8, S/8]
        tok = self.spatial(f.flatten(2).transpose(1, 2) + self.pos)          # [BT, g*g, d]
        f = tok.transpose(1, 2).reshape(f.shape)
        up = F.interpolate(f, scale_factor=2, mode="bilinear", align_corners=False)
        logits = self.heatmap(self.fuse(torch.cat([up, skip], 1))) + self.prior   # [BT, K, S/4, S/4]
        # Soft-argmax: the expected cell centre under each keypoint's spatial softmax.
        n = logits.shape[-1]
        prob = logits.flatten(2).softmax(-1).view(*logits.shape[:2], n, n)
        centres = (torch.arange(n, dtype=prob.dtype, device=prob.device) + 0.5) / n
        kx = (prob.sum(2) * centres).sum(-1)
        ky = (prob.sum(3) * centres).sum(-1)
        kpt = torch.stack([kx, ky], -1).view(B, T, self.n_kpt, 2)
        h = self.norm(self.temporal(self.tpos(tok.mean(1).view(B, T, -1))))
        return {"keypoints": kpt, "visibility": self.vis_head(h), "latent": self.latent_head(h)}

    @torch.no_grad()
    def set_prior(self, uv: np.ndarray, sigma: float = 0.2) -> None:
        """Heatmap log-prior: a Gaussian of ``sigma`` (view units) around each keypoint's ``uv [K, 2]``."""
        n = self.prior.shape[-1]
        centres = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        u = torch.from_numpy(np.asarray(uv, np.float32))
        dx = (centres[None, None, :] - u[:, 0, None, None]) ** 2
        dy = (centres[None, :, None] - u[:, 1, None, None]) ** 2
        self.prior.copy_(-(dx + dy) / (2 * sigma ** 2))

    def loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked L1 on visible keypoints (view units), BCE on visibility, MSE on latents."""
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
    def run_views(self, frames: torch.Tensor, views: np.ndarray, width: int, height: int,
                  window: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints in pixels ``[T, K, 2]``, visibility ``[T, K]`` and latents of frames
        ``[T, 3, h, w]`` (0..1, any size with the video's aspect) seen through ``views [T, 3]``.
        With ``cfg.flip_test`` each view is also read mirrored (hands swapped back) and averaged."""
        self.eval()
        perm = get_layout(KPT_LAYOUT).mirror_permutation
        kpts, vis, lats = [], [], []
        for s in range(0, len(frames), window):
            v = views[s:s + window]
            crops = cut_views(frames[s:s + window], v, width, height, self.cfg.image_size)
            out = self(crops[None])
            uv, p = out["keypoints"][0].numpy(), out["visibility"][0].sigmoid().numpy()
            if self.cfg.flip_test:
                back = self(crops.flip(-1)[None])
                uv_m = back["keypoints"][0].numpy()[:, perm]
                uv_m[..., 0] = 1 - uv_m[..., 0]
                uv, p = (uv + uv_m) / 2, (p + back["visibility"][0].sigmoid().numpy()[:, perm]) / 2
            kpts.append(from_view(uv, v))
            vis.append(p)
            lats.append(out["latent"][0].numpy())
        return np.concatenate(kpts), np.concatenate(vis), np.concatenate(lats)

    @torch.no_grad()
    def predict_keypoints(self, frames: np.ndarray, width: int, height: int, window: int = 16,
                          passes: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints in pixels ``[T, K, 2]`` (every point, smoothed over time), visibility ``[T, K]``
        and latents of frames ``[T, h, w, 3]`` uint8 of a ``width`` x ``height`` video (any size,
        aspect kept: see :func:`read_frames`). Pass 1 finds the signer in the letterboxed frame;
        pass 2 (``passes=2``) reads the pose in a crop around them."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255)
        views = np.tile(letterbox_view(width, height), (len(frames), 1))
        kpt, vis, lat = self.run_views(x, views, width, height, window)
        box = person_box(kpt, np.ones(kpt.shape[:2], bool)) if passes > 1 else None
        if box is not None:
            kpt, vis, lat = self.run_views(x, np.tile(box, (len(frames), 1)), width, height, window)
        return smooth_time(kpt, self.cfg.smooth), vis, lat

    @torch.no_grad()
    def predict(self, frames: np.ndarray, width: int, height: int, fps: float = 25.0,
                window: int = 16) -> tuple[PoseSeq, np.ndarray]:
        """dwpose PoseSeq in pixels of a ``width`` x ``height`` video (points predicted invisible
        have confidence 0) and latents ``[T, latent]``; see :meth:`predict_keypoints`."""
        kpt, vis, lat = self.predict_keypoints(frames, width, height, window)
        conf = np.where(vis >= 0.5, vis, 0.0).astype(np.float32)
        pose = PoseSeq(kpt[:, None].astype(np.float32), conf[:, None], fps=fps, width=width,
                       height=height, layout=KPT_LAYOUT)
        return pose, lat


# -- views: square crops of a frame, and keypoints in their coordinates -----------------------------

def letterbox_view(width: int, height: int) -> np.ndarray:
    """The view ``(cx, cy, side)`` (pixels) showing the whole frame, padded to a square."""
    return np.array([width / 2, height / 2, max(width, height)], np.float32)


def person_box(xy: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """One view ``(cx, cy, side)`` around the signer of a dwpose track ``[T, K, 2]`` (pixels):
    from the median neck and shoulder width over frames; None without shoulders."""
    ok = valid[:, NECK] & valid[:, R_SHOULDER] & valid[:, L_SHOULDER]
    ok &= np.isfinite(xy[:, [NECK, R_SHOULDER, L_SHOULDER]]).all((1, 2))
    if not ok.any():
        return None
    sw = float(np.median(np.linalg.norm(xy[ok, R_SHOULDER] - xy[ok, L_SHOULDER], axis=-1)))
    if sw <= 1e-3:
        return None
    neck = np.median(xy[ok, NECK], 0)
    return np.array([neck[0], neck[1] + BOX_DROP * sw, BOX_SIDE * sw], np.float32)


def _view_matrix(views: np.ndarray, angle: np.ndarray | None = None, flip: np.ndarray | None = None
                 ) -> np.ndarray:
    """``[N, 2, 2]`` M with pixel = centre + M @ g for view coordinates g in [-1, 1]^2."""
    n = len(views)
    angle = np.zeros(n) if angle is None else angle
    fx = np.where(np.zeros(n, bool) if flip is None else flip, -1.0, 1.0)
    c, s = np.cos(angle), np.sin(angle)
    half = views[:, 2] / 2
    return np.stack([np.stack([c * fx, -s], -1), np.stack([s * fx, c], -1)], -2) * half[:, None, None]


def cut_views(frames: torch.Tensor, views: np.ndarray, width: int, height: int, size: int,
              angle: np.ndarray | None = None, flip: np.ndarray | None = None) -> torch.Tensor:
    """Square ``size`` crops ``[N, 3, size, size]`` of frames ``[N, 3, h, w]`` (a video of
    ``width`` x ``height`` pixels at any scale) through views ``[N, 3]`` (cx, cy, side in pixels of
    the video), optionally rotated (radians) and mirrored; outside the frame is black."""
    M = _view_matrix(views, angle, flip)
    theta = np.zeros((len(views), 2, 3), np.float32)
    # grid_sample's normalised input coordinate is 2 * x / width - 1 (align_corners=False, pixel
    # edges at 0 and width), whatever resolution the frames were decoded at.
    theta[:, 0, :2], theta[:, 0, 2] = M[:, 0] * 2 / width, views[:, 0] * 2 / width - 1
    theta[:, 1, :2], theta[:, 1, 2] = M[:, 1] * 2 / height, views[:, 1] * 2 / height - 1
    grid = F.affine_grid(torch.from_numpy(theta), [len(views), 3, size, size], align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def to_view(xy: np.ndarray, views: np.ndarray, angle: np.ndarray | None = None,
            flip: np.ndarray | None = None) -> np.ndarray:
    """Pixels ``[N, K, 2]`` -> view coordinates (0..1 inside the view) of views ``[N, 3]``."""
    Minv = np.linalg.inv(_view_matrix(views, angle, flip))
    g = np.einsum("nij,nkj->nki", Minv, xy - views[:, None, :2])
    return (g + 1) / 2


def from_view(uv: np.ndarray, views: np.ndarray) -> np.ndarray:
    """View coordinates ``[N, K, 2]`` of unrotated, unmirrored views -> pixels."""
    return views[:, None, :2] + (2 * uv - 1) * views[:, None, 2:3] / 2


def smooth_time(xy: np.ndarray, k: int) -> np.ndarray:
    """Centred moving average over ``k`` frames (edges repeated), per keypoint coordinate."""
    if k <= 1 or len(xy) < 2:
        return xy
    k += 1 - k % 2                     # an odd window stays centred
    pad = k // 2
    padded = np.concatenate([np.repeat(xy[:1], pad, 0), xy, np.repeat(xy[-1:], pad, 0)])
    csum = np.cumsum(np.concatenate([np.zeros_like(xy[:1]), padded]), 0)
    return (csum[k:k + len(xy)] - csum[:len(xy)]) / k


# -- frames and estimator targets -----------------------------------------------------------------

def _resize_long_side(rgb: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


def read_frames(path: str | Path, size: int, fps: float | None = None) -> tuple[np.ndarray, int, int, float]:
    """Frames of a video with the long side shrunk to ``size`` (aspect kept; ``[T, h, w, 3]``
    uint8), the video's width and height, and the frame rate."""
    from signverse.video import decode, probe
    info = probe(path)
    frames = [_resize_long_side(rgb, size) for _, _, rgb in decode(path, fps)]
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
    """One decoding pass: the shrunk frames for the network and the teacher's track of the same frames."""
    require("mediapipe", "video")
    from signverse.estimators import get_estimator, stack_frames
    from signverse.video import decode, probe
    info = probe(path)
    est = get_estimator("mediapipe")
    frames, poses, batch = [], [], []
    try:
        for _, _, rgb in decode(path, fps):
            frames.append(_resize_long_side(rgb, size))
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
    """One video's shrunk frames and its teacher track."""

    name: str
    frames: np.ndarray          # [T, h, w, 3] uint8, long side <= the requested size, aspect kept
    pose: PoseSeq               # teacher track (mediapipe-holistic), pixels of the original video

    @property
    def dwpose(self) -> PoseSeq:
        return convert(self.pose, KPT_LAYOUT)


def _cache_file(path: Path, what: str, fps: float | None) -> Path:
    st = path.stat()
    # "v2": frames keep their aspect (v1 squashed them to a square); the teacher track is its own file.
    key = hashlib.sha1(f"v2|{what}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fps}".encode()).hexdigest()[:16]
    return cache_dir() / f"{path.stem}-{what}-{key}.npz"


def _save(file: Path, **arrays) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, file)


def load_targets(path: str | Path, size: int, fps: float | None = None) -> VideoTargets:
    """Frames (long side ``size``) + teacher track of a video, each from the cache when present:
    the teacher runs once per video (and frame rate), whatever sizes are asked for later."""
    path = Path(path)
    pose_file, frames_file = _cache_file(path, "teacher", fps), _cache_file(path, f"frames{size}", fps)
    pose = frames = None
    if pose_file.exists():
        with np.load(pose_file, allow_pickle=False) as z:
            pose = PoseSeq(z["xy"], z["conf"], fps=float(z["fps"]), width=int(z["width"]),
                           height=int(z["height"]), layout=str(z["layout"]))
    if frames_file.exists():
        with np.load(frames_file, allow_pickle=False) as z:
            frames = z["frames"]
    if pose is not None and frames is None:
        frames = read_frames(path, size, fps)[0]
        _save(frames_file, frames=frames)
    if pose is None:
        frames, pose = _frames_and_teacher(path, size, fps)
        n = len(frames)
        if pose.n_persons == 0:
            pose = PoseSeq.empty(n, 1, pose.n_points, fps=pose.fps, width=pose.width, height=pose.height,
                                 layout=pose.layout)
        pose = pose.persons(0)
        _save(pose_file, xy=pose.xy, conf=pose.conf, fps=pose.fps, width=pose.width, height=pose.height,
              layout=pose.layout)
        _save(frames_file, frames=frames)
    if len(frames) != pose.n_frames:
        raise InputError(path, f"cached frames ({len(frames)}) and teacher track ({pose.n_frames}) disagree")
    return VideoTargets(path.stem, frames, pose)


# -- training ---------------------------------------------------------------------------------------

@dataclass
class _Prepared:
    frames: torch.Tensor     # [T, 3, h, w] uint8
    width: int
    height: int
    kpt: np.ndarray          # [T, K, 2] pixels (0 where missing)
    valid: np.ndarray        # [T, K]
    latent: np.ndarray       # [2, T, D]: as recorded, and of the mirrored track
    latent_ok: np.ndarray    # [T]
    box: np.ndarray | None   # the teacher's person box (cx, cy, side)


def _latents(pose: PoseSeq, fusion) -> np.ndarray:
    from signverse.models.signx.fusion import to_torch
    from signverse.models.signx.tracks import normalise_tracks
    teacher = {t: convert(pose, t) for t in fusion.tracks if t in ("mediapipe-holistic", KPT_LAYOUT)}
    norm, _ = normalise_tracks(teacher)
    with torch.no_grad():
        return fusion(to_torch(norm)).numpy()


def _prepare(video: VideoTargets, fusion) -> _Prepared:
    from signverse.ops import flip
    dw = convert(video.pose, KPT_LAYOUT)
    valid = dw.valid[:, 0] & np.isfinite(dw.xy[:, 0]).all(-1)
    kpt = np.where(valid[..., None], dw.xy[:, 0], 0.0).astype(np.float32)
    latent = np.stack([_latents(video.pose, fusion), _latents(flip(video.pose), fusion)])
    frames = torch.from_numpy(np.ascontiguousarray(video.frames)).permute(0, 3, 1, 2).contiguous()
    return _Prepared(frames, video.pose.width, video.pose.height, kpt, valid, latent,
                     video.pose.valid[:, 0].any(-1), person_box(kpt, valid))


def _mean_box_pose(data: list[_Prepared]) -> np.ndarray:
    """Mean keypoint position ``[K, 2]`` in view coordinates of the teacher's person boxes (0.5 where unseen)."""
    total, count = np.zeros((get_layout(KPT_LAYOUT).num_points, 2)), np.zeros(get_layout(KPT_LAYOUT).num_points)
    for d in data:
        if d.box is None:
            continue
        uv = to_view(d.kpt, np.tile(d.box, (len(d.kpt), 1)))
        total += (uv * d.valid[..., None]).sum(0)
        count += d.valid.sum(0)
    return np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], 0.5).clip(0, 1)


def _random_view(d: _Prepared, rng: np.random.Generator, p_full: float) -> np.ndarray:
    """A jittered person box (what pass 2 sees, with pass 1's errors) or, with probability
    ``p_full``, a scene view (what pass 1 sees): the letterboxed frame, or a view 0.7 to 2.5 times
    the person box anywhere around it, so that pass 1 meets signers of any size and position."""
    if d.box is None or rng.random() < p_full:
        if d.box is None or rng.random() < 0.3:
            view = letterbox_view(d.width, d.height)
            view[2] *= math.exp(rng.uniform(-0.15, 0.15))
            view[:2] += rng.uniform(-0.08, 0.08, 2) * view[2]
            return view
        view = d.box.copy()
        view[2] *= math.exp(rng.uniform(math.log(0.7), math.log(2.5)))
        view[:2] += rng.uniform(-0.5, 0.5, 2) * max(view[2] - d.box[2], 0.0) + rng.uniform(-0.1, 0.1, 2) * d.box[2]
        return view
    view = d.box.copy()
    view[2] *= math.exp(rng.uniform(math.log(0.75), math.log(1.4)))
    view[:2] += rng.uniform(-0.12, 0.12, 2) * view[2]
    return view


def _colour(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Photometric augmentation of one clip ``[T, 3, S, S]`` (same draw for all its frames)."""
    gray = x.mean(1, keepdim=True)
    if rng.random() < 0.15:
        x = gray.expand_as(x)
    else:
        x = gray + (x - gray) * rng.uniform(0.5, 1.5)                                  # saturation
    x = x * torch.from_numpy(rng.uniform(0.85, 1.15, 3).astype(np.float32)).view(1, 3, 1, 1)   # white balance
    x = (x - 0.5) * rng.uniform(0.6, 1.4) + 0.5 + rng.uniform(-0.2, 0.2)              # contrast, brightness
    if rng.random() < 0.3:                                                               # blur
        x = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    x = x + torch.randn_like(x) * rng.uniform(0, 0.05)                                   # sensor noise
    if rng.random() < 0.3:                                                               # occluder
        S = x.shape[-1]
        h, w = (rng.uniform(0.1, 0.35, 2) * S).astype(int)
        y0, x0 = rng.integers(0, S - h), rng.integers(0, S - w)
        x[..., y0:y0 + h, x0:x0 + w] = torch.rand(3, 1, 1)
    return x.clamp(0, 1)


def _sample(d: _Prepared, rng: np.random.Generator, window: int, size: int, perm: np.ndarray,
            p_full: float, augment: bool) -> dict:
    """One augmented clip: views, keypoint targets in view coordinates, masks and latents."""
    T = len(d.frames)
    s = int(rng.integers(0, max(1, T - window + 1)))
    idx = np.arange(s, min(T, s + window))
    view = np.tile(_random_view(d, rng, p_full if augment else 0.0), (len(idx), 1))
    angle = np.full(len(idx), rng.uniform(-0.2, 0.2) if augment else 0.0)
    mirror = np.full(len(idx), augment and rng.random() < 0.5)
    x = cut_views(d.frames[idx].float().div(255), view, d.width, d.height, size, angle, mirror)
    if augment:
        x = _colour(x, rng)
    kpt, valid = to_view(d.kpt[idx], view, angle, mirror), d.valid[idx]
    if mirror[0]:                      # the mirrored left hand is in the right-hand slots
        kpt, valid = kpt[:, perm], valid[:, perm]
    return {"frames": x, "keypoints": torch.from_numpy(kpt.astype(np.float32)),
            "valid": torch.from_numpy(valid), "latent": torch.from_numpy(d.latent[int(mirror[0]), idx]),
            "latent_mask": torch.from_numpy(d.latent_ok[idx])}


def train_video2pose(videos: list[VideoTargets], fusion, config: Video2PoseConfig | None = None, *,
                     steps: int = 600, batch_size: int = 12, window: int = 2, lr: float = 2e-3,
                     seed: int = 0, flip: bool = True, max_seconds: float | None = None,
                     p_full: float = 0.5) -> tuple[Video2Pose, list[dict[str, float]]]:
    """Distil the teacher tracks (keypoints) and ``fusion``'s latents into a Video2Pose network.
    Each step draws ``batch_size`` clips of ``window`` frames, videos equally often, each seen
    through a random view (a scene view with probability ``p_full``, else a jittered crop around
    the teacher's person box: see ``_random_view``), mirrored half the time when ``flip``, colour-augmented."""
    config = config or Video2PoseConfig(latent=fusion.cfg.latent)
    if config.latent != fusion.cfg.latent:
        raise SignverseError(f"Video2Pose latent {config.latent} != fusion latent {fusion.cfg.latent}")
    if not videos:
        raise SignverseError("train_video2pose needs at least one video")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    fusion.eval()
    data = [_prepare(v, fusion) for v in videos]
    perm = get_layout(KPT_LAYOUT).mirror_permutation
    model = Video2Pose(config)
    model.set_prior(_mean_box_pose(data))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = one_cycle(opt, lr, steps)
    history, t0 = [], time.time()
    model.train()
    bar = Progress(steps, "signx-video2pose")
    for step in range(steps):
        clips = [_sample(data[i], rng, window, config.image_size, perm, p_full, flip)
                 for i in rng.integers(0, len(data), batch_size)]
        n = min(len(c["frames"]) for c in clips)
        batch = {k: torch.stack([c[k][:n] for c in clips]) for k in clips[0]}
        loss, parts = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(parts)
        bar.update(1, loss=round(float(loss.detach()), 4))
        if (step + 1) % 100 == 0:
            log.info("video2pose step %d/%d %s (%.1fs)", step + 1, steps,
                     {k: round(v, 4) for k, v in parts.items()}, time.time() - t0)
        if max_seconds and time.time() - t0 > max_seconds:
            log.warning("video2pose: stopping at step %d, time budget reached", step + 1)
            break
    bar.close()
    model.eval()
    return model, history

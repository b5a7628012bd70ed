"""Path-level training entry points for the CLI (``signverse train signx-* --data DATA --out RUN``).

Each reads its data with the project's loaders, trains with the in-memory functions of this
package and writes (or extends) a SignX run directory (see :mod:`signverse.models.signx.run`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from signverse.core.errors import InputError, SignverseError
from signverse.layouts import convert
from signverse.models.signx.fusion import FrameSet, FusionConfig, train_fusion
from signverse.models.signx.gloss import GlossConfig, train_gloss
from signverse.models.signx.run import load_run, save_run
from signverse.models.signx.tracks import normalise_tracks
from signverse.models.signx.video2pose import Video2PoseConfig, load_targets, train_video2pose

log = logging.getLogger(__name__)

TASKS = ("signx-fusion", "signx-gloss", "signx-video2pose")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")


def _samples(data: str | Path, limit: int | None = None) -> list:
    from signverse.data import load_samples
    samples = load_samples(data, limit=limit)
    if not samples:
        raise InputError(data, "holds no samples")
    return samples


def _clip(pose, tracks: tuple[str, ...]) -> dict:
    """Normalised tracks of one pose: every configured layout it converts to."""
    from signverse.layouts import can_convert
    poses = {t: convert(pose, t) for t in tracks if can_convert(pose.layout, t)}
    if not poses:
        raise SignverseError(f"layout {pose.layout} converts to none of {tracks}")
    return normalise_tracks(poses)[0]


def train_fusion_run(data: str | Path, out: str | Path, *, steps: int = 1000,
                     config: FusionConfig | None = None, limit: int | None = None) -> dict:
    """Self-supervised fusion on every sample's pose (each converted to every configured track):
    the latent learns by reconstruction, and each track's template (mean pose) is fitted."""
    config = config or FusionConfig(tracks=("dwpose", "coco-wholebody", "mediapipe-holistic", "openpose-137"))
    clips = []
    for sample in _samples(data, limit):
        try:
            clips.append(_clip(sample.pose, config.tracks))
        except SignverseError as exc:   # one unreadable or unconvertible file: the rest trains
            log.warning("skipping %s: %s", sample.sample_id, exc)
    if not clips:
        raise InputError(data, "no usable pose sequences")
    # Every track of a clip is converted from one pose: one estimator output, so none may teach the
    # residual heads that a converted copy predicts another (they stay at conversion + template).
    sources = [{t: "pose" for t in clip} for clip in clips]
    model, hist = train_fusion(FrameSet.from_clips(clips, config.tracks, sources), config, steps=steps)
    save_run(out, fusion=model, info={"task": "signx-fusion", "data": str(data), "steps": steps,
                                      "final": hist[-1] if hist else {}})
    return hist[-1] if hist else {}


def train_gloss_run(data: str | Path, out: str | Path, *, epochs: int = 10,
                    config: GlossConfig | None = None, fusion_run: str | Path | None = None,
                    limit: int | None = None) -> dict:
    """Pose2Gloss on labelled samples (label = one gloss, or a space-separated gloss sequence)."""
    samples = [s for s in _samples(data, limit) if s.label]
    if not samples:
        raise InputError(data, "no labelled samples")
    glosses = [str(s.label).split() for s in samples]
    config = config or GlossConfig(fusion=FusionConfig(tracks=("dwpose",), hidden=128, latent=128),
                                   max_frames=16)
    longest = max(len(g) for g in glosses)
    if longest > 1 and config.max_len == 1:
        config.max_len = longest + 1
    fusion = load_run(fusion_run).fusion if fusion_run else None
    tracks = fusion.cfg.tracks if fusion is not None else config.fusion.tracks
    clips = [_clip(s.pose, tracks) for s in samples]
    model, hist = train_gloss(clips, glosses, config, fusion=fusion, epochs=epochs)
    save_run(out, gloss=model, info={"task": "signx-gloss", "data": str(data), "epochs": epochs})
    return {"loss": hist[-1]["loss"]} if hist else {}


def train_video2pose_run(data: str | Path, out: str | Path, *, steps: int = 600,
                         config: Video2PoseConfig | None = None, limit: int | None = None) -> dict:
    """Distil MediaPipe Holistic (cached) and the run's fusion latents into a Video2Pose ViT;
    ``out`` must already hold a gloss (or fusion) model, which the ViT is added to."""
    data = Path(data)
    videos = sorted(p for p in data.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES) if data.is_dir() else [data]
    if not videos:
        raise InputError(data, "no video files")
    videos = videos[:limit] if limit else videos
    run = load_run(out)
    fusion = run.gloss.encoder.fusion if run.gloss is not None else run.fusion
    if fusion is None:
        raise InputError(out, "run has no fusion or gloss model to distil latents from")
    config = config or Video2PoseConfig(latent=fusion.cfg.latent)
    targets = [load_targets(v, config.frame_side) for v in videos]
    model, hist = train_video2pose(targets, fusion, config, steps=steps)
    save_run(out, gloss=run.gloss, fusion=run.fusion, video2pose=model,
             info={**run.info, "video2pose": {"data": str(data), "steps": steps}})
    return hist[-1] if hist else {}


def train_task(task: str, data: str | Path, out: str | Path, **options) -> dict:
    """Dispatch ``signx-fusion`` / ``signx-gloss`` / ``signx-video2pose`` (the CLI hook)."""
    fn = {"signx-fusion": train_fusion_run, "signx-gloss": train_gloss_run,
          "signx-video2pose": train_video2pose_run}.get(task)
    if fn is None:
        raise SignverseError(f"unknown SignX task '{task}' (known: {', '.join(TASKS)})")
    Path(out).mkdir(parents=True, exist_ok=True)
    return fn(data, out, **options)

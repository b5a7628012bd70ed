"""End to end: video -> poses (Video2Pose, or estimators) -> fused latents -> Pose2Gloss -> glosses."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.models.signx.gloss import Pose2Gloss
from signverse.models.signx.run import SignXRun
from signverse.models.signx.sequences import collate
from signverse.models.signx.tracks import as_track, normalise_tracks

log = logging.getLogger(__name__)

PATHS = ("video2pose", "estimators")


@dataclass
class Recognition:
    """Top-k glosses (isolated) or the decoded gloss sequence (continuous) of one video."""

    video: str
    path: str
    glosses: list[str]
    top: list[list[tuple[str, float]]]          # per slot: [(gloss, score)...] best first
    n_frames: int
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"video": self.video, "path": self.path, "glosses": self.glosses,
                "top": [[{"gloss": g, "score": round(s, 4)} for g, s in slot] for slot in self.top],
                "frames": self.n_frames, "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def recognize_poses(run: SignXRun, tracks: dict[str, PoseSeq], k: int = 5, steps: int | None = None
                    ) -> tuple[list[str], list[list[tuple[str, float]]]]:
    """Glosses of one clip given any of its pose tracks (each a layout the fusion model knows)."""
    model = run.gloss
    if model is None:
        raise SignverseError("the run has no gloss model")
    known = model.cfg.fusion.tracks
    named = dict(as_track(p, known) for p in tracks.values())
    norm, _ = normalise_tracks(named)
    batch, mask = collate([norm], known, model.cfg.max_frames)
    kw = {"steps": steps} if isinstance(model, Pose2Gloss) else {}
    scores = model.scores(batch, mask, **kw)[0]                 # [L, V]
    top = []
    for slot in scores:
        vals, idx = slot.topk(min(k, slot.numel()))
        top.append([(model.vocab[i], float(v)) for v, i in zip(vals.tolist(), idx.tolist())])
    if isinstance(model, Pose2Gloss):
        glosses = model.decode(scores[None])[0]
    else:
        glosses = [top[0][0][0]]
    return glosses, top


def recognize_video(video: str | Path, run: SignXRun, path: str = "video2pose", k: int = 5,
                    fps: float | None = None, steps: int | None = None) -> Recognition:
    """Recognise the sign(s) in a video. ``path``: ``video2pose`` (the run's ViT) or ``estimators``
    (MediaPipe Holistic, then the fusion model inside the gloss model)."""
    if path not in PATHS:
        raise SignverseError(f"path must be one of {PATHS}, got {path!r}")
    video = Path(video)
    if not video.is_file():
        raise InputError(video, "no such video file")
    times = {}
    t0 = time.perf_counter()
    if path == "video2pose":
        if run.video2pose is None:
            raise SignverseError("the run has no video2pose model (train one, or use --path estimators)")
        from signverse.models.signx.video2pose import read_frames
        v2p = run.video2pose
        frames, w, h, rate = read_frames(video, v2p.cfg.frame_side, fps)
        times["decode"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        pose, _latents = v2p.predict(frames, w, h, fps=rate)
        times["video2pose"] = time.perf_counter() - t1
        tracks = {"dwpose": pose}
    else:
        from signverse.models.signx.video2pose import run_estimator
        pose = run_estimator(video, fps)
        times["estimator"] = time.perf_counter() - t0
        tracks = {"holistic": pose}
    if tracks and next(iter(tracks.values())).n_frames == 0:
        raise InputError(video, "no frames decoded")
    t2 = time.perf_counter()
    with torch.no_grad():
        glosses, top = recognize_poses(run, tracks, k=k, steps=steps)
    times["gloss"] = time.perf_counter() - t2
    times["total"] = time.perf_counter() - t0
    return Recognition(str(video), path, glosses, top, next(iter(tracks.values())).n_frames, times)

"""SignX: multi-track pose fusion, Pose2Gloss by diffusion, a Video2Pose ViT and end-to-end recognition.

Registered models (``signverse.models.get_model``): ``signx-fusion``, ``signx-gloss``,
``signx-video2pose``. Training entry points: :func:`train_fusion`, :func:`train_gloss`,
:func:`train_video2pose`; end to end: :func:`recognize_video` over a run from :func:`load_run`.
Importing this package imports torch.
"""
from __future__ import annotations

from signverse.models.registry import MODELS, register_model
from signverse.models.signx.fusion import FrameSet, FusionConfig, FusionModel, masked_l2, train_fusion
from signverse.models.signx.gloss import (END, GlossConfig, Pose2Gloss, PoseClassifier, predict_scores,
                                          train_gloss)
from signverse.models.signx.recognize import Recognition, recognize_poses, recognize_video
from signverse.models.signx.run import SignXRun, load_run, save_run
from signverse.models.signx.tracks import (DEFAULT_TRACKS, SMPLX_LAYOUT, FrameRef, frame_reference,
                                           normalise_tracks, smplx_track)
from signverse.models.signx.video2pose import (Video2Pose, Video2PoseConfig, load_targets,
                                               train_video2pose)


def _build_fusion(cfg: FusionConfig, **_io) -> FusionModel:
    return FusionModel(cfg)


def _build_gloss(cfg: GlossConfig, *, vocab: list[str] | None = None, n_classes: int | None = None,
                 vocab_size: int | None = None, **_io) -> Pose2Gloss:
    if vocab is None:
        n = n_classes or vocab_size or 2
        vocab = [f"gloss{i}" for i in range(n)]
    return Pose2Gloss(cfg, list(vocab))


def _build_video2pose(cfg: Video2PoseConfig, **_io) -> Video2Pose:
    return Video2Pose(cfg)


if "signx-fusion" not in MODELS:
    register_model("signx-fusion", FusionConfig, task="signx-fusion",
                   description="SignX multi-track pose fusion (self-supervised)")(_build_fusion)
    register_model("signx-gloss", GlossConfig, task="signx-gloss",
                   description="SignX Pose2Gloss: diffusion over gloss embeddings")(_build_gloss)
    register_model("signx-video2pose", Video2PoseConfig, task="signx-video2pose",
                   description="SignX Video2Pose ViT distilled from pose estimators")(_build_video2pose)

__all__ = ["DEFAULT_TRACKS", "END", "FrameRef", "FrameSet", "FusionConfig", "FusionModel", "GlossConfig",
           "Pose2Gloss", "PoseClassifier", "Recognition", "SMPLX_LAYOUT", "SignXRun", "Video2Pose",
           "Video2PoseConfig", "frame_reference", "load_run", "load_targets", "masked_l2",
           "normalise_tracks", "predict_scores", "recognize_poses", "recognize_video", "save_run",
           "smplx_track", "train_fusion", "train_gloss", "train_video2pose"]

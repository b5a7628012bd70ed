"""SignX Video2Pose ViT: shapes, tiny overfit, prediction, run round trip and the recognize CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.core.pose import PoseSeq  # noqa: E402
from signverse.models.signx import (FusionConfig, FusionModel, GlossConfig, Pose2Gloss, Video2Pose,  # noqa: E402
                                    Video2PoseConfig, load_run, save_run, train_video2pose)
from signverse.models.signx.video2pose import VideoTargets  # noqa: E402

TINY = Video2PoseConfig(image_size=32, patch=16, d_model=32, heads=2, spatial_layers=1, temporal_layers=1,
                        latent=16)
FUSION = FusionConfig(tracks=("dwpose", "mediapipe-holistic"), hidden=32, latent=16, heads=2)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see conftest)."""


def test_forward_shapes():
    m = Video2Pose(TINY)
    out = m(torch.rand(2, 3, 3, 32, 32))
    assert out["keypoints"].shape == (2, 3, 128, 2)
    assert out["visibility"].shape == (2, 3, 128) and out["latent"].shape == (2, 3, 16)
    loss, parts = m.loss(m.example_batch(2))
    assert torch.isfinite(loss) and set(parts) == {"loss", "kpt", "vis", "latent"}


def _teacher_video(seed: int, T: int = 6) -> VideoTargets:
    """Frames with a bright square whose position the teacher track follows (made by the test)."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((T, 32, 32, 3), np.uint8)
    xy = np.full((T, 1, 543, 2), np.nan, np.float32)
    conf = np.zeros((T, 1, 543), np.float32)
    for t in range(T):
        cx, cy = rng.integers(6, 26, 2)
        frames[t, cy - 3:cy + 3, cx - 3:cx + 3] = 255
        pts = np.array([cx, cy], np.float32) * 10 + rng.normal(0, 5, (33, 2))
        xy[t, 0, :33], conf[t, 0, :33] = pts, 1.0
    pose = PoseSeq(xy, conf, fps=25, width=320, height=320, layout="mediapipe-holistic")
    return VideoTargets(f"v{seed}", frames, pose)


def test_tiny_distillation_overfits_and_round_trips(tmp_path):
    fusion = FusionModel(FUSION).eval()
    videos = [_teacher_video(0), _teacher_video(1)]
    model, hist = train_video2pose(videos, fusion, TINY, steps=120, batch_size=2, window=6, lr=3e-3, flip=False)
    assert np.mean([h["kpt"] for h in hist[-10:]]) < 0.5 * hist[0]["kpt"]
    pose, lat = model.predict(videos[0].frames, 320, 320, fps=25)
    assert pose.layout == "dwpose" and pose.xy.shape == (6, 1, 128, 2) and lat.shape == (6, 16)
    gloss = Pose2Gloss(GlossConfig(fusion=FUSION, d_model=32, heads=2, enc_layers=1, dec_layers=1,
                                   emb_dim=16), ["a", "b"])
    save_run(tmp_path / "run", gloss=gloss, video2pose=model)
    run = load_run(tmp_path / "run")
    x = torch.from_numpy(videos[1].frames).permute(0, 3, 1, 2).float().div(255)[None]
    with torch.no_grad():
        assert torch.equal(run.video2pose(x)["keypoints"], model(x)["keypoints"])


def test_recognize_cli_end_to_end(shared_data, tmp_path, capsys):
    from signverse.cli.main import main
    video = shared_data("videos", "asl_different.mp4")
    torch.manual_seed(0)
    gloss = Pose2Gloss(GlossConfig(fusion=FUSION, d_model=32, heads=2, enc_layers=1, dec_layers=1,
                                   emb_dim=16, max_frames=16), ["hello", "thanks", "yes"])
    save_run(tmp_path / "run", gloss=gloss, video2pose=Video2Pose(TINY))
    assert main(["recognize", str(video), "--model", str(tmp_path / "run"), "--json", "--top", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == "video2pose" and out["frames"] == 64
    assert len(out["glosses"]) == 1 and out["glosses"][0] in {"hello", "thanks", "yes"}
    assert len(out["top"][0]) == 2 and out["top"][0][0]["score"] >= out["top"][0][1]["score"]
    # User errors are one line, exit code 2.
    assert main(["recognize", str(tmp_path / "nope.mp4"), "--model", str(tmp_path / "run")]) == 2
    assert main(["recognize", str(video), "--model", str(tmp_path)]) == 2
    assert "not a SignX run directory" in capsys.readouterr().err


@pytest.mark.slow
def test_recognize_with_estimators_path(shared_data, tmp_path):
    pytest.importorskip("mediapipe")
    from signverse.models.signx import recognize_video
    video = shared_data("videos", "asl_house.mp4")
    gloss = Pose2Gloss(GlossConfig(fusion=FUSION, d_model=32, heads=2, enc_layers=1, dec_layers=1,
                                   emb_dim=16), ["house", "wrong"])
    save_run(tmp_path / "run", gloss=gloss)
    result = recognize_video(video, load_run(tmp_path / "run"), path="estimators", k=2)
    assert result.n_frames == 73 and result.glosses[0] in {"house", "wrong"}
    assert set(result.seconds) >= {"estimator", "gloss", "total"}


@pytest.mark.slow
def test_targets_come_from_one_decoding_pass_and_are_cached(shared_data, tmp_path, monkeypatch):
    from signverse.models.signx.video2pose import load_targets
    monkeypatch.setenv("SIGNVERSE_CACHE", str(tmp_path / "cache"))
    video = shared_data("videos", "asl_house.mp4")
    first = load_targets(video, 32, fps=6.0)
    assert first.frames.shape[1:] == (32, 32, 3)
    assert first.pose.n_frames == len(first.frames) and first.pose.fps == 6.0
    assert first.pose.layout == "mediapipe-holistic" and first.pose.n_persons == 1
    assert (first.pose.width, first.pose.height) == (320, 240)     # pixels of the original video
    assert first.pose.valid[:, 0, :33].any(-1).mean() > 0.9         # the signer is found
    again = load_targets(video, 32, fps=6.0)                          # now from the cache
    assert np.array_equal(again.frames, first.frames)
    assert np.array_equal(again.pose.valid, first.pose.valid)
    assert np.allclose(again.pose.xy[first.pose.valid], first.pose.xy[first.pose.valid])
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 1

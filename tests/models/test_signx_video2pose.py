"""SignX Video2Pose: shapes, views (crop geometry, mirroring), person box, smoothing, tiny overfit,
prediction, run round trip and the recognize CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.core.pose import PoseSeq  # noqa: E402
from signverse.models.signx import (FusionConfig, FusionModel, GlossConfig, Pose2Gloss, Video2Pose,  # noqa: E402
                                    Video2PoseConfig, load_run, save_run, train_video2pose)
from signverse.layouts import get_layout  # noqa: E402
from signverse.models.signx.video2pose import (VideoTargets, cut_views, from_view, letterbox_view,  # noqa: E402
                                               person_box, smooth_time, to_view)

TINY = Video2PoseConfig(image_size=32, frame_side=32, stem=8, d_model=32, heads=2, spatial_layers=1,
                        temporal_layers=1, latent=16, smooth=1)
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


def test_views_cut_where_the_keypoints_say():
    """A bright pixel of a 400x200 video, decoded at half size, lands in the crop where to_view
    puts its pixel coordinates, also rotated and mirrored; from_view inverts to_view."""
    W, H, S = 400, 200, 48
    frames = torch.zeros(4, 3, H // 2, W // 2)
    frames[:, :, 28:34, 148:154] = 1.0                         # video pixels [296, 308) x [56, 68)
    views = np.array([letterbox_view(W, H), [300, 60, 80], [290, 70, 120], [300, 60, 60]], np.float32)
    angle, mirror = np.array([0, 0, 0.3, 0]), np.array([False, False, False, True])
    crops = cut_views(frames, views, W, H, S, angle, mirror)
    assert crops.shape == (4, 3, S, S)
    where = to_view(np.full((4, 1, 2), [302.0, 62.0], np.float32), views, angle, mirror)[:, 0]
    grid = np.arange(S) + 0.5
    for crop, uv in zip(crops[:, 0].numpy(), where):
        centroid = [(crop.sum(0) * grid).sum() / crop.sum(), (crop.sum(1) * grid).sum() / crop.sum()]
        assert np.allclose(centroid, uv * S, atol=1.0)
    assert np.allclose(where[1], [0.525, 0.525]) and where[3][0] < 0.5    # mirrored: now left of centre
    xy = np.random.default_rng(0).uniform(0, 400, (4, 5, 2))
    assert np.allclose(from_view(to_view(xy, views), views), xy, atol=1e-4)


def test_person_box_and_smoothing():
    xy = np.zeros((3, 128, 2), np.float32)
    xy[:, 1] = [100, 50]                                     # neck
    xy[:, 2], xy[:, 5] = [80, 50], [120, 50]                 # shoulders 40 px apart
    box = person_box(xy, np.ones((3, 128), bool))
    assert np.allclose(box, [100, 50 + 0.5 * 40, 3.2 * 40])
    assert person_box(xy, np.zeros((3, 128), bool)) is None
    ramp = np.arange(10, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2))
    smoothed = smooth_time(ramp, 5)
    assert smoothed.shape == ramp.shape and np.allclose(smoothed[2:-2], ramp[2:-2])   # linear motion kept
    assert smoothed[0, 0, 0] == pytest.approx((0 + 0 + 0 + 1 + 2) / 5)             # edges repeated
    assert np.array_equal(smooth_time(ramp, 1), ramp)


def test_mirrored_targets_swap_hands():
    """A mirrored training clip has the signer's left hand in the right-hand slots, at mirrored x."""
    from signverse.models.signx.video2pose import _Prepared, _sample
    layout = get_layout("dwpose")
    kpt = np.zeros((2, 128, 2), np.float32)
    kpt[:, layout.slice("left_hand")] = [300, 100]
    kpt[:, layout.slice("right_hand")] = [100, 100]
    kpt[:, 1], kpt[:, 2], kpt[:, 5] = [200, 80], [150, 80], [250, 80]
    valid = np.zeros((2, 128), bool)
    valid[:, layout.slice("left_hand")] = True
    d = _Prepared(torch.zeros(2, 3, 50, 100, dtype=torch.uint8), 400, 200, kpt, valid,
                  np.zeros((2, 2, 4), np.float32), np.ones(2, bool), person_box(kpt, np.ones((2, 128), bool)))
    perm = layout.mirror_permutation
    seen = set()
    for seed in range(12):
        c = _sample(d, np.random.default_rng(seed), 2, 16, perm, 0.0, True)
        right = c["valid"][0, layout.slice("right_hand")].all()
        left = c["valid"][0, layout.slice("left_hand")].all()
        assert right != left
        u = float(c["keypoints"][0, layout.slice("right_hand" if right else "left_hand")][0, 0])
        assert (u < 0.5) if right else (u > 0.5)             # the hand stays on its side of the image
        seen.add(bool(right))
    assert seen == {True, False}


def _teacher_video(seed: int, T: int = 6) -> VideoTargets:
    """Frames with a bright square; the teacher's body (a fixed figure, shoulders 60 px apart)
    follows it (made by the test)."""
    rng = np.random.default_rng(seed)
    figure = np.random.default_rng(99).normal(0, 30, (33, 2))
    figure[11], figure[12] = [30, 0], [-30, 0]               # Holistic left / right shoulder
    frames = np.zeros((T, 32, 32, 3), np.uint8)                    # the 320x320 video at 32x32
    xy = np.full((T, 1, 543, 2), np.nan, np.float32)
    conf = np.zeros((T, 1, 543), np.float32)
    for t in range(T):
        cx, cy = rng.integers(10, 22, 2)
        frames[t, cy - 3:cy + 3, cx - 3:cx + 3] = 255
        xy[t, 0, :33], conf[t, 0, :33] = np.array([cx, cy], np.float32) * 10 + figure, 1.0
    pose = PoseSeq(xy, conf, fps=25, width=320, height=320, layout="mediapipe-holistic")
    return VideoTargets(f"v{seed}", frames, pose)


def test_tiny_distillation_overfits_and_round_trips(tmp_path):
    fusion = FusionModel(FUSION).eval()
    videos = [_teacher_video(0), _teacher_video(1)]
    model, hist = train_video2pose(videos, fusion, TINY, steps=120, batch_size=2, window=6, lr=3e-3, flip=False)
    assert np.mean([h["kpt"] for h in hist[-10:]]) < 0.5 * np.mean([h["kpt"] for h in hist[:5]])
    pose, lat = model.predict(videos[0].frames, 320, 320, fps=25)
    assert pose.layout == "dwpose" and pose.xy.shape == (6, 1, 128, 2) and lat.shape == (6, 16)
    kpt, vis, _ = model.predict_keypoints(videos[0].frames, 320, 320)
    assert kpt.shape == (6, 128, 2) and np.isfinite(kpt).all() and vis.shape == (6, 128)
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
    assert first.frames.shape[1:] == (24, 32, 3)                     # long side 32, aspect kept
    assert first.pose.n_frames == len(first.frames) and first.pose.fps == 6.0
    assert first.pose.layout == "mediapipe-holistic" and first.pose.n_persons == 1
    assert (first.pose.width, first.pose.height) == (320, 240)     # pixels of the original video
    assert first.pose.valid[:, 0, :33].any(-1).mean() > 0.9         # the signer is found
    again = load_targets(video, 32, fps=6.0)                          # now from the cache
    assert np.array_equal(again.frames, first.frames)
    assert np.array_equal(again.pose.valid, first.pose.valid)
    assert np.allclose(again.pose.xy[first.pose.valid], first.pose.xy[first.pose.valid])
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 2        # teacher track + frames
    from signverse.models.signx import video2pose

    def no_teacher(*_a):
        raise AssertionError("the teacher ran again")
    monkeypatch.setattr(video2pose, "_frames_and_teacher", no_teacher)
    larger = load_targets(video, 64, fps=6.0)                         # new size: the teacher is not re-run
    assert larger.frames.shape[1:] == (48, 64, 3) and np.array_equal(larger.pose.valid, first.pose.valid)

"""SignX fusion: shapes, masks (missing tracks/points), real paired tracks, overfit, save/load."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.layouts import get_layout  # noqa: E402
from signverse.models.signx import (SMPLX_LAYOUT, FrameSet, FusionConfig, FusionModel, load_run,  # noqa: E402
                                    normalise_tracks, save_run, smplx_track, train_fusion)
from signverse.models.signx.fusion import to_torch  # noqa: E402
from signverse.models.signx.paired import load_tracks  # noqa: E402

SMALL = dict(hidden=48, latent=24, heads=2)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see conftest)."""


def _rand_tracks(n=5, tracks=("dwpose", "coco-wholebody"), seed=0):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for t in tracks:
        k = get_layout(t).num_points
        out[t] = (torch.randn(n, k, 2, generator=g), torch.rand(n, k, generator=g) > 0.2)
    return out


def test_shapes_any_subset_of_tracks():
    m = FusionModel(FusionConfig(**SMALL)).eval()
    batch = _rand_tracks(tracks=("dwpose", "openpose-137", "mediapipe-holistic", SMPLX_LAYOUT))
    for subset in (("dwpose",), ("openpose-137", SMPLX_LAYOUT), tuple(batch)):
        z = m({t: batch[t] for t in subset})
        assert z.shape == (5, 24) and torch.isfinite(z).all()
    seq = {t: (p.view(1, 5, *p.shape[1:]), v.view(1, 5, -1)) for t, (p, v) in batch.items()}
    assert m(seq).shape == (1, 5, 24)
    assert m.decode(m(seq), "coco-wholebody").shape == (1, 5, 133, 2) if "coco-wholebody" in m.tracks else True
    assert m.decode(m(seq), "dwpose").shape == (1, 5, 128, 2)


def test_masked_points_and_missing_tracks_change_nothing_and_never_nan():
    m = FusionModel(FusionConfig(**SMALL)).eval()
    batch = _rand_tracks()
    with torch.no_grad():
        z = m(batch)
        # Values under the mask (even NaN / inf) must not matter.
        p, v = batch["dwpose"]
        junk = torch.where(v.unsqueeze(-1), p, torch.full_like(p, float("nan")))
        junk[~v] = float("inf")
        assert torch.equal(m({**batch, "dwpose": (junk, v)}), z)
        # A track present with no valid point == the track not given at all.
        empty = (torch.full_like(p, float("nan")), torch.zeros_like(v))
        assert torch.allclose(m({**batch, "dwpose": empty}), m({"coco-wholebody": batch["coco-wholebody"]}))
        # A frame where no track has any point still gives a finite latent, and frames are independent.
        c_p, c_v = batch["coco-wholebody"]
        c_v2 = c_v.clone()
        c_v2[2] = False
        v2 = v.clone()
        v2[2] = False
        z2 = m({"dwpose": (p, v2), "coco-wholebody": (c_p, c_v2)})
        assert torch.isfinite(z2).all()
        assert torch.allclose(z2[[0, 1, 3, 4]], z[[0, 1, 3, 4]], atol=1e-6)
        # The loss stays finite when points or whole tracks are missing.
        m.train()
        loss, parts = m.loss({"dwpose": (junk, v2), "coco-wholebody": (c_p, c_v2)})
        assert torch.isfinite(loss) and all(np.isfinite(x) for x in parts.values())


def test_unknown_track_is_an_error():
    m = FusionModel(FusionConfig(tracks=("dwpose",), **SMALL))
    with pytest.raises(KeyError):
        m(_rand_tracks(tracks=("coco-wholebody",)))


def test_smplx_track_layout():
    pose = smplx_track(np.random.default_rng(0).normal(size=(4, 55, 3)) * 50 + 200, fps=25, width=400, height=400)
    assert pose.layout == SMPLX_LAYOUT and pose.xy.shape == (4, 1, 55, 2)
    norm, ref = normalise_tracks({SMPLX_LAYOUT: pose})
    assert norm[SMPLX_LAYOUT][0].shape == (4, 55, 2) and np.isfinite(norm[SMPLX_LAYOUT][0]).all()


def test_real_paired_tracks_share_one_reference(shared_data):
    P = shared_data("poses")
    poses = load_tracks([P / "poses_FOOTBALL.pose", P / "poses_mmposewholebody_FOOTBALL.pose"],
                        derive=("dwpose",))
    assert set(poses) == {"mediapipe-holistic", "coco-wholebody", "dwpose"}
    norm, ref = normalise_tracks(poses)
    # Same frames from two real estimators: after the shared normalisation the shoulders of both
    # tracks land near (+-0.5, 0) and their wrists agree within a small fraction of shoulder width.
    coco, hol = get_layout("coco-wholebody"), get_layout("mediapipe-holistic")
    for a in ("left_shoulder", "right_wrist"):
        pc, vc = norm["coco-wholebody"][0][:, coco.anchor(a)], norm["coco-wholebody"][1][:, coco.anchor(a)]
        ph, vh = norm["mediapipe-holistic"][0][:, hol.anchor(a)], norm["mediapipe-holistic"][1][:, hol.anchor(a)]
        ok = vc & vh
        assert ok.sum() > 40
        assert np.median(np.linalg.norm(pc[ok] - ph[ok], axis=-1)) < 0.15
    ls = norm["mediapipe-holistic"][0][:, hol.anchor("left_shoulder")]
    rs = norm["mediapipe-holistic"][0][:, hol.anchor("right_shoulder")]
    assert abs(np.median(np.linalg.norm(ls - rs, axis=-1)) - 1.0) < 0.2


def test_tiny_overfit_on_real_paired_frames_and_round_trip(shared_data, tmp_path):
    P = shared_data("poses")
    poses = load_tracks([P / "poses_FOOTBALL.pose", P / "poses_mmposewholebody_FOOTBALL.pose"],
                        derive=("dwpose",))
    norm, _ = normalise_tracks(poses)
    norm.pop("mediapipe-holistic")   # keep the test fast: the 128- and 133-point tracks only
    cfg = FusionConfig(tracks=("dwpose", "coco-wholebody"), hidden=64, latent=32, heads=2, point_dropout=0.0)
    frames = FrameSet.from_clips([norm], cfg.tracks)
    model, hist = train_fusion(frames, cfg, steps=120, batch_size=32, lr=3e-3, log_every=0)
    first, last = hist[0]["recon"], np.mean([h["recon"] for h in hist[-10:]])
    assert last < 0.02 and last < 0.1 * first
    # Masked-track prediction: the real MMPose track from the (Holistic-derived) dwpose track alone.
    x = to_torch(frames.tracks)
    with torch.no_grad():
        pred = model.predict_track({"dwpose": x["dwpose"]}, "coco-wholebody")
    pts, val = x["coco-wholebody"]
    err = ((pred - pts) ** 2).sum(-1).sqrt()[val]
    assert float(err.median()) < 0.2
    save_run(tmp_path / "run", fusion=model)
    back = load_run(tmp_path / "run").fusion
    with torch.no_grad():
        assert torch.equal(back(x), model(x))


def test_as_track_picks_the_model_layout():
    from signverse.core.pose import PoseSeq
    from signverse.models.signx.tracks import as_track
    pose = PoseSeq(np.full((2, 1, 576, 2), 10, np.float32), np.ones((2, 1, 576), np.float32), fps=25,
                   width=64, height=64, layout="mediapipe-holistic-world")
    name, out = as_track(pose, ("dwpose", "mediapipe-holistic"))
    assert name == "mediapipe-holistic" and out.n_points == 543        # same family first
    name, out = as_track(pose, ("dwpose",))
    assert name == "dwpose" and out.n_points == 128
    with pytest.raises(Exception, match="cannot feed"):
        as_track(pose, (SMPLX_LAYOUT,))


def test_prior_is_the_layout_conversion_of_the_other_tracks(shared_data):
    from signverse.layouts import convert
    P = shared_data("poses")
    poses = load_tracks([P / "poses_mmposewholebody_FOOTBALL.pose"])
    norm, ref = normalise_tracks({"coco-wholebody": poses["coco-wholebody"]})
    m = FusionModel(FusionConfig(tracks=("dwpose", "coco-wholebody"), **SMALL))
    x = to_torch(norm)
    prior, has = m.prior(x, "dwpose")
    expect, _ = normalise_tracks({"dwpose": convert(poses["coco-wholebody"], "dwpose")}, ref)
    ok = has.numpy() & expect["dwpose"][1]
    assert ok.sum() > 0.8 * expect["dwpose"][1].sum()
    assert np.allclose(prior.numpy()[ok], expect["dwpose"][0][ok], atol=1e-5)
    assert m.prior(x, "coco-wholebody") is None          # a track is never its own prior

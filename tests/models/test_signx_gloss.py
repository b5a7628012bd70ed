"""SignX Pose2Gloss: diffusion shapes, masks, isolated + continuous overfit, classifier peer, round trip."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.layouts import convert  # noqa: E402
from signverse.models.signx import (END, FusionConfig, GlossConfig, Pose2Gloss, PoseClassifier,  # noqa: E402
                                    load_run, normalise_tracks, predict_scores, save_run, train_gloss)
from signverse.data import load_islr  # noqa: E402
from signverse.models.signx.sequences import collate  # noqa: E402

TINY = GlossConfig(fusion=FusionConfig(tracks=("dwpose", "mediapipe-holistic"), hidden=48, latent=24, heads=2),
                   d_model=32, heads=2, enc_layers=1, dec_layers=1, emb_dim=16, max_frames=12,
                   dropout=0.0, diffusion_steps=50, infer_steps=4)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see conftest)."""


def _clip(T, seed, k=128):
    rng = np.random.default_rng(seed)
    return {"dwpose": (rng.normal(size=(T, k, 2)).astype(np.float32), rng.random((T, k)) > 0.1)}


def test_scores_shapes_and_padding_does_not_leak():
    m = Pose2Gloss(TINY, ["a", "b", "c"]).eval()
    short, long = _clip(5, 0), _clip(12, 1)
    tracks, mask = collate([short, long], TINY.fusion.tracks, TINY.max_frames)
    assert mask.tolist()[0] == [True] * 5 + [False] * 7
    s_batch = m.scores(tracks, mask)
    assert s_batch.shape == (2, 1, 3) and torch.isfinite(s_batch).all()
    alone = m.scores(*collate([short], TINY.fusion.tracks, TINY.max_frames))
    assert torch.allclose(alone[0], s_batch[0], atol=1e-5)   # padding frames change nothing
    # Deterministic sampling (seeded DDIM), scores are cosines.
    assert torch.equal(m.scores(tracks, mask), s_batch) and float(s_batch.abs().max()) <= 1.0 + 1e-5


def test_decode_stops_at_end_token():
    m = Pose2Gloss(GlossConfig(fusion=TINY.fusion, max_len=4, d_model=32, heads=2, emb_dim=16), ["x", "y"])
    assert m.vocab[0] == END
    scores = torch.zeros(1, 4, 3)
    for slot, tok in enumerate([1, 2, 0, 1]):
        scores[0, slot, tok] = 1
    assert m.decode(scores) == [["x", "y"]]
    assert m.targets([[1, 2]]).tolist() == [[1, 2, 0, 0]]


def _islr_few(shared_data, n_classes=4):
    items = load_islr(shared_data("islr"), signers=["electronicaddict__Jupyter"])
    picked, seen = [], set()
    for it in items:
        if it.label not in seen:
            seen.add(it.label)
            picked.append(it)
        if len(picked) == n_classes:
            break
    clips = [normalise_tracks({"mediapipe-holistic": it.pose, "dwpose": convert(it.pose, "dwpose")})[0]
             for it in picked]
    return clips, [[it.label] for it in picked]


def test_isolated_overfit_recognises_training_items_exactly_and_round_trips(shared_data, tmp_path):
    clips, labels = _islr_few(shared_data)
    model, hist = train_gloss(clips, labels, TINY, epochs=100, batch_size=4, lr=3e-3,
                              augment_clips=False, track_dropout=0.0)
    assert np.mean([h["loss"] for h in hist[-5:]]) < 0.5 * hist[0]["loss"]
    scores = predict_scores(model, clips)[:, 0]
    assert [model.vocab[i] for i in scores.argmax(1)] == [l[0] for l in labels]
    save_run(tmp_path / "run", gloss=model, info={"test": True})
    back = load_run(tmp_path / "run").gloss
    assert np.allclose(predict_scores(back, clips), predict_scores(model, clips), atol=1e-6)


def test_classifier_peer_overfits(shared_data):
    clips, labels = _islr_few(shared_data, 3)
    model, _ = train_gloss(clips, labels, TINY, classifier=True, epochs=40, batch_size=4, lr=3e-3,
                           augment_clips=False, track_dropout=0.0)
    assert isinstance(model, PoseClassifier)
    scores = predict_scores(model, clips)
    assert scores.shape == (3, 1, 3)
    assert [model.vocab[i] for i in scores[:, 0].argmax(1)] == [l[0] for l in labels]


def test_continuous_glosses_overfit_on_phoenix(shared_data):
    from signverse.data.phoenix import read_phoenix
    samples = read_phoenix(shared_data("phoenix"), "train")[:3]
    clips = [normalise_tracks({"dwpose": convert(s.pose, "dwpose")})[0] for s in samples]
    glosses = [s.label.split()[:5] for s in samples]
    cfg = GlossConfig(fusion=FusionConfig(tracks=("dwpose",), hidden=48, latent=24, heads=2), d_model=48,
                      heads=2, enc_layers=1, dec_layers=1, emb_dim=32, max_len=6, max_frames=16,
                      dropout=0.0, diffusion_steps=50, infer_steps=4)
    model, hist = train_gloss(clips, glosses, cfg, epochs=250, batch_size=3, lr=3e-3, augment_clips=False)
    scores = predict_scores(model, clips)
    assert scores.shape == (3, 6, len(model.vocab))
    assert model.decode(torch.from_numpy(scores)) == glosses


def test_train_task_hook_writes_a_loadable_run(shared_data, tmp_path):
    from signverse.models.signx.train import train_task
    folder = tmp_path / "islr"
    folder.mkdir()
    src = shared_data("islr", "divyashC__BSL-Word-Level.npz")
    (folder / src.name).symlink_to(src)
    cfg = GlossConfig(fusion=FusionConfig(tracks=("dwpose",), hidden=32, latent=16, heads=2), d_model=32,
                      heads=2, enc_layers=1, dec_layers=1, emb_dim=16, max_frames=8)
    out = train_task("signx-gloss", folder, tmp_path / "run", epochs=1, config=cfg)
    assert np.isfinite(out["loss"])
    run = load_run(tmp_path / "run")
    assert sorted(run.gloss.vocab) == ["good", "no", "yes"]
    with pytest.raises(Exception, match="unknown SignX task"):
        train_task("signx-nope", folder, tmp_path / "x")


def test_classifier_prior_scores_are_a_distribution_and_old_configs_have_none():
    m = Pose2Gloss(TINY, ["a", "b", "c"]).eval()
    assert m.use_prior
    tracks, mask = collate([_clip(6, 2), _clip(9, 3)], TINY.fusion.tracks, TINY.max_frames)
    for steps in (1, 4):
        s = m.scores(tracks, mask, steps=steps)
        assert s.shape == (2, 1, 3) and torch.allclose(s.sum(-1), torch.ones(2, 1), atol=1e-5)
    batch = m.example_batch(2)
    loss, parts = m.train().loss(batch)
    assert "prior_ce" in parts and torch.isfinite(loss)
    # a config saved before the prior existed loads as plain diffusion (no prior head weights)
    import dataclasses
    old = dataclasses.asdict(TINY)
    old.pop("prior_weight")
    plain = Pose2Gloss(GlossConfig.from_dict(old), ["a", "b", "c"]).eval()
    assert not plain.use_prior and not any(k.startswith("prior") for k in plain.state_dict())
    assert float(plain.scores(tracks, mask).abs().max()) <= 1.0 + 1e-5      # cosines
    # continuous signing (several slots) has no prior
    assert not Pose2Gloss(dataclasses.replace(TINY, max_len=3), ["a", "b"]).use_prior

"""ISLR inference extras: handshape distances, the classical clip classifier averaged with the
network, test-time augmentation, and training on every signer for a fixed epoch count."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.core.errors import SignverseError  # noqa: E402
from signverse.train.clip_classifier import ClipClassifier, clip_vector  # noqa: E402
from signverse.data.features.encoder import FEATURE_DIMS, LH, N_SHAPE, RH, frame_features, hand_distances  # noqa: E402
from signverse.train.run import evaluate_run, load_run, train_task  # noqa: E402

TINY = {"d_model": 16, "n_heads": 2, "n_layers": 1, "conv_kernel": 3, "members": 1}


def test_hand_distances_ignore_rotation_scale_and_mirroring():
    rng = np.random.default_rng(0)
    hand = rng.normal(size=(6, 21, 2)).astype(np.float32)
    th = 0.7
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
    moved = (hand @ rot.T) * 3.0 + 5.0
    moved[..., 0] *= -1                                       # mirrored
    assert np.allclose(hand_distances(hand), hand_distances(moved), atol=1e-4)
    hand[2, 7] = np.nan                                       # a frame without the whole hand
    d = hand_distances(hand)
    assert d.shape == (6, N_SHAPE) and np.isfinite(d).all() and not d[2].any() and d[1].any()


def test_shape_feature_set_extends_base():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(9, 54, 2)).astype(np.float32)
    pts[3, LH] = np.nan
    f = frame_features(pts, "shape")
    assert f.shape == (9, FEATURE_DIMS["shape"]) and np.isfinite(f).all()
    assert np.array_equal(f[:, :FEATURE_DIMS["base"]], frame_features(pts))
    assert np.allclose(f[:, -N_SHAPE:], hand_distances(pts[:, RH]))


def test_clip_classifier_learns_and_round_trips():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    model = ClipClassifier.fit(x, y, 4)
    lp = model.log_probs(x)
    assert lp.shape == (120, 4) and np.allclose(np.exp(lp).sum(1), 1, atol=1e-5)
    assert (lp.argmax(1) == y).mean() > 0.9
    back = ClipClassifier.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.allclose(back.log_probs(x), lp, atol=1e-6)


def test_clip_vector_with_a_missing_hand():
    pts = np.random.default_rng(2).normal(size=(8, 54, 2)).astype(np.float32)
    pts[:, LH] = np.nan                                       # never seen: zeros, presence 0
    v = clip_vector(pts)
    assert np.isfinite(v).all() and v.shape == (2 * FEATURE_DIMS["base"] + 2 * (2 * N_SHAPE + 1),)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tests.train.conftest import synthetic_samples
    samples = synthetic_samples(n_per=3, n_signers=3)
    out = tmp_path_factory.mktemp("islr") / "run"
    metrics = train_task("islr", None, out, epochs=3, samples=samples, progress=False, model_overrides=TINY,
                         train_overrides={"lr": 3e-3, "dev_part": False, "refit_all": False},
                         recipe_overrides={"tta": 2, "clip_weight": 0.5, "features": "shape"})
    return out, samples, metrics


def test_all_train_run_uses_every_sample_and_saves_the_clip_classifier(run):
    out, samples, metrics = run
    split = json.loads((out / "split.json").read_text())
    assert len(split["train"]) == len(samples) and not split["dev"]
    assert metrics["n_dev"] == 0 and metrics["epochs_run"] == 3
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["recipe"]["tta"] == 2 and cfg["recipe"]["clip_weight"] == 0.5 and cfg["clip_classifier"]["weight"]


def test_scores_average_tta_copies_and_the_clip_classifier(run):
    out, samples, _ = run
    loaded = load_run(out)
    recipe, model = loaded.recipe, loaded.model
    items = recipe.prepare(samples[:10])
    plain = recipe.scores(model, items, tta=0, clip_weight=0)
    tta = recipe.scores(model, items, clip_weight=0)
    clip = recipe.scores(model, items, clip_weight=1)
    both = recipe.scores(model, items)
    assert not np.allclose(plain, tta)                        # the copies differ from the clip
    assert np.allclose(np.exp(both), 0.5 * np.exp(tta) + 0.5 * np.exp(clip), atol=1e-5)
    # a clip's prediction does not depend on the batch it is in (TTA randomness is per clip)
    alone = recipe.scores(model, items[3:4])
    assert np.allclose(alone[0], both[3], atol=1e-5)
    assert np.allclose(recipe.scores(model, items), both)    # repeatable


def test_evaluate_and_predict_use_the_ensemble_by_default(run):
    out, samples, _ = run
    res = evaluate_run(out, None, samples=samples)
    assert 0 <= res["top1"] <= 1 and res["ms_per_clip"] > 0
    loaded = load_run(out)
    items = loaded.recipe.prepare(samples[:4])
    want = np.exp(loaded.recipe.scores(loaded.model, items))
    got = [r["top"][0]["p"] for r in loaded.recipe.predict(loaded.model, items)]
    assert np.allclose(got, want.max(1), atol=1e-4)


def test_clip_weight_without_a_clip_classifier_is_refused(run):
    out, samples, _ = run
    loaded = load_run(out)
    loaded.recipe.clip_model = None
    with pytest.raises(SignverseError, match="no clip classifier"):
        loaded.recipe.scores(loaded.model, loaded.recipe.prepare(samples[:2]))


def test_islr_default_trains_on_every_signer_with_handshape_features(tmp_path, samples):
    """The defaults: no dev part, fixed epochs, handshape distances; TTA and the clip classifier
    stay off (they did not help once the network had the handshape features)."""
    out = tmp_path / "run"
    metrics = train_task("islr", None, out, epochs=2, samples=samples[::3], progress=False, model_overrides=TINY)
    split = json.loads((out / "split.json").read_text())
    assert split["protocol"].startswith("all-train") and metrics["n_train"] == len(samples[::3])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["recipe"]["features"] == "shape" and cfg["io"]["n_features"] == FEATURE_DIMS["shape"]
    assert cfg["recipe"]["tta"] == 0 and cfg["recipe"]["clip_weight"] == 0 and "clip_classifier" not in cfg


def test_predict_rows_report_the_time_per_clip(run):
    out, samples, _ = run
    loaded = load_run(out)
    rows = loaded.recipe.predict(loaded.model, loaded.recipe.prepare(samples[:3]))
    assert all(r["ms_per_clip"] > 0 for r in rows)


def test_shape3d_measures_handshape_in_depth_and_equals_shape_without_it():
    from signverse.data.features.encoder import AugmentConfig, augment_points, normalise_points
    rng = np.random.default_rng(2)
    flat = rng.normal(size=(5, 54, 2)).astype(np.float32)
    no_depth = np.concatenate([flat, np.zeros((5, 54, 1), np.float32)], -1)
    assert np.array_equal(frame_features(no_depth, "shape3d"), frame_features(flat, "shape"))
    assert np.array_equal(frame_features(no_depth, "shape"), frame_features(flat, "shape"))
    # the index finger pointing at the camera: the same 2D picture, a longer finger in 3D
    deep = no_depth.copy()
    deep[:, RH.start + 8, 2] = 2.0                          # right index fingertip, towards the viewer
    d2, d3 = frame_features(no_depth, "shape3d"), frame_features(deep, "shape3d")
    assert np.array_equal(d2[:, :-N_SHAPE], d3[:, :-N_SHAPE]) and (d3[:, -N_SHAPE:] != d2[:, -N_SHAPE:]).any()
    # normalisation scales depth with the shoulder width but does not centre it; augmentation's
    # affine map and hand turn leave it alone
    pts = no_depth + np.float32([0.0, 0.0, 0.5])
    norm = normalise_points(pts * 3.0)
    assert np.allclose(norm[..., :2], normalise_points(flat * 3.0), atol=1e-5)
    width = np.median(np.linalg.norm(flat[:, 5] - flat[:, 2], axis=-1) * 3.0)
    assert np.allclose(norm[..., 2], 1.5 / width, atol=1e-5)
    cfg = AugmentConfig(jitter=0.0, hand_drop=0.0, speed=0.0, crop=0.0)
    moved = augment_points(norm, np.random.default_rng(0), cfg)
    assert np.allclose(moved[..., 2], norm[..., 2]) and not np.allclose(moved[..., :2], norm[..., :2])

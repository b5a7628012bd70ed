"""Text->pose judged by back-translation, motion realism and baselines (library and CLI)."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.cli.main import main  # noqa: E402
from signverse.models.signdw.text2pose_baselines import (dba, mean_sequence, median_sequence, medoid,  # noqa: E402
                                                         word_baselines)
from signverse.train.recipes import Text2PoseRecipe  # noqa: E402
from signverse.train.run import train_task  # noqa: E402
from signverse.train.text2pose_eval import (backtranslation, evaluate_text2pose_run,  # noqa: E402
                                            velocity_ratio)

TINY_ENC = {"d_model": 32, "n_heads": 2, "n_layers": 1}
TINY_T2P = {"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 1}


def _clip(n=10, speed=1.0, seed=0):
    """[n, 384] frames: every point moves along x at ``speed`` per frame; all points present."""
    rng = np.random.default_rng(seed)
    f = np.zeros((n, 128, 3), np.float32)
    f[..., 0] = rng.normal(size=128) + speed * np.arange(n)[:, None]
    f[..., 1] = rng.normal(size=128)
    f[..., 2] = 1.0
    return f.reshape(n, -1)


def test_velocity_ratio_static_real_and_faster():
    real = [_clip(10, 0.1, s) for s in range(3)]
    static = [np.repeat(c[:1], 10, 0) for c in real]
    assert velocity_ratio(static, real) == pytest.approx(0.0)
    assert velocity_ratio(real, real) == pytest.approx(1.0)
    assert velocity_ratio([_clip(10, 0.2, s) for s in range(3)], real) == pytest.approx(2.0, rel=1e-4)
    # reference points that are absent (conf 0) do not count as motion
    hidden = [c.reshape(10, 128, 3).copy() for c in real]
    for h in hidden:
        h[5:, :, :2] = 50.0
        h[5:, :, 2] = 0.0
    assert velocity_ratio(real, [h.reshape(10, -1) for h in hidden]) == pytest.approx(1.0, rel=1e-4)
    assert np.isnan(velocity_ratio(real, static))                   # references that never move


def test_baselines_mean_and_medoid():
    a = _clip(8, 0.1, 0)
    assert np.allclose(mean_sequence([a, a]), a, atol=1e-6)
    short = mean_sequence([a, _clip(12, 0.1, 1), _clip(10, 0.1, 2)])
    assert short.shape == (10, 384)                                  # median length
    centre, far = _clip(8, 0.1, 0), _clip(8, 0.1, 0)
    far[:, 0::3] += 5.0
    near = centre.copy()
    near[:, 0::3] += 1.0
    assert np.array_equal(medoid([far, centre, near]), near) or np.array_equal(medoid([far, centre, near]), centre)
    assert not np.array_equal(medoid([far, centre, near]), far)
    built = word_baselines(["x", "x", "y"], [a, a, _clip(6)])
    assert set(built) == {"mean_sequence", "nearest_example"} and set(built["mean_sequence"]) == {"x", "y"}


def test_dba_keeps_a_motion_that_the_mean_blurs():
    """Clips of one word: the same 0 -> 1 -> 0 bump at different times. The frame-by-frame mean
    peaks well below 1; the DTW barycenter keeps the bump."""
    clips = []
    t = np.arange(14, dtype=np.float32)
    for shift in range(4):
        f = np.zeros((14, 128, 3), np.float32)
        f[..., 0] = np.clip(1 - np.abs(t - 4 - 2 * shift) / 2, 0, None)[:, None]
        f[..., 2] = 1.0
        f[:, 100:, 2] = 0.0                                              # a part never shown
        clips.append(f.reshape(14, -1))
    blur = mean_sequence(clips).reshape(14, 128, 3)
    sharp = dba(clips).reshape(14, 128, 3)
    assert blur[..., 0].max() < 0.7 and sharp[..., 0].max() > 0.95
    assert sharp[:, :100, 2].min() == 1.0 and sharp[:, 100:, 2].max() == 0.0


def test_median_sequence_resists_an_outlying_signer():
    clips = [_clip(8, 0.1, 0) for _ in range(4)]
    far = clips[0].copy()
    far.reshape(8, 128, 3)[..., 0] += 10.0
    robust = median_sequence(clips + [far]).reshape(8, 128, 3)
    pulled = mean_sequence(clips + [far]).reshape(8, 128, 3)
    truth = clips[0].reshape(8, 128, 3)
    assert np.abs(robust[..., :2] - truth[..., :2]).max() < 0.05
    assert np.abs(pulled[..., 0] - truth[..., 0]).min() > 1.9
    assert np.allclose(robust[..., 2], 1.0)


_RUNS: dict = {}


@pytest.fixture
def runs(tmp_path_factory, samples):
    """An islr recognizer and a text2pose run trained once for this module's tests."""
    if _RUNS:
        return _RUNS["runs"]
    tmp = tmp_path_factory.mktemp("t2p_eval")
    islr = tmp / "islr"
    train_task("islr", None, islr, epochs=12, samples=samples, model_overrides=TINY_ENC,
               train_overrides={"lr": 3e-3})
    t2p = tmp / "t2p"
    train_task("text2pose", None, t2p, epochs=3, samples=samples, model_overrides=TINY_T2P)
    _RUNS["runs"] = (samples, islr, t2p)
    return _RUNS["runs"]


def test_backtranslation_of_real_and_generated(runs):
    samples, islr, t2p = runs
    recipe = Text2PoseRecipe()
    items = recipe.fit_data(samples)
    real = backtranslation(islr, [it.points for it in items], [it.extra["text"] for it in items])
    # the recognizer knows labels, the texts of odd words are "<word> friend": unknown, counted wrong
    assert real["backtranslation_n"] == len(items) and real["backtranslation_n_unknown"] == len(items) // 2
    labels = [s.label for s in samples]
    real = backtranslation(islr, [it.points for it in items], labels)
    assert real["backtranslation_top1"] > 0.5 and real["backtranslation_n_unknown"] == 0   # chance 0.25
    with pytest.raises(Exception, match="not an islr run"):
        backtranslation(t2p, [items[0].points], [labels[0]])


def test_evaluate_run_reports_model_and_baselines(runs):
    samples, islr, t2p = runs
    res = evaluate_text2pose_run(t2p, samples=samples[:8], recognizer=islr, baselines=True,
                                 train_samples=samples)
    for figures in (res, res["baselines"]["mean_sequence"], res["baselines"]["nearest_example"]):
        assert {"dtw_mje", "velocity_ratio", "backtranslation_top1", "backtranslation_top5"} <= set(figures)
        assert figures["n"] == 8 and np.isfinite(figures["dtw_mje"])
    # the nearest training example is a real clip of the same signers: it moves like the data
    assert 0.5 < res["baselines"]["nearest_example"]["velocity_ratio"] < 2.0


def test_cli_evaluate_with_recognizer_and_baselines(tmp_path, pose_folder, runs, capsys):
    _, islr, _ = runs
    t2p = tmp_path / "t2p"
    train_task("text2pose", pose_folder, t2p, epochs=2, model_overrides=TINY_T2P)
    assert main(["evaluate", str(t2p), "--data", str(pose_folder), "--recognizer", str(islr),
                 "--baselines", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "backtranslation_top1" in res and "velocity_ratio" in res
    assert set(res["baselines"]) == {"mean_sequence", "nearest_example"}
    # a recognizer that is not an islr run: one line, exit 2
    assert main(["evaluate", str(t2p), "--data", str(pose_folder), "--recognizer", str(t2p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an islr run" in err[0]
    # --baselines on a run that is not text2pose
    assert main(["evaluate", str(islr), "--data", str(pose_folder), "--baselines"]) == 2


def test_default_run_keeps_the_training_words_templates(runs, tmp_path):
    """The default model sets each training text's median sequence in motion: the run saves them with its
    weights, and predicting a known word writes a pose in pixels inside the training frame."""
    from signverse.train.run import load_run, predict_run
    samples, _, t2p = runs
    loaded = load_run(t2p)
    assert loaded.files.model_name == "signdw-text2pose-template"
    model, recipe = loaded.model, loaded.recipe
    train_ids = set(loaded.files.split["train"])          # templates come from the run's training part
    items = Text2PoseRecipe().fit_data([s for s in samples if s.sample_id in train_ids])
    texts = sorted({it.extra["text"] for it in items})
    assert int(model.tmpl_used.sum()) == len(texts) == loaded.files.config["io"]["n_templates"]
    hello = [it.points for it in items if it.extra["text"] == "hello"]
    idx = int(model.template_index(torch.tensor([recipe.vocab.encode("hello")]))[0])
    saved = model.tmpl_frames[idx].numpy()
    expected = median_sequence(hello)
    assert np.allclose(saved[0], expected[0], atol=1e-4) and np.allclose(saved[-1], expected[-1], atol=1e-4)
    row = predict_run(t2p, "hello")[0]
    pose = row["pose"]
    shown = pose.conf[:, 0] > 0
    assert shown.any() and pose.width == 640 and pose.height == 480
    xy = pose.xy[:, 0][shown]
    assert (xy[:, 0] > 0).all() and (xy[:, 0] < 640).all() and (xy[:, 1] > 0).all() and (xy[:, 1] < 480).all()

"""Tiny end-to-end train -> evaluate -> predict per task, through the library and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from signverse.cli.main import main  # noqa: E402
from signverse.train.run import evaluate_run, load_run, predict_run, train_task  # noqa: E402

TINY_ENC = {"d_model": 32, "n_heads": 2, "n_layers": 1, "dec_layers": 1}
TINY_T2P = {"d_model": 32, "n_heads": 2, "enc_layers": 1, "dec_layers": 1}


def _files(run):
    return {p.name for p in run.iterdir()}


def test_islr_library_round_trip(tmp_path, samples):
    run = tmp_path / "islr"
    metrics = train_task("islr", None, run, epochs=12, samples=samples, model_overrides=TINY_ENC,
                         train_overrides={"lr": 3e-3, "dev_part": True, "refit_all": True, "patience": 8})
    assert {"config.json", "model.pt", "vocab.json", "split.json", "metrics.json", "log.jsonl"} <= _files(run)
    split = json.loads((run / "split.json").read_text())
    dev_signers = {i.split("/")[0] for i in split["dev"]}
    train_signers = {i.split("/")[0] for i in split["train"]}
    assert dev_signers and not dev_signers & train_signers          # signer-disjoint early stopping
    # early stopping on a dev part, then a refit on train + dev for the early-stopping epoch count
    assert metrics["refit_epochs"] == max(metrics["best_epoch"] + 1, 10)
    assert split["meta"]["refit_on"] == "train+dev" and metrics["n_train"] == len(samples)
    res = evaluate_run(run, None, samples=samples)
    assert set(res) >= {"top1", "top5", "top1_per_class", "top5_per_class", "macro_f1"}
    assert res["top1"] > 0.5                                        # 4 classes: chance is 0.25
    assert metrics["dev"]["n"] == len(split["dev"])


def test_islr_cli_on_pose_folder(tmp_path, pose_folder, capsys):
    run = tmp_path / "run"
    assert main(["train", "islr", "--data", str(pose_folder), "--out", str(run), "--epochs", "3",
                 "--set", "d_model=32", "--set", "n_layers=1", "--set", "n_heads=2",
                 "--set", "refit_all=false", "--set", "max_frames=64"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model_config"]["d_model"] == 32 and cfg["train"]["refit_all"] is False
    assert cfg["recipe"]["max_frames"] == 64
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(pose_folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["top1"] <= out["top5"] <= 1
    one = next(pose_folder.glob("*.pose"))
    assert main(["predict", str(run), str(one)]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["prediction"] in {"hello", "thanks", "yes", "no"} and len(row["top"]) == 4


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "missing"), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a run directory" in err


def test_islr_on_real_signers(tmp_path, shared_data):
    """A few real ISLR-MP signers: trains, and a checkpoint loads on CPU with the same scores."""
    src = shared_data("islr")
    data = tmp_path / "islr"
    data.mkdir()
    for f in sorted(src.glob("*__*.npz"))[:4]:
        (data / f.name).symlink_to(f)
    run = tmp_path / "run"
    train_task("islr", data, run, epochs=2, model_overrides=TINY_ENC)
    a = evaluate_run(run, data)
    b = evaluate_run(run, data)
    assert a.pop("ms_per_clip") > 0 and b.pop("ms_per_clip") > 0   # timings differ; scores may not
    assert a == b and a["n"] > 50
    rows = predict_run(run, next(data.glob("*.npz")))
    assert len(rows) >= 10 and all("prediction" in r for r in rows)


def test_langid(tmp_path, samples):
    run = tmp_path / "langid"
    train_task("langid", None, run, epochs=8, samples=samples, model_overrides=TINY_ENC,
               train_overrides={"lr": 3e-3})
    res = evaluate_run(run, None, samples=samples)
    assert {"accuracy", "macro_f1"} <= set(res) and res["accuracy"] > 0.5


def test_pose2text(tmp_path, samples):
    run = tmp_path / "p2t"
    train_task("pose2text", None, run, epochs=6, samples=samples, model_overrides=TINY_ENC,
               train_overrides={"lr": 3e-3, "eval_every": 3})
    res = evaluate_run(run, None, samples=samples)
    assert {"bleu", "chrf"} <= set(res) and res["chrf"] > 0
    loaded = load_run(run)
    loaded.recipe.settings.beam = 3
    items = loaded.recipe.prepare(samples[:3])
    rows = loaded.recipe.predict(loaded.model, items)
    assert len(rows) == 3 and all(isinstance(r["prediction"], str) for r in rows)


@pytest.mark.parametrize("model", ["signdw-text2pose", "signdw-text2pose-parallel", "signdw-text2pose-dtw",
                                   "signdw-text2pose-template"])
def test_text2pose(tmp_path, samples, model, capsys):
    run = tmp_path / "t2p"
    m = train_task("text2pose", None, run, model=model, epochs=4, samples=samples,
                   model_overrides=TINY_T2P, train_overrides={"eval_every": 2},
                   recipe_overrides={"max_frames": 15})
    assert m["data_report"]["truncated_clips"] > 0                  # clips of 16-19 frames > 15
    res = evaluate_run(run, None, samples=samples[:6])
    assert np.isfinite(res["dtw_mje"]) and res["n"] == 6
    assert main(["predict", str(run), "hello", "--out", str(tmp_path / "gen")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert 1 <= row["frames"] <= 15 and row["shape"] == [row["frames"], 384]
    from signverse.io import read_pose
    pose = read_pose(row["file"])
    assert pose.layout == "dwpose" and pose.n_frames == row["frames"]

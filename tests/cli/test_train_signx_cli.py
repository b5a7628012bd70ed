"""``signverse train signx-*`` reaches the SignX training functions and writes a loadable run."""
import json

from conftest import shared
from signverse.cli.main import main


def test_train_signx_fusion_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "signx-fusion", "--data", str(shared("poses", "poses_FOOTBALL.pose")),
                 "--out", str(out), "--epochs", "10", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["loss"] > 0 and set(metrics) >= {"recon", "masked", "consistency"}
    from signverse.models.signx import load_run
    run = load_run(out)
    assert run.fusion is not None and "dwpose" in run.fusion.cfg.tracks

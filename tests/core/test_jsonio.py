"""Strict JSON everywhere: NaN / infinity are written as null, numpy values as plain numbers."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from signverse.core.jsonio import dumps, strict, write_json

PACKAGE = Path(__file__).resolve().parents[2] / "signverse"


def _strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_become_null():
    obj = {"top1": float("nan"), "loss": np.float32("inf"), "per_class": np.array([0.5, np.nan]),
           "n": np.int64(3), "nested": ({"x": -float("inf")},)}
    assert _strict_loads(dumps(obj)) == {"top1": None, "loss": None, "per_class": [0.5, None], "n": 3,
                                         "nested": [{"x": None}]}
    assert strict(1.5) == 1.5 and strict("NaN") == "NaN"


def test_write_json_is_strict_and_atomic(tmp_path):
    path = write_json(tmp_path / "m.json", {"f1": float("nan")}, indent=1)
    assert _strict_loads(path.read_text()) == {"f1": None}
    assert not list(tmp_path.glob("*.tmp"))


def test_run_metrics_json_is_strict(tmp_path):
    from signverse.train.checkpoint import write_json as write_run_json
    write_run_json(tmp_path / "metrics.json", {"dev": {"macro_f1": float("nan"), "top1": np.float64(0.5)}})
    assert _strict_loads((tmp_path / "metrics.json").read_text()) == {"dev": {"macro_f1": None, "top1": 0.5}}


def test_no_module_writes_json_with_the_plain_encoder():
    """Every JSON writer of the package goes through signverse.core.jsonio (NaN -> null)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "jsonio.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bjson\.dumps?\(", line):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{n}")
    assert not offenders, "use signverse.core.jsonio.dumps: " + ", ".join(offenders)


def test_evaluate_json_prints_null_for_nan(monkeypatch, capsys):
    """`signverse evaluate --json` with an undefined metric prints valid JSON."""
    import signverse.train.run as run_module
    from signverse.cli.main import main
    import signverse.cli.evaluate as evaluate_cli
    monkeypatch.setattr(run_module, "evaluate_run", lambda run, data, device="cpu": {"top1": float("nan"), "n": 0})
    monkeypatch.setattr(evaluate_cli, "_is_text2pose", lambda run: False)   # "RUN" is not a real run
    pytest_torch = __import__("importlib").util.find_spec("torch")
    if pytest_torch is None:
        import pytest
        pytest.skip("torch not installed")
    assert main(["evaluate", "RUN", "--data", "DATA", "--json"]) == 0
    assert _strict_loads(capsys.readouterr().out) == {"top1": None, "n": 0}

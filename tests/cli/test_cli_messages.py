"""Argument errors are one short line; each distinct warning is printed once per run."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO
from signverse.cli.main import main


@pytest.mark.parametrize("argv, prog, needle", [
    (["extract", "x", "--bogus"], "signverse extract", "unrecognized arguments: --bogus"),
    (["train"], "signverse train", "the following arguments are required"),
    (["info", "x", "--limit", "many"], "signverse info", "invalid int value"),
    (["--bogus"], "signverse", "unrecognized arguments"),
])
def test_argument_errors_are_one_line(argv, prog, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ") and needle in err
    assert f"see '{prog} --help'" in err and "usage:" not in err


def test_each_warning_prints_once_per_run(tmp_path):
    script = ("import logging, sys\n"
              "from signverse.cli.main import main\n"
              "main(['layouts'])\n"
              "log = logging.getLogger('signverse.test')\n"
              "for _ in range(5):\n"
              "    log.warning('the same warning')\n"
              "log.warning('another warning')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("the same warning") == 1 and proc.stderr.count("another warning") == 1

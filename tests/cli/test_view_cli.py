"""``signverse view``: serves until stopped, prints its address, cleans up; one-line errors."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]


def signverse(*args, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO), **kwargs.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "signverse", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def pose_file(path: Path) -> Path:
    from signverse import PoseSeq, write_pose
    from signverse.layouts import get_layout
    rng = np.random.default_rng(0)
    k = get_layout("dwpose").num_points
    xy = rng.uniform(10, 100, (8, 1, k, 2)).astype(np.float32)
    write_pose(PoseSeq(xy, np.ones((8, 1, k), np.float32), 24.0, 128, 128, "dwpose"), path)
    return path


def test_serves_a_pose_file_and_cleans_up(tmp_path):
    src = pose_file(tmp_path / "one.pose")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = signverse("view", str(src), "--port", "0", "--no-browser", env={"TMPDIR": str(scratch)})
    try:
        line = proc.stdout.readline()
        assert "signverse view:" in line and "http://127.0.0.1:" in line, (line, proc.stderr.read())
        url = line.split(" at ")[1].split()[0]
        info = httpx.get(url + "api/info", timeout=10).json()
        assert info["kind"] == "file" and info["clips"] == 1
        pose = httpx.get(url + "api/clips/one/pose", timeout=10).json()
        assert len(pose["frames"]) == 8 and pose["layout"] == "dwpose"
        assert list(scratch.glob("signverse-view-*"))
    finally:
        proc.terminate()
        proc.wait(20)
    assert not list(scratch.glob("signverse-view-*")), "the private corpus must be removed on exit"


def test_errors_are_one_line(tmp_path):
    proc = signverse("view", str(tmp_path / "absent"), "--no-browser")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and err.count("\n") == 1 and "no such file" in err
    src = pose_file(tmp_path / "one.pose")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        proc = signverse("view", str(src), "--port", str(busy.getsockname()[1]), "--no-browser")
        _, err = proc.communicate(timeout=60)
    finally:
        busy.close()
    assert proc.returncode == 2 and "cannot listen on 127.0.0.1:" in err and "Traceback" not in err

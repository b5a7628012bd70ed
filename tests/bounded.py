"""Run a case in a fresh interpreter and measure its peak RSS and wall time (hostile-input tests).

The child gets a cap on its address space, so a regression that tries to allocate gigabytes fails
fast with MemoryError instead of taking the shared machine down. Peak RSS comes from ``wait4`` on
that very child (``ru_maxrss``), so other subprocesses of the test run do not blur it.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Hostile-input targets: a one-line error or a correct result within these.
MAX_RSS_MB = 400
MAX_WALL_S = 30


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    wall_s: float
    timed_out: bool

    def __str__(self) -> str:   # shown by a failing assert
        return (f"rc={self.returncode} peak={self.peak_rss_mb:.0f} MiB wall={self.wall_s:.1f}s "
                f"timed_out={self.timed_out}\nstdout: {self.stdout[-800:]}\nstderr: {self.stderr[-1500:]}")


def _cap(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_bounded(args: list[str], *, timeout: float = 2 * MAX_WALL_S, address_space: int = 3 << 30,
                env: dict | None = None) -> Measured:
    """Run ``python ARGS`` (e.g. ``["-c", code]`` or ``["-m", "signverse", ...]``) from the repo."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=out, stderr=err,
                                env=full_env, preexec_fn=_cap(address_space))
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                proc.kill()
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"), usage.ru_maxrss / 1024, wall, timed_out)


def assert_bounded(result: Measured, case: str) -> None:
    assert not result.timed_out and result.wall_s < MAX_WALL_S, str(result)
    assert result.peak_rss_mb < MAX_RSS_MB, str(result)
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, str(result)
    # Figures for the record (pytest -s shows them): peak RSS and wall time of each hostile case.
    print(f"[bounded] {case}: peak_rss={result.peak_rss_mb:.0f}MiB wall={result.wall_s:.2f}s "
          f"rc={result.returncode}")

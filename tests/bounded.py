"""Run a case in a fresh interpreter and measure its peak RSS and wall time (hostile-input tests).

The child gets a cap on its address space, so a regression that tries to allocate gigabytes fails
fast with MemoryError instead of taking the shared machine down. Peak RSS is the child's own
``VmHWM`` (high-water mark of its memory since it started), written by the child as it exits:
``ru_maxrss`` from ``wait4`` would also count the pytest process the child was forked from, which
is hundreds of MB once earlier tests have loaded torch or MediaPipe.
"""
from __future__ import annotations

import os
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


# Runs in the child: cap the address space, run ``-c CODE`` or ``-m MODULE`` as python would, and
# record the peak RSS of this process (not of the process it was forked from) at exit.
_LAUNCHER = """
import atexit, os, resource, runpy, sys
limit = int(os.environ.pop("SIGNVERSE_TEST_AS_LIMIT"))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
report = os.environ.pop("SIGNVERSE_TEST_HWM_FILE")

def _record_peak():
    with open("/proc/self/status") as status:
        kb = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "")
    with open(report, "w") as out:
        out.write(kb)

atexit.register(_record_peak)
mode, target, *rest = sys.argv[1:]
if mode == "-c":
    sys.argv = ["-c", *rest]
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def run_bounded(args: list[str], *, timeout: float = 2 * MAX_WALL_S, address_space: int = 3 << 30,
                env: dict | None = None) -> Measured:
    """Run ``python ARGS`` (``["-c", code, ...]`` or ``["-m", "signverse", ...]``) from the repo."""
    if not args or args[0] not in ("-c", "-m"):
        raise ValueError("run_bounded takes ['-c', CODE, ...] or ['-m', MODULE, ...]")
    peak_file = tempfile.NamedTemporaryFile(prefix="signverse-peak-", delete=False)
    peak_file.close()
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {}),
                "SIGNVERSE_TEST_AS_LIMIT": str(address_space), "SIGNVERSE_TEST_HWM_FILE": peak_file.name}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *args], cwd=REPO, stdout=out,
                                stderr=err, env=full_env)
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
        peak_kb = Path(peak_file.name).read_text().strip()
        os.unlink(peak_file.name)
        # No record (the child was killed): fall back to wait4's figure, an upper bound.
        peak_mb = int(peak_kb) / 1024 if peak_kb.isdigit() else usage.ru_maxrss / 1024
        return Measured(proc.returncode, out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"), peak_mb, wall, timed_out)


def assert_bounded(result: Measured, case: str) -> None:
    assert not result.timed_out and result.wall_s < MAX_WALL_S, str(result)
    assert result.peak_rss_mb < MAX_RSS_MB, str(result)
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, str(result)
    # Figures for the record (pytest -s shows them): peak RSS and wall time of each hostile case.
    print(f"[bounded] {case}: peak_rss={result.peak_rss_mb:.0f}MiB wall={result.wall_s:.2f}s "
          f"rc={result.returncode}")

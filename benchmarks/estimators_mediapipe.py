"""MediaPipe Holistic throughput on the real videos of ../shared/data/videos (single process).

Prints per-file frames, decode-only time and decode+Holistic time, then totals side by side:
decode only (PyAV, native fps) vs decode + MediaPipe Holistic (model_complexity=1).
Usage: .venv/bin/python benchmarks/estimators_mediapipe.py [VIDEO_DIR] [--complexity N]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from signverse.estimators import get_estimator
from signverse.video import decode, probe

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("videos", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--complexity", type=int, default=1)
    args = parser.parse_args()
    files = sorted(Path(args.videos).glob("*.mp4"))
    if not files:
        raise SystemExit(f"no .mp4 files in {args.videos}")
    est = get_estimator("mediapipe", model_complexity=args.complexity)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} complexity={args.complexity}")
    print(f"{'file':40s} {'size':>10s} {'frames':>6s} {'decode fps':>10s} {'holistic fps':>12s} {'people':>6s}")
    tot_n = tot_dec = tot_est = 0.0
    for path in files:
        info = probe(path)
        t0 = time.perf_counter()
        n = sum(1 for _ in decode(path, fps=None))
        t_dec = time.perf_counter() - t0
        est.reset()
        t0 = time.perf_counter()
        found = 0
        for _, _, frame in decode(path, fps=None):
            (xy, _conf), = est([frame])
            found += xy.shape[0]
        t_est = time.perf_counter() - t0
        print(f"{path.name:40s} {info.width:>4d}x{info.height:<5d} {n:6d} {n / t_dec:10.1f} "
              f"{n / t_est:12.2f} {found:6d}")
        tot_n, tot_dec, tot_est = tot_n + n, tot_dec + t_dec, tot_est + t_est
    est.close()
    print(f"{'TOTAL':40s} {'':10s} {int(tot_n):6d} {tot_n / tot_dec:10.1f} {tot_n / tot_est:12.2f}")
    print(f"side by side: decode only {tot_n / tot_dec:.1f} frames/s | decode + Holistic "
          f"{tot_n / tot_est:.2f} frames/s (Holistic alone ~{tot_n / (tot_est - tot_dec):.2f} frames/s)")
    print(f"load after run={os.getloadavg()[0]:.2f} (machine shared with other engineers)")


if __name__ == "__main__":
    main()

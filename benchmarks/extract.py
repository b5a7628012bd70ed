"""Throughput of ``signverse extract --fps 24`` against pose-format's ``videos_to_poses`` and against
the pure MediaPipe Holistic inference bound, in one run.

Runs, on the same videos, same machine, same model (Holistic, model_complexity=1):

1. peer: ``videos_to_poses --format mediapipe -d DIR --num-workers P`` (pose-format's CLI, native
   fps), then its own fps interpolation to 24 fps (``NumPyPoseBody.interpolate(24)``, cubic, per
   ``.pose`` file: read, interpolate, write; timed in this process, imports excluded). The peer's
   time is the sum;
2. ``signverse extract DIR --fps 24 --workers N`` (the whole pipeline: start-up, decode, inference,
   signer, clips, QC, store), wall-clock of the command;
3. the pure-inference bound: the same estimator alone (``MediaPipeHolistic``, same batches, a reset
   per video) on the SAME frames the pipeline infers (decoded beforehand at 24 fps, at the same
   ``max_side`` the pipeline uses), N processes with one model each, videos split between them
   longest first by frame count; process start-up, imports, model load and decoding not timed.
   This is what the machine can do if decoding, start-up and everything else were free.

Ratios printed: peer time / pipeline time (target >= 1.5) and pipeline throughput / bound
throughput (target >= 95%). Every run is repeated ``--repeat`` times (interleaved) and the median,
min and max are printed with the load average, since the machine is shared.

    python benchmarks/extract.py                                     # ../shared/data/videos, all cores
    python benchmarks/extract.py --peer-workers 1 2 --repeat 3       # the peer on one and on all cores
    python benchmarks/extract.py --native                            # also signverse --fps native
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FPS = 24.0


def count_frames(videos: list[Path], fps: float | None, max_side: int | None = None) -> dict[str, int]:
    from signverse.video import decode
    return {v.name: sum(1 for _ in decode(v, fps, max_side=max_side)) for v in videos}


# Runs a command as a child subreaper and waits for every process under it (worker processes,
# a fork server that outlives the command by a moment), then prints their CPU seconds on the last
# line of stderr: the whole tree's CPU, whatever start method the command uses.
_CPU_WRAPPER = """
import ctypes, os, resource, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
rc = subprocess.call(sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
u = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(f"\\nCPU_SECONDS {u.ru_utime + u.ru_stime}\\n")
sys.exit(rc)
"""


def run_timed(cmd: list[str], **kwargs) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the command's whole process tree, result)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", _CPU_WRAPPER, *cmd], capture_output=True, text=True,
                         env=env, **kwargs)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")
    cpu = float(res.stderr.rsplit("CPU_SECONDS", 1)[1])
    return wall, cpu, res


def peer(videos: list[Path], workers: int, tmp: Path) -> tuple[float, float, float]:
    """pose-format's videos_to_poses on a fresh copy of the videos (it writes .pose beside them),
    then its interpolation to 24 fps. Returns (videos_to_poses wall, interpolation wall, CPU
    seconds of both)."""
    from pose_format import Pose
    folder = tmp / f"peer-{workers}-{time.monotonic_ns()}"
    folder.mkdir()
    for v in videos:
        shutil.copy(v, folder / v.name)
    cmd = [str(BIN / "videos_to_poses"), "--format", "mediapipe", "-d", str(folder),
           "--num-workers", str(workers)]
    wall, cpu, res = run_timed(cmd)
    made = sorted(folder.glob("*.pose"))
    if len(made) != len(videos):
        raise SystemExit(f"videos_to_poses made {len(made)} of {len(videos)} pose files:\n{res.stdout[-2000:]}")
    t0, cpu0 = time.perf_counter(), time.process_time()
    for path in made:
        pose = Pose.read(path.read_bytes())
        pose.body = pose.body.interpolate(new_fps=FPS, kind="cubic")
        with open(path.with_suffix(".24fps.pose"), "wb") as f:
            pose.write(f)
    interp = time.perf_counter() - t0
    cpu += time.process_time() - cpu0
    shutil.rmtree(folder)
    return wall, interp, cpu


def ours(folder: Path, out: Path, fps: str, workers: int) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "signverse", "extract", str(folder), "--out", str(out), "--fps", fps,
           "--workers", str(workers), "--no-progress", "--json"]
    wall, cpu, res = run_timed(cmd)
    summary = json.loads(res.stdout)
    if summary["failed"]:
        raise SystemExit(f"signverse extract failed on: {summary['failures']}")
    shutil.rmtree(out)
    return wall, cpu, summary


def _bound_worker(paths: list[str], fps: float | None, max_side: int | None, batch: int,
                  barrier, results) -> None:
    # MediaPipe's native logging would flood the table; the signverse workers are quiet the same way.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    from signverse.estimators.mediapipe_holistic import MediaPipeHolistic
    from signverse.video import decode
    videos = [[rgb.copy() for _, _, rgb in decode(p, fps, max_side=max_side)] for p in paths]
    est = MediaPipeHolistic(model_complexity=1)
    est([videos[0][0]])       # the graph is built and initialised before the clock starts
    barrier.wait()
    start, cpu = time.time(), time.process_time()
    frames = 0
    for frames_of_video in videos:
        est.reset()
        for i in range(0, len(frames_of_video), batch):
            est(frames_of_video[i:i + batch])
        frames += len(frames_of_video)
    results.put((start, time.time(), frames, time.process_time() - cpu))


def inference_bound(videos: list[Path], frames: dict[str, int], workers: int, fps: float | None,
                    max_side: int | None, batch: int) -> tuple[float, int, float]:
    """Holistic alone on pre-decoded frames in ``workers`` processes: (wall, frames, cpu seconds)."""
    ctx = mp.get_context("spawn")
    groups: list[list[str]] = [[] for _ in range(workers)]
    load = [0] * workers
    for v in sorted(videos, key=lambda v: -frames[v.name]):   # longest first onto the lightest worker
        i = load.index(min(load))
        groups[i].append(str(v))
        load[i] += frames[v.name]
    groups = [g for g in groups if g]
    barrier, results = ctx.Barrier(len(groups)), ctx.Queue()
    procs = [ctx.Process(target=_bound_worker, args=(g, fps, max_side, batch, barrier, results))
             for g in groups]
    for p in procs:
        p.start()
    got = [results.get() for _ in procs]
    for p in procs:
        p.join()
    wall = max(e for _, e, _, _ in got) - min(s for s, _, _, _ in got)
    return wall, sum(f for _, _, f, _ in got), sum(c for _, _, _, c in got)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", default=str(REPO.parent / "shared" / "data" / "videos"))
    parser.add_argument("--workers", type=int, default=None, help="signverse workers (default: all cores)")
    parser.add_argument("--peer-workers", type=int, nargs="+", default=[1],
                        help="videos_to_poses --num-workers, one peer run per value (default 1: the "
                             "tool's default; pass the core count too to compare against its best)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every run (median, min-max)")
    parser.add_argument("--native", action="store_true", help="also time signverse extract --fps native")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    videos = sorted(p for p in Path(args.videos).glob("*.mp4"))
    if not videos:
        raise SystemExit(f"no .mp4 videos in {args.videos}")
    from signverse.pipeline.executors import default_workers
    from signverse.pipeline.worker import ExtractConfig
    config = ExtractConfig(fps=FPS)
    workers = args.workers or default_workers()
    native = count_frames(videos, None)
    at_24 = count_frames(videos, FPS, config.max_side)
    n_native, n_24 = sum(native.values()), sum(at_24.values())
    print(f"{len(videos)} videos, {n_native} frames at native fps, {n_24} at {FPS:g} fps; {workers} "
          f"workers on {os.cpu_count()} cores; max_side {config.max_side}; {args.repeat} round(s)")
    print(f"uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")

    peers: dict[int, list[tuple[float, float, float]]] = {w: [] for w in args.peer_workers}
    pipe24: list[tuple[float, float]] = []           # (wall, CPU)
    pipe_native: list[tuple[float, float]] = []
    bound: list[tuple[float, int, float]] = []       # (wall, frames, CPU)
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sv-bench-") as tmp:
        tmp = Path(tmp)
        src = tmp / "videos"
        src.mkdir()
        for v in videos:
            shutil.copy(v, src / v.name)
        for round_ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            if not args.skip_peer:
                for w in args.peer_workers:
                    peers[w].append(peer(videos, w, tmp))
            wall, cpu, summary = ours(src, tmp / "fps24", str(FPS), workers)
            if summary["frames"] != n_24:
                raise SystemExit(f"signverse extract --fps 24 made {summary['frames']} frames, expected {n_24}")
            pipe24.append((wall, cpu))
            bound.append(inference_bound(videos, at_24, workers, FPS, config.max_side, config.batch_frames))
            if args.native:
                wall, cpu, summary = ours(src, tmp / "native", "native", workers)
                assert summary["frames"] == n_native, (summary["frames"], n_native)
                pipe_native.append((wall, cpu))
            print(f"round {round_ + 1}: pipeline {pipe24[-1][0]:.2f} s, bound {bound[-1][0]:.2f} s"
                  + "".join(f", peer({w}) {peers[w][-1][0] + peers[w][-1][1]:.2f} s" for w in peers if peers[w])
                  + f"; load {os.getloadavg()[0]:.2f}", flush=True)

    def row(name: str, walls: list[float], cpus: list[float] | None, frames: int | None) -> None:
        rate = f"{frames / statistics.median(walls):10.1f}" if frames else ""
        cpu = spread(cpus) if cpus else ""
        print(f"{name:<60}{spread(walls):>22}{cpu:>22}{frames or '':>8}{rate}")

    print(f"\n{'run (median over rounds, min-max)':<60}{'wall s':>22}{'CPU s':>22}{'frames':>8}{'frames/s':>10}")
    for w, runs in peers.items():
        if runs:
            row(f"pose-format videos_to_poses --num-workers {w} (native)", [a for a, _, _ in runs], None, n_native)
            row("  + its interpolation to 24 fps", [b for _, b, _ in runs], None, None)
            row("  = peer total", [a + b for a, b, _ in runs], [c for _, _, c in runs], None)
    row(f"signverse extract --fps 24 --workers {workers}", [w for w, _ in pipe24], [c for _, c in pipe24], n_24)
    if pipe_native:
        row(f"signverse extract --fps native --workers {workers}", [w for w, _ in pipe_native],
            [c for _, c in pipe_native], n_native)
    row(f"bound: Holistic alone on the same frames, {workers} processes", [b for b, _, _ in bound],
        [c for _, _, c in bound], bound[0][1])
    print()
    for w, runs in peers.items():
        if runs:
            ratios = [(a + b) / p for (a, b, _), (p, _) in zip(runs, pipe24)]
            cpu_ratios = [c / p for (_, _, c), (_, p) in zip(runs, pipe24)]
            print(f"peer (--num-workers {w}, + interpolation) / signverse --fps 24: wall {spread(ratios).strip()}x, "
                  f"CPU {spread(cpu_ratios).strip()}x (per round; target: wall >= 1.5x)")
    ratios = [100 * b / p for (b, _, _), (p, _) in zip(bound, pipe24)]
    cpu_ratios = [100 * b / p for (_, _, b), (_, p) in zip(bound, pipe24)]
    print(f"signverse --fps 24 throughput / pure-inference bound: wall {spread(ratios).strip()}%, "
          f"CPU {spread(cpu_ratios).strip()}% (per round; target: wall >= 95%)")
    print(f"load average (1 min) at each round's start: {', '.join(f'{x:.2f}' for x in loads)}; "
          f"after: {os.getloadavg()[0]:.2f} (2 cores; a busy machine lowers and scatters every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One long video on 1 worker vs 2 workers (the video split into frame ranges), same script, same input.

The shared data has no long video, so one is built at run time (not kept in the repo): the real
720p signing clips of ``../shared/data/videos`` (``msl_*.mp4``) decoded and played end to end,
looped to ``--seconds`` (default 300: 5 minutes), re-encoded as H.264 30 fps (x264 ultrafast, 2 B-frames) with a
keyframe every ``--gop`` frames (default 150, 5 s, like web video), with a WebVTT caption track of
one cue every 3 s, so the run cuts ~100 clips. Then, per repeat and backend:

1. ``extract(..., workers=1)``: the whole video on one worker process;
2. ``extract(..., workers=2, split_seconds=60)``: ranges on two worker processes, joined;

both wall-clock, process start-up and model loading included, and the speedup 1 / 2.

On a shared machine the wall-clock ratio measures the scheduler, not the split: with Linux's
autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) every session gets an equal
share of the cores, so while other sessions are busy, two workers get no more CPU than one. The
script therefore also reports a CPU-accounted speedup: each run's critical path in CPU seconds if
every process had a core of its own (one worker: all of its CPU plus the parent's; two workers:
start-up per worker, the busier worker's CPU on its ranges, and the parent's, which joins the
ranges and finishes the video). The clips of
the two runs are compared frame by frame: identical, or (MediaPipe tracks landmarks from frame to
frame and restarts at each range) how many frames differ and how far from a seam they are.

Backends: ``mediapipe`` (the real model) and ``stand-in``: the replay backend spinning the CPU
(``busy=True``) for ``--frame-ms`` per frame, i.e. a model with the real per-frame cost on the
same cores (a *sleeping* stand-in would hide CPU contention, so it is not used). The stand-in's
poses do not depend on the pixels and its replay position differs per worker, so only the clip
layout (ids, frame counts) is compared for it.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/long_video.py                 # both backends, 1 repeat
    PYTHONPATH=$PWD .venv/bin/python benchmarks/long_video.py --backend stand-in --repeats 3 --seconds 120
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def build_long_video(path: Path, seconds: float, gop: int, size=(1280, 720), fps: int = 30) -> Path:
    """The real clips end to end, looped to ``seconds``, as one H.264 file (PyAV, no ffmpeg binary)."""
    import av
    from signverse.video import decode
    sources = sorted((DATA / "videos").glob("msl_*.mp4"))
    if not sources:
        raise SystemExit(f"no msl_*.mp4 in {DATA / 'videos'}")
    width, height = size
    clips = [[rgb.copy() for _, _, rgb in decode(src, fps, max_side=max(size))] for src in sources]
    clips = [[f for f in c if f.shape[:2] == (height, width)] for c in clips]
    frames = [f for c in clips for f in c]
    total = int(seconds * fps)
    time_base = Fraction(1, 15360)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"g": str(gop), "bf": "2", "preset": "ultrafast", "crf": "23"}
        for i in range(total):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = int(round(i / fps / time_base)), time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_captions(path: Path, seconds: float, every: float = 3.0, length: float = 2.5) -> Path:
    def stamp(t: float) -> str:
        return f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}:{t % 60:06.3f}"
    cues = [f"{stamp(t)} --> {stamp(t + length)}\ncue {i}\n" for i, t in
            enumerate(np.arange(0.2, seconds - length, every))]
    path.write_text("WEBVTT\n\n" + "\n".join(cues))
    return path


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


class TreeCPU:
    """CPU seconds of this process's descendants, sampled from /proc every ``interval`` s.

    ``RUSAGE_CHILDREN`` misses the workers: they are children of multiprocessing's fork server,
    which outlives the run, so their CPU is never reaped into this process's account. Each
    descendant's last sample counts (one that exits between samples loses under ``interval`` s),
    less what it had already used when the measurement began (the fork server persists)."""

    def __init__(self, interval: float = 0.2):
        import threading
        self.interval, self.seen, self.base = interval, {}, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def _descendants() -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        parent, cpu = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parent[pid], cpu[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        mine, me = {}, os.getpid()
        for pid in cpu:
            p, hops = parent.get(pid), 0
            while p and p != me and hops < 64:
                p, hops = parent.get(p), hops + 1
            if p == me:
                mine[pid] = cpu[pid]
        return mine

    def _loop(self):
        while not self._stop.is_set():
            self.seen.update(self._descendants())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.base = self._descendants()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.seen.update(self._descendants())

    @property
    def seconds(self) -> float:
        return sum(c - self.base.get(pid, 0.0) for pid, c in self.seen.items())


def run_once(record, out: Path, config, workers: int, split_seconds: float | None) -> dict:
    """One ``extract`` run: wall-clock, and CPU seconds of the parent and of the worker processes
    (reaped when the pool closes), with each worker's CPU on ranges when the video was split."""
    import resource
    from signverse.pipeline import run as run_module
    from signverse.pipeline.run import RunOptions, extract
    made = []
    real = run_module.make_executor

    def keep(*a, **kw):
        made.append(real(*a, **kw))
        return made[-1]
    run_module.make_executor = keep
    self0 = _cpu(resource.getrusage(resource.RUSAGE_SELF))
    t0 = time.perf_counter()
    try:
        with TreeCPU() as tree:
            summary = extract([record], out, config, RunOptions(workers=workers, split_seconds=split_seconds,
                                                                 progress=False, retries=0))
    finally:
        run_module.make_executor = real
    wall = time.perf_counter() - t0
    workers_cpu = tree.seconds
    parent_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - self0
    if summary.failed or summary.succeeded != 1:
        raise SystemExit(f"run failed: {summary.failures}")
    fig = {"wall_s": round(wall, 2), "frames": summary.frames, "clips": summary.clips,
           "infer_s": round(summary.infer_s, 1), "decode_s": round(summary.decode_s, 1),
           "workers_cpu_s": round(workers_cpu, 1), "parent_cpu_s": round(parent_cpu, 1)}
    range_cpu = getattr(made[0], "range_cpu", {}) if made else {}
    if range_cpu:
        per_worker = sorted(range_cpu.values())
        fig["range_cpu_s_per_worker"] = [round(c, 1) for c in per_worker]
        fig["join_s"] = round(made[0].join_s, 2)
        # Critical path if each process had its own core: the workers start together (start-up:
        # their CPU not spent on ranges, averaged), the ranges go in order to whichever worker is
        # free first (as the executor dispatches them), then the parent's own work (joining,
        # signer, clips, store) follows the last range.
        startup = (workers_cpu - sum(per_worker)) / workers
        free = [startup] * workers
        for cost in made[0].range_costs[0]:
            i = free.index(min(free))
            free[i] += cost
        fig["range_cpu_s"] = [round(c, 1) for c in made[0].range_costs[0]]
        fig["startup_cpu_s_per_worker"] = round(startup, 1)
        fig["cpu_critical_path_s"] = round(max(free) + parent_cpu, 1)
    else:
        fig["cpu_critical_path_s"] = round(workers_cpu + parent_cpu, 1)   # one worker: all serial
    fig["cores_used"] = round((workers_cpu + parent_cpu) / wall, 2)   # CPU over wall: all processes
    return fig


def compare(one: Path, two: Path, fps: float, seams: list[int], poses: bool) -> dict:
    """Clips of the two stores: same ids and frame counts; with ``poses``, which frames differ
    (any point by more than 0.001 px, or a different set of detected points), where they are
    relative to the seams, and by how much (mean point distance in px, over points both found)."""
    from signverse.io.corpus import open_corpus
    a, b = open_corpus(one), open_corpus(two)
    ids_a, ids_b = sorted(a.ids()), sorted(b.ids())
    report = {"clips": len(ids_a), "same_clip_ids": ids_a == ids_b}
    if ids_a != ids_b:
        return report
    frames = differ = presence = 0
    before_first_seam = after_first_seam = differ_before = 0
    distances, shifts = [], []
    same_frames = True
    for cid in ids_a:
        x, y = a[cid], b[cid]
        if x.pose.n_frames != y.pose.n_frames:
            same_frames = False
            continue
        frames += x.pose.n_frames
        if not poses:
            continue
        xy_a, xy_b = x.pose.xy[:, 0], y.pose.xy[:, 0]
        found_a, found_b = np.isfinite(xy_a).all(-1), np.isfinite(xy_b).all(-1)
        both = found_a & found_b
        gap = np.where(both, np.linalg.norm(np.nan_to_num(xy_a - xy_b), axis=-1), 0.0)
        diff = (gap > 1e-3).any(-1) | (found_a != found_b).any(-1)
        diff |= ~np.isclose(x.pose.conf, y.pose.conf, atol=1e-3).all(axis=(1, 2))
        presence += int((found_a != found_b).any(-1).sum())
        first = int(round(x.start * fps))
        for i in range(x.pose.n_frames):
            k = first + i
            if seams and k < seams[0]:
                before_first_seam += 1
                differ_before += int(diff[i])
            else:
                after_first_seam += 1
        for i in np.flatnonzero(diff):
            k = first + int(i)
            before = [k - s for s in seams if s <= k]
            distances.append(min(before) if before else -1)
            if both[i].any():
                shifts.append(float(gap[i][both[i]].mean()))
        differ += int(diff.sum())
    report.update(same_frame_counts=same_frames, clip_frames=frames)
    if poses:
        report.update(
            frames_differing=differ, frames_differing_frac=round(differ / max(frames, 1), 4),
            frames_before_first_seam=before_first_seam, differing_before_first_seam=differ_before,
            frames_from_first_seam=after_first_seam,
            differing_within_1s_after_a_seam=int(sum(0 <= d < fps for d in distances)),
            frames_with_other_points_found=presence,
            mean_point_shift_px_median=round(float(np.median(shifts)), 2) if shifts else 0.0,
            mean_point_shift_px_p90=round(float(np.percentile(shifts, 90)), 2) if shifts else 0.0)
    return report


def _config(backend: str, fps: float, frame_ms: float):
    from signverse.pipeline.worker import ExtractConfig
    if backend == "mediapipe":
        return ExtractConfig(fps=fps, backend="mediapipe")
    return ExtractConfig(fps=fps, backend="replay", backend_options={
        "source": str(DATA / "poses"), "frame_ms": frame_ms, "busy": True})


def _separate(argv, backend: str, video: Path, stores, at_once: bool) -> tuple[dict, dict]:
    """Each run in its own process (its own fork server, its own CPU affinity with ``--pin``),
    both at once or one after the other."""
    import subprocess
    base = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:])]
    base = [a for a in base if a != "--concurrent"]
    commands = [[*base, "--backend", backend, "--video", str(video), "--run-one", str(n), "--store", str(store)]
                for n, store in ((1, stores[0]), (2, stores[1]))]
    if at_once:
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
        outs = [p.communicate()[0] for p in procs]
    else:
        procs, outs = [], []
        for c in commands:
            procs.append(subprocess.Popen(c, stdout=subprocess.PIPE, text=True))
            outs.append(procs[-1].communicate()[0])
    if any(p.returncode for p in procs):
        raise SystemExit(f"a run failed: {outs}")
    return tuple(json.loads(o.strip().splitlines()[-1]) for o in outs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--gop", type=int, default=150)
    ap.add_argument("--video", default=None, help="reuse (or build once at) this path")
    ap.add_argument("--backend", choices=("both", "mediapipe", "stand-in"), default="both")
    ap.add_argument("--frame-ms", type=float, default=None,
                    help="stand-in per-frame cost (default: measured MediaPipe cost in this script)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--split-seconds", type=float, default=60.0)
    ap.add_argument("--concurrent", action="store_true",
                    help="run the 1-worker and 2-worker runs at the same time (halves the time taken on a "
                         "loaded machine; the wall-clock ratio is then meaningless, the CPU-accounted one holds)")
    ap.add_argument("--pin", action="store_true",
                    help="one core per worker: each run in its own process, one after the other, the "
                         "1-worker run on CPU 0 and the 2-worker run on CPUs 0-1 (MediaPipe's own threads "
                         "make one unpinned worker use more than one core)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--compare", nargs=2, default=None, metavar=("STORE_1W", "STORE_2W"),
                    help="only compare two stores of an earlier run (MediaPipe poses)")
    ap.add_argument("--run-one", type=int, default=None, help=argparse.SUPPRESS)   # internal: one run
    ap.add_argument("--store", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from signverse.core.records import VideoRecord
    from signverse.pipeline.segments import plan_ranges
    fps = 24.0
    if args.compare:
        seams = [first for first, _ in plan_ranges(int(args.seconds * fps), fps, 2, args.split_seconds)][1:]
        print(json.dumps(compare(Path(args.compare[0]), Path(args.compare[1]), fps, seams, poses=True)))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="signverse-longvid-"))
    video = Path(args.video) if args.video else tmp / "long.mp4"
    if not video.exists():
        t0 = time.perf_counter()
        build_long_video(video, args.seconds, args.gop)
        print(f"built {video} ({args.seconds:.0f} s, {video.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    captions = write_captions(video.with_suffix(".en.vtt"), args.seconds)
    record = VideoRecord("long", path=str(video), captions=[str(captions)])
    seams = [first for first, _ in plan_ranges(int(args.seconds * fps), fps, 2, args.split_seconds)][1:]

    results = {"video_s": args.seconds, "gop": args.gop, "split_seconds": args.split_seconds, "seams": seams,
               "cpus": os.cpu_count()}
    backends = ["mediapipe", "stand-in"] if args.backend == "both" else [args.backend]
    frame_ms = args.frame_ms or 52.0   # MediaPipe Holistic's CPU time per 720p frame, measured here
    if args.run_one is not None:
        if args.pin:   # before the fork server starts, so every worker inherits it
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:args.run_one]))
        config = _config(args.backend, fps, frame_ms)
        print(json.dumps(run_once(record, Path(args.store), config, args.run_one, args.split_seconds)))
        return 0
    for backend in backends:
        config = _config(backend, fps, frame_ms)
        runs = []
        for rep in range(args.repeats):
            load = os.getloadavg()[0]
            stores = tmp / f"{backend}-1w-{rep}", tmp / f"{backend}-2w-{rep}"
            if args.concurrent or args.pin:
                one, two = _separate(argv, backend, video, stores, at_once=args.concurrent)
            else:
                one = run_once(record, stores[0], config, 1, args.split_seconds)
                two = run_once(record, stores[1], config, 2, args.split_seconds)
            cmp = compare(tmp / f"{backend}-1w-{rep}", tmp / f"{backend}-2w-{rep}", fps, seams,
                          poses=backend == "mediapipe")
            run = {"one_worker": one, "two_workers_split": two,
                   "speedup": round(one["wall_s"] / two["wall_s"], 3),
                   "speedup_cpu_accounted": round(one["cpu_critical_path_s"] / two["cpu_critical_path_s"], 3),
                   "load_before": round(load, 2),
                   "load_after": round(os.getloadavg()[0], 2), "clips_compared": cmp}
            print(f"{backend} repeat {rep + 1}: wall 1 worker {one['wall_s']:.1f} s, 2 workers (split) "
                  f"{two['wall_s']:.1f} s, speedup {run['speedup']:.2f}x; CPU-accounted critical path "
                  f"{one['cpu_critical_path_s']:.1f} s vs {two['cpu_critical_path_s']:.1f} s, speedup "
                  f"{run['speedup_cpu_accounted']:.2f}x; load {load:.1f} -> {run['load_after']:.1f}\n"
                  f"  1 worker {json.dumps(one)}\n  2 workers {json.dumps(two)}\n  clips {json.dumps(cmp)}",
                  flush=True)
            runs.append(run)
        speedups = [r["speedup"] for r in runs]
        accounted = [r["speedup_cpu_accounted"] for r in runs]
        entry = {"runs": runs, "speedup_median": statistics.median(speedups),
                 "speedup_min": min(speedups), "speedup_max": max(speedups),
                 "speedup_cpu_accounted_median": statistics.median(accounted),
                 "speedup_cpu_accounted_min": min(accounted), "speedup_cpu_accounted_max": max(accounted)}
        if backend == "mediapipe":
            frames = runs[0]["one_worker"]["frames"]
            entry["frame_ms"] = round(1000 * runs[0]["one_worker"]["infer_s"] / frames, 1)
        else:
            entry["frame_ms"] = frame_ms
        entry["concurrent"] = args.concurrent
        results[backend] = entry
        print(f"{backend}: 2 workers (split) vs 1 on a {args.seconds:.0f} s video, {len(runs)} repeats: "
              f"wall-clock speedup median {entry['speedup_median']:.2f}x ({entry['speedup_min']:.2f}-"
              f"{entry['speedup_max']:.2f}); CPU-accounted {entry['speedup_cpu_accounted_median']:.2f}x "
              f"({entry['speedup_cpu_accounted_min']:.2f}-{entry['speedup_cpu_accounted_max']:.2f}); "
              f"model {entry['frame_ms']} ms/frame", flush=True)
    if args.json:
        from signverse.core.jsonio import dumps   # null, never NaN, in a file other tools open
        Path(args.json).write_text(dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())

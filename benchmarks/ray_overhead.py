"""Ray actors vs local worker processes: start-up and per-video overhead, on the same videos.

Both executors are used exactly as ``signverse extract`` uses them (``make_executor("local"|"ray")``),
with ``--workers`` workers (one model each), on the real videos of ``../shared/data/videos``:

1. start-up: from creating the executor until each worker has returned its first (tiny) video,
   i.e. process/actor start, imports and model loading (Ray: ``ray.init`` of a local instance is
   reported on its own and included);
2. per-video overhead, workers reused: the videos are sent one at a time; overhead = round trip
   (submit -> result in the parent) minus the time the worker spent in the video
   (``VideoResult.wall_s``): dispatch, pickling of the record and of the clips with their poses,
   and scheduling. Median and spread over all videos and ``--rounds`` rounds;
3. throughput, workers reused: all videos x ``--rounds`` in flight at once, wall-clock.

``--backend replay`` (default) replays real poses at 0 ms a frame, so the figures are the pipeline's
own cost (decode, signer, clips) plus the executor's; ``--backend mediapipe`` runs the real model.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ray_overhead.py
    PYTHONPATH=$PWD .venv/bin/python benchmarks/ray_overhead.py --backend mediapipe --rounds 1
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def measure(kind: str, config, records, workers: int, rounds: int) -> dict:
    from signverse.pipeline.executors import make_executor
    out: dict = {}
    t0 = time.perf_counter()
    if kind == "ray":
        # Started as RayExecutor starts a private instance (actors at normal priority), but here,
        # so that ray.init is timed on its own.
        import ray
        from signverse.pipeline.executors import _normal_priority_ray_workers
        with _normal_priority_ray_workers():
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        out["ray_init_s"] = round(time.perf_counter() - t0, 2)
    executor = make_executor(kind, config, workers)
    try:
        # 1. start-up: every worker returns one (the shortest) video.
        warm = min(records, key=lambda r: r.path.stat().st_size if hasattr(r.path, "stat") else 0)
        for _ in range(workers):
            executor.submit(warm)
        first = None
        while executor.in_flight:
            _, result = executor.next_result()
            if not result.ok:
                raise SystemExit(f"{kind}: {result.error}")
            first = first or time.perf_counter() - t0
        out["startup_s"] = round(time.perf_counter() - t0, 2)
        out["first_result_s"] = round(first, 2)

        # 2. per-video overhead, one video at a time, workers reused.
        overheads, inside = [], []
        for _ in range(rounds):
            for record in records:
                t1 = time.perf_counter()
                executor.submit(record)
                _, result = executor.next_result()
                trip = time.perf_counter() - t1
                if not result.ok:
                    raise SystemExit(f"{kind}: {record.video_id}: {result.error}")
                overheads.append(trip - result.wall_s)
                inside.append(result.wall_s)
        out["per_video_overhead_ms"] = {
            "median": round(1000 * statistics.median(overheads), 1),
            "min": round(1000 * min(overheads), 1), "max": round(1000 * max(overheads), 1)}
        out["per_video_work_ms_median"] = round(1000 * statistics.median(inside), 1)

        # 3. throughput with every worker busy.
        t2 = time.perf_counter()
        queue = [r for _ in range(rounds) for r in records]
        done = 0
        while queue or executor.in_flight:
            while queue and executor.in_flight < executor.slots:
                executor.submit(queue.pop())
            _, result = executor.next_result()
            done += result.ok
        out["throughput_videos_s"] = round(done / (time.perf_counter() - t2), 2)
    finally:
        executor.close()
        if kind == "ray":
            import ray
            if ray.is_initialized():
                ray.shutdown()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=1, help="repeat the local/ray pair")
    ap.add_argument("--backend", choices=("replay", "mediapipe"), default="replay")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from signverse.core.records import VideoRecord
    from signverse.pipeline.worker import ExtractConfig
    videos = sorted((DATA / "videos").glob("*.mp4"))
    records = [VideoRecord(v.stem, path=v) for v in videos]
    if args.backend == "replay":
        config = ExtractConfig(fps=24.0, backend="replay", backend_options={"source": str(DATA / "poses")})
    else:
        config = ExtractConfig(fps=24.0, backend="mediapipe")
    results: dict = {"backend": args.backend, "workers": args.workers, "videos": len(records),
                     "rounds": args.rounds, "runs": []}
    for rep in range(args.repeats):
        for kind in ("local", "ray"):
            load = os.getloadavg()[0]
            fig = measure(kind, config, records, args.workers, args.rounds)
            fig.update(kind=kind, load_before=round(load, 2), load_after=round(os.getloadavg()[0], 2))
            results["runs"].append(fig)
            print(f"{kind:5s} repeat {rep + 1}: {json.dumps(fig)}", flush=True)
    for kind in ("local", "ray"):
        runs = [r for r in results["runs"] if r["kind"] == kind]
        start = [r["startup_s"] for r in runs]
        over = [r["per_video_overhead_ms"]["median"] for r in runs]
        thr = [r["throughput_videos_s"] for r in runs]
        print(f"{kind}: start-up {statistics.median(start):.1f} s ({min(start):.1f}-{max(start):.1f}); "
              f"per-video overhead {statistics.median(over):.0f} ms median ({min(over):.0f}-{max(over):.0f}); "
              f"throughput {statistics.median(thr):.2f} videos/s ({args.workers} workers, {args.backend})")
    if args.json:
        from signverse.core.jsonio import dumps   # null, never NaN, in a file other tools open
        Path(args.json).write_text(dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())

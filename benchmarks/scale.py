"""Scale dry run over the SignVerse-2M manifest: the pipeline's own cost per video, clip and frame.

    .venv/bin/python benchmarks/scale.py [--videos N] [--workers 2] [--frame-ms 0] [--workdir DIR]
        [--skip-estimators]

What runs (a SIMULATION, as its first printed line says):
  * the real manifest ../shared/data/signverse2m/metadata.csv (39,197 videos, their ids and
    language labels) goes through the real `signverse.pipeline.run.extract`: ledger registration,
    scheduling over worker processes, per-video decode, signer selection, clip cutting, QC, the
    corpus writer's shards, the ledger's commits;
  * every video's file is one small generated clip (64x48, 24 fps), because the real videos are on
    YouTube; its pixels are ignored by the `replay` backend (signverse.estimators.replay), which
    returns real recorded poses from ../shared/data/poses, at `--frame-ms` per frame (0: none, so
    only the pipeline's overhead is measured);
  * three configurations (frames and clips per video varied) give the overhead per video, per clip
    and per frame as CPU-seconds (this process and its workers: contention from other jobs on the
    machine does not inflate CPU time the way it inflates wall time);
  * then the costs the simulation leaves out, measured here on real data: decoding a real
    720p video at 24 fps and MediaPipe Holistic per frame (DWPose on a GPU: not measured, no GPU lent).
From these it projects the CPU cores that build the full corpus in one day.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MANIFEST = SHARED / "signverse2m" / "metadata.csv"
FPS = 24
# The release states ~2 million clips (caption cues) of 39,196 videos at 24 fps, but not the hours
# of video; the estimator runs on every frame of every video. ASSUMPTION (printed): 6 minutes per
# video on average -> ~3,920 hours.
ASSUMED_MINUTES_PER_VIDEO = 6.0
RELEASE_CLIPS = 2_000_000


def cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the worker processes)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def write_video(path: Path, n_frames: int) -> None:
    """A small real H.264/MPEG-4 file of moving noise (what decode opens and walks through)."""
    import av
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(n_frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def manifest_records(limit: int | None):
    from signverse.pipeline.inputs import load_manifest
    records = list(load_manifest(MANIFEST).records)
    return records if limit is None else records[:limit]


def dry_run(work: Path, name: str, records, frames: int, clips: int, workers: int, frame_ms: float):
    """One extract() over ``records`` whose videos all have ``frames`` frames cut into ``clips``."""
    from signverse.pipeline.run import RunOptions, extract
    from signverse.pipeline.worker import ExtractConfig
    video = work / f"video-{frames}.mp4"
    if not video.exists():
        write_video(video, frames)
    recs = [dataclasses.replace(r, path=str(video), url=None) for r in records]
    config = ExtractConfig(fps=FPS, backend="replay", window=frames / clips / FPS,
                           backend_options={"source": str(SHARED / "poses"), "frame_ms": frame_ms})
    out = work / f"corpus-{name}"
    t0, c0 = time.perf_counter(), cpu_seconds()
    summary = extract(recs, out, config, RunOptions(workers=workers, progress=False, retries=0))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if summary.failed:
        first = next(iter(summary.failures.items()))
        sys.exit(f"dry run {name}: {summary.failed} videos failed, e.g. {first}")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"  {name:6s} {len(recs):7,d} videos x {frames:4d} frames, {summary.clips:9,d} clips: "
          f"wall {wall:7.1f} s, CPU {cpu:7.1f} s, {len(recs) / wall:6.1f} videos/s, store "
          f"{size / 2**20:6.1f} MiB")
    return {"videos": len(recs), "clips": summary.clips, "frames": summary.frames, "cpu": cpu, "wall": wall}


def ledger_registration(work: Path, records) -> None:
    from signverse.pipeline.ledger import Ledger
    t0 = time.perf_counter()
    with Ledger(work / "ledger-only") as ledger:
        ledger.register([r.video_id for r in records],
                        languages={r.video_id: r.sign_language for r in records},
                        sources={r.video_id: r.url for r in records})
        n = sum(ledger.counts().values())
    print(f"  ledger registration of the whole manifest: {n:,} videos in {time.perf_counter() - t0:.2f} s")


def real_costs() -> tuple[float, float | None, str]:
    """CPU-seconds per frame of decoding a real 720p video at 24 fps, and of MediaPipe Holistic
    (model_complexity=1, on those frames, decode excluded); None when MediaPipe is unavailable."""
    from signverse.video import decode
    video = SHARED / "videos" / "msl_doctor.mp4"
    c0 = time.process_time()
    frames = [rgb for _, _, rgb in decode(video, fps=FPS)]
    per_decode = (time.process_time() - c0) / len(frames)
    try:
        from signverse.estimators import get_estimator
        est = get_estimator("mediapipe")
        est(frames[:2])   # model load and first-call set-up are not per-frame costs
        c0 = time.process_time()
        for f in frames[2:]:
            est([f])
        per_model = (time.process_time() - c0) / (len(frames) - 2)
        est.close()
    except Exception as exc:  # noqa: BLE001 - report and go on: the overhead figures stand alone
        print(f"  MediaPipe Holistic not measured here: {exc}")
        per_model = None
    h, w = frames[0].shape[:2]
    print(f"  real per-frame costs ({video.name}, {w}x{h}, {len(frames)} frames at {FPS} fps): decode "
          f"{per_decode * 1e3:.1f} ms CPU" + (f", MediaPipe Holistic {per_model * 1e3:.1f} ms CPU"
                                              if per_model else ""))
    return per_decode, per_model, f"{w}x{h}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=None, help="videos of the manifest in the main run "
                    "(default: all 39,197)")
    ap.add_argument("--side-videos", type=int, default=300, help="videos in each of the two side runs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--frame-ms", type=float, default=0.0, help="simulated model time per frame")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--skip-estimators", action="store_true", help="skip the real decode/MediaPipe costs")
    args = ap.parse_args()
    if not MANIFEST.exists() or not (SHARED / "poses").is_dir():
        sys.exit(f"needs {MANIFEST} and {SHARED / 'poses'}")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sv_scale_", dir=args.workdir))
    records = manifest_records(None)
    print(f"SIMULATION (replay backend: recorded poses, pixels ignored; frame_ms={args.frame_ms}); machine: "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; workers {args.workers}; "
          f"manifest {MANIFEST.name}: {len(records):,} videos")
    try:
        ledger_registration(work, records)
        print("  dry runs (CPU = this process + its worker processes):")
        base = dry_run(work, "main", records[:args.videos] if args.videos else records, 48, 4,
                       args.workers, args.frame_ms)
        side = records[:args.side_videos]
        more_clips = dry_run(work, "clips", side, 48, 24, args.workers, args.frame_ms)
        more_frames = dry_run(work, "frames", side, 240, 4, args.workers, args.frame_ms)
        small = dry_run(work, "small", side, 48, 4, args.workers, args.frame_ms)
        if base["videos"] <= small["videos"]:
            sys.exit("--videos must exceed --side-videos (the per-video cost is their difference)")
        # cpu = a * videos + b * clips + c * frames, from the side runs against the same-size base
        per_clip = (more_clips["cpu"] - small["cpu"]) / (more_clips["clips"] - small["clips"])
        per_frame = (more_frames["cpu"] - small["cpu"]) / (more_frames["frames"] - small["frames"])
        # main and small differ only in the number of videos: the difference also cancels the
        # fixed start-up (worker processes spawning, imports), printed apart.
        per_video = ((base["cpu"] - small["cpu"]) / (base["videos"] - small["videos"])
                     - per_clip * 4 - per_frame * 48)
        fixed = small["cpu"] - small["videos"] * per_video - small["clips"] * per_clip - small["frames"] * per_frame
        print(f"  pipeline overhead, CPU-seconds: {per_video * 1e3:.1f} ms per video, {per_clip * 1e3:.2f} ms "
              f"per clip, {per_frame * 1e3:.2f} ms per frame (decode of the 64x48 stand-in video "
              f"included), {fixed:.1f} s per run (start-up)")
        per_decode, per_model, size = (None, None, "") if args.skip_estimators else real_costs()
        hours = ASSUMED_MINUTES_PER_VIDEO * len(records) / 60
        frames = hours * 3600 * FPS
        overhead = per_video * len(records) + per_clip * RELEASE_CLIPS + per_frame * frames
        print(f"\nprojection for SignVerse-2M: {len(records):,} videos, {RELEASE_CLIPS:,} clips, ASSUMED "
              f"{ASSUMED_MINUTES_PER_VIDEO:g} min per video = {hours:,.0f} h = {frames / 1e6:,.0f} M frames at {FPS} fps")
        print(f"  pipeline overhead alone: {overhead / 3600:,.0f} core-hours = {overhead / 86400:,.1f} cores for one day")
        if per_decode is not None:
            dec = per_decode * frames
            print(f"  + decoding real {size} video at {FPS} fps: {dec / 3600:,.0f} core-hours")
            if per_model is not None:
                model = per_model * frames
                total = overhead + dec + model
                print(f"  + MediaPipe Holistic on CPU: {model / 3600:,.0f} core-hours")
                print(f"  = {total / 3600:,.0f} core-hours: {total / 86400:,.0f} CPU cores build the corpus in "
                      f"one day (per-frame costs measured on this loaded 2-core machine)")
        print("  DWPose on onnxruntime CUDA: not measured (no GPU lent to this task)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

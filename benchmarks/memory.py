"""Peak memory (RSS) and wall time of extracting one video, as its length and resolution grow.

Videos are generated with PyAV from the real frames of ``../shared/data/videos/asl_house.mp4``
(73 frames, 320x240, 25 fps): looped to the requested length, or upscaled to the requested size.
Each video is extracted by the real pipeline (decode, estimator, signer, clips, QC, corpus store)
in a fresh process with ``--workers 0`` (everything in that one process), so the process's peak
RSS is the cost of one worker plus the writer. ``--baseline DIR`` runs the same with the code of
another checkout (e.g. the main branch) for comparison.

    .venv/bin/python benchmarks/memory.py                          # 1 and 5 minutes, 4K
    .venv/bin/python benchmarks/memory.py --fps 24 --lengths 60,300 --sizes 3840x2160,7680x4320
    .venv/bin/python benchmarks/memory.py --baseline ../main       # old code, same videos

MediaPipe Holistic runs at a few frames per second per core, so the default ``--fps 4`` keeps a
run within minutes; memory that grows with length grows per *extracted* frame, so the per-frame
growth it prints extrapolates to 24 fps (``growth_per_frame_kb * 24 * seconds``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "videos" / "asl_house.mp4"

# Runs in the measured process; only options every version of ExtractConfig has.
_CHILD = r"""
import json, sys, time
from signverse.core.records import VideoRecord
from signverse.pipeline.run import RunOptions, extract
from signverse.pipeline.worker import ExtractConfig
video, out, fps, backend = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
s = extract([VideoRecord("bench", path=video)], out, ExtractConfig(fps=fps, backend=backend, window=10.0),
            RunOptions(workers=0, retries=0, progress=False))
print(json.dumps({"frames": s.frames, "clips": s.clips, "failed": s.failed,
                  "failures": s.failures, "wall_s": time.perf_counter() - t0}))
"""


def make_video(path: Path, *, seconds: float, size: tuple[int, int] | None, source: Path = SOURCE) -> Path:
    """Real frames of ``source`` looped to ``seconds`` and scaled to ``size`` (H.264, 25 fps)."""
    import av
    if path.exists():
        return path
    with av.open(str(source)) as inp:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
    height, width = frames[0].shape[:2]
    out_w, out_h = size or (width, height)
    n = int(round(seconds * 25))
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        encoded = {}
        for i in range(n):
            # Play forwards then backwards so the loop has no jump (the tracker sees real motion).
            k = i % (2 * len(frames) - 2)
            k = k if k < len(frames) else 2 * len(frames) - 2 - k
            if k not in encoded:
                frame = av.VideoFrame.from_ndarray(frames[k], format="rgb24")
                encoded[k] = frame.reformat(width=out_w, height=out_h) if size else frame
            for packet in stream.encode(encoded[k]):
                out.mux(packet)
            if len(encoded) > 8:
                encoded.pop(next(iter(encoded)))
        for packet in stream.encode():
            out.mux(packet)
    tmp.replace(path)
    return path


def measure(video: Path, out: Path, *, fps: float, backend: str, code: Path) -> dict:
    """Extract ``video`` in a fresh process running the checkout at ``code``: peak RSS, wall time."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(video), str(out), str(fps), backend],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(code))
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    try:
        info = json.loads(stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        info = {"error": f"exit {proc.returncode}"}
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": round(wall, 1), **info}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fps", type=float, default=4.0, help="extraction rate (default 4, see above)")
    parser.add_argument("--lengths", default="60,300", help="seconds, comma-separated (native size)")
    parser.add_argument("--sizes", default="3840x2160", help="WxH videos of 4 s, comma-separated")
    parser.add_argument("--size-fps", type=float, default=24.0,
                        help="extraction rate for the WxH videos (default 24: ~96 frames, more than the "
                             "read-ahead holds)")
    parser.add_argument("--backend", default="mediapipe")
    parser.add_argument("--videos", default=None, help="where generated videos are kept (default: temp)")
    parser.add_argument("--baseline", default=None, help="also run the code of this checkout")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SOURCE.exists():
        print(f"benchmarks/memory.py: {SOURCE} not found (the ../shared/data folder)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="signverse-membench-"))
    videos = Path(args.videos) if args.videos else work
    videos.mkdir(parents=True, exist_ok=True)
    cases = [(f"{int(s)} s 320x240", float(s), None, args.fps) for s in args.lengths.split(",") if s]
    for text in filter(None, args.sizes.split(",")):
        w, h = (int(v) for v in text.lower().split("x"))
        cases.append((f"4 s {w}x{h}", 4.0, (w, h), args.size_fps))
    codes = [("this", REPO)] + ([("baseline", Path(args.baseline).resolve())] if args.baseline else [])
    rows = []
    for name, seconds, size, fps in cases:
        video = make_video(videos / f"{name.replace(' ', '_')}.mp4", seconds=seconds, size=size)
        for label, code in codes:
            row = {"case": name, "code": label, "video_mb": round(video.stat().st_size / 2**20, 1),
                   "fps": fps,
                   **measure(video, work / f"corpus-{len(rows)}", fps=fps, backend=args.backend,
                             code=code)}
            rows.append(row)
            if not args.json:
                print(f"{name:>20} {label:>8}: peak RSS {row['peak_rss_mb']:7.1f} MB, "
                      f"wall {row['wall_s']:6.1f} s, {row.get('frames', '?')} frames "
                      f"{'' if not row.get('failed') else row.get('failures')}", flush=True)
    for label, _ in codes:
        lengths = [r for r in rows if r["case"].endswith("320x240") and r["code"] == label and r.get("frames")]
        if len(lengths) < 2:
            continue
        a, b = lengths[0], lengths[-1]
        per_frame = (b["peak_rss_mb"] - a["peak_rss_mb"]) * 1024 / max(1, b["frames"] - a["frames"])
        summary = {"code": label, "growth_per_frame_kb": round(per_frame, 2),
                   "extrapolated_5min_minus_1min_at_24fps_mb": round(per_frame * 24 * 240 / 1024, 1)}
        rows.append(summary)
        if not args.json:
            print(f"{label}: {b['case']} peaks {b['peak_rss_mb'] - a['peak_rss_mb']:+.1f} MB vs {a['case']} "
                  f"({per_frame:+.2f} KB per extracted frame; at 24 fps a 5-minute video would peak "
                  f"{summary['extrapolated_5min_minus_1min_at_24fps_mb']:+.1f} MB vs a 1-minute one; "
                  "differences of a few MB are noise)")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

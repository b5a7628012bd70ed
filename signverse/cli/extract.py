"""``signverse extract``: build a corpus of caption-aligned pose clips from videos (resumable)."""
from __future__ import annotations

import argparse
import sys
from signverse.core.jsonio import dumps as json_dumps


def _fps(text: str) -> float | None:
    if text == "native":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or 'native', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    lowered = value.lower()
    return key, True if lowered == "true" else False if lowered == "false" else value


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = text.strip().lower().rstrip("b").rstrip("i")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 20G, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser("extract", help="videos + captions -> caption-aligned pose clips in a corpus store",
                       description="Decode videos at a fixed fps, estimate whole-body poses, select the "
                                   "signer, cut caption-aligned clips with QC and write a corpus store. "
                                   "Rerunning the same command resumes where it stopped.")
    p.add_argument("input", nargs="?", help="a video file, a directory of videos (recursive), a manifest "
                                            "(.csv/.jsonl/.parquet) or a URL")
    p.add_argument("--out", help="corpus store directory (created or continued)")
    p.add_argument("--fps", type=_fps, default=24.0, help="decode rate: a number or 'native' (default 24)")
    p.add_argument("--backend", default="mediapipe", help="pose estimator, or 'list' to show them")
    p.add_argument("--layout", default="dwpose",
                   help="layout stored in the corpus (default dwpose, like SignVerse-2M; 'native' keeps "
                        "the estimator's own points, e.g. all 543 MediaPipe Holistic points)")
    p.add_argument("--backend-option", action="append", type=_option, default=[], metavar="KEY=VALUE",
                   help="estimator option, e.g. model_complexity=0 (repeatable)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes/actors (default: all cores; 0 = run in this process)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--split-seconds", type=float, default=60.0, metavar="SECONDS",
                   help="videos longer than this run as frame ranges on several workers (default 60; "
                        "0 = never split); finished ranges survive a kill (CORPUS/.ranges)")
    p.add_argument("--ray-address", default=None,
                   help="join an existing Ray cluster (default: $RAY_ADDRESS, else a local instance)")
    p.add_argument("--captions", default=None, metavar="DIR",
                   help="folder with <video_id>[.<lang>].vtt/.srt caption files")
    p.add_argument("--caption-language", default=None,
                   help="caption track that defines clips (default: the first); a video with captions "
                        "but no such track fails, naming the tracks it has")
    p.add_argument("--signer", choices=("auto", "largest", "left", "right", "center"), default="auto",
                   help="who the signer is when several people are visible: auto (size, centrality, "
                        "hand activity), the largest, or the one on the left/right/in the centre. "
                        "One-person backends (mediapipe) see only part of the frame for "
                        "left/right/center: the left half, right half, or middle half")
    p.add_argument("--max-side", type=int, default=1280, metavar="PIXELS",
                   help="shrink frames to this longer side before pose estimation (0: full size; "
                        "coordinates stay in the video's pixels)")
    p.add_argument("--sign-language", default=None, help="ISO 639-3 code for inputs that carry none")
    p.add_argument("--window", type=float, default=None, metavar="SECONDS",
                   help="videos without captions: fixed windows of this length (default: one clip)")
    p.add_argument("--release-shards", default=None, metavar="DIR",
                   help="also write SignVerse-2M-compatible per-video npz + tar shards here (one "
                        "writer per folder: a second run on it is refused, naming the holder)")
    p.add_argument("--retries", type=int, default=1, help="extra attempts for a failed video (default 1)")
    p.add_argument("--skip-failed", action="store_true", help="do not retry videos that failed before")
    p.add_argument("--limit", type=int, default=None, help="only the first N input videos")
    p.add_argument("--min-signer-frac", type=float, default=None, help="drop clips with less signer")
    p.add_argument("--min-hand-frac", type=float, default=None, help="drop clips with fewer hand frames")
    p.add_argument("--max-multi-person-frac", type=float, default=None)
    p.add_argument("--min-frames", type=int, default=None, help="drop clips shorter than this")
    p.add_argument("--min-motion", type=float, default=None)
    p.add_argument("--shard-clips", type=int, default=1000, help="clips per store shard (approx.)")
    p.add_argument("--commit-every", type=int, default=40, metavar="VIDEOS",
                   help="commit (close a shard, mark videos done) at least every N videos")
    p.add_argument("--commit-seconds", type=float, default=120.0)
    p.add_argument("--cache-dir", default=None, help="download cache (default <out>/.download-cache)")
    p.add_argument("--max-cached", type=int, default=4,
                   help="downloaded videos waiting for processing before fetching pauses")
    p.add_argument("--max-cache-bytes", type=_size, default=None, help="same limit in bytes (e.g. 20G)")
    p.add_argument("--keep", action="store_true", help="keep downloaded videos after processing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run)


def _list_backends(as_json: bool) -> int:
    from signverse.estimators import describe_estimators, format_backends
    infos = describe_estimators()
    if as_json:
        print(json_dumps([i.to_dict() for i in infos], indent=1))
    else:
        print(format_backends(infos))
    return 0


def run(args) -> int:
    from pathlib import Path

    from signverse.core.errors import InputError, SignverseError
    if args.backend == "list":
        return _list_backends(args.json)
    if not args.input:
        raise SignverseError("INPUT is required (a video, a folder, a manifest or a URL)")
    if not args.out:
        raise SignverseError("--out CORPUS is required")
    if args.captions is not None and not Path(args.captions).is_dir():
        raise InputError(args.captions, "no such captions folder" if not Path(args.captions).exists()
                         else "is not a folder (--captions takes a folder of caption files)")
    if args.max_side < 0:
        raise SignverseError("--max-side must be >= 0")

    from signverse.pipeline.inputs import load_inputs
    from signverse.pipeline.qc import QCFilter
    from signverse.pipeline.run import RunOptions, extract
    from signverse.pipeline.worker import ExtractConfig
    for name in ("workers", "retries", "limit", "split_seconds"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise SignverseError(f"--{name.replace('_', '-')} must be >= 0")
    manifest = load_inputs(args.input, captions_dir=args.captions, sign_language=args.sign_language)
    for warning in manifest.warnings:
        print(f"signverse extract: note: {warning}", file=sys.stderr)
    if not manifest.records:
        raise SignverseError(f"{args.input}: no videos found")
    if args.layout != "native":
        from signverse.layouts import get_layout
        args.layout = get_layout(args.layout).name   # an unknown layout fails before any work
    config = ExtractConfig(
        fps=args.fps, backend=args.backend, backend_options=dict(args.backend_option), layout=args.layout,
        window=args.window, caption_language=args.caption_language, signer=args.signer,
        max_side=args.max_side or None,
        qc_filter=QCFilter(min_signer_frac=args.min_signer_frac, min_hand_frac=args.min_hand_frac,
                           max_multi_person_frac=args.max_multi_person_frac,
                           min_frames=args.min_frames, min_motion=args.min_motion))
    options = RunOptions(
        executor=args.executor, workers=args.workers, ray_address=args.ray_address, retries=args.retries,
        split_seconds=args.split_seconds or None,
        limit=args.limit, retry_failed=not args.skip_failed, shard_clips=args.shard_clips,
        commit_videos=max(1, args.commit_every), commit_seconds=args.commit_seconds,
        release_dir=args.release_shards, cache_dir=args.cache_dir, max_cached_videos=args.max_cached,
        max_cached_bytes=args.max_cache_bytes, keep_downloads=args.keep, progress=not args.no_progress,
        # TFLite/absl chatter goes to CORPUS/logs unless -v (workers always log there).
        quiet_native=not getattr(args, "verbose", 0))
    summary = extract(manifest.records, args.out, config, options)
    if args.json:
        print(json_dumps(summary.to_dict(), indent=1))
    else:
        print(f"{summary.out}: {summary.succeeded} videos done, {summary.failed} failed, "
              f"{summary.skipped_done} already done; {summary.clips} clips "
              f"({summary.rejected_clips} rejected by QC, {summary.duplicate_clips} already stored); "
              f"{summary.frames} frames in {summary.wall_s:.1f} s ({summary.frames_per_s:.1f} frames/s)")
        if summary.ranges_resumed:
            print(f"  {summary.ranges_resumed} range(s) of split videos were finished by an interrupted "
                  "run and not redone")
        for vid, reason in sorted(summary.failures.items()):
            print(f"  failed {vid}: {reason}")
        for vid, lines in sorted(summary.warnings.items()):
            for line in lines:
                print(f"  warning {vid}: {line}")
        counts = summary.ledger
        print(f"ledger: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed, "
              f"{counts.get('pending', 0) + counts.get('running', 0)} pending")
    return 1 if summary.failed else 0

"""``signverse demo``: the main job end to end on real signing videos.

videos -> MediaPipe poses at 24 fps -> corpus store + SignVerse-2M shards -> info / stats ->
a DWPose skeleton rendering of one clip over its source video.

The default input ships inside the package (three CC BY 4.0 ASL clips, ``signverse/samples``), so
the demo runs on a fresh clone with no network and no data folder beside the checkout.
"""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the corpus pipeline end to end on real videos and render a clip")
    p.add_argument("--videos", default=None,
                   help="folder of videos (default: the three real ASL clips shipped with signverse, "
                        "CC BY 4.0, see signverse/samples/videos/ATTRIBUTION.md)")
    p.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--workers", type=int, default=None,
                   help="extraction worker processes (default: all cores; 0 = in this process)")
    p.add_argument("--limit", type=int, default=None, help="only the first N videos (a quick check)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.cli.main import main
    from signverse.core.errors import InputError
    from signverse.samples import sample_videos

    videos, out = Path(args.videos) if args.videos else sample_videos(), Path(args.out)
    if not videos.is_dir():
        raise InputError(videos, "no such folder of videos; pass --videos DIR (any folder of sign-language videos)")
    corpus, release = out / "corpus", out / "release"
    steps = [["extract", str(videos), "--out", str(corpus), "--release-shards", str(release)]
             + (["--workers", str(args.workers)] if args.workers is not None else [])
             + (["--limit", str(args.limit)] if args.limit else []),
             ["status", str(corpus)],
             ["info", str(corpus)],
             ["stats", str(corpus), "--plot", str(out / "stats.png")]]
    for step in steps:
        print(f"\n$ signverse {' '.join(step)}", flush=True)
        code = main(step)
        if code not in (0, None):
            return code
    return _render_one(corpus, videos, out)


def _render_one(corpus_dir: Path, videos: Path, out: Path) -> int:
    from signverse.io.corpus import open_corpus
    from signverse.io.pose_file import write_pose_file
    from signverse.render import render_to

    corpus = open_corpus(corpus_dir)
    clip = max(corpus, key=lambda c: c.pose.n_frames if c.pose is not None else 0)
    source = next((p for p in sorted(videos.rglob("*")) if p.stem == clip.video_id), None)
    pose_path = write_pose_file(clip.pose, out / f"{clip.clip_id}.pose")
    print(f"\n$ signverse render {pose_path} {out / (clip.clip_id + '.mp4')}"
          + (f" --overlay {source}" if source else ""))
    render_to(clip.pose, out / f"{clip.clip_id}.mp4", overlay=source if clip.start == 0 else None)
    render_to(clip.pose, out / f"{clip.clip_id}.png")
    print(f"\ndemo finished: corpus {corpus_dir}, release shards {out / 'release'}, "
          f"rendering {out / (clip.clip_id + '.mp4')} and {out / (clip.clip_id + '.png')}")
    return 0

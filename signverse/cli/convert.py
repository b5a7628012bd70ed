"""``signverse convert SRC DST``: any supported source to any supported target."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "convert", help="convert poses between formats and layouts",
        description="DST format defaults from its suffix: .pose -> one pose file, .npz -> one SignVerse-2M "
                    "poses.npz, .tar -> a SignVerse-2M shard, .json -> POSE_KEYPOINT (ControlNet/ComfyUI), "
                    "no suffix -> a corpus directory; any other suffix needs --format. --format openpose "
                    "writes a folder of OpenPose 1.7 *_keypoints.json frame files. A multi-video source "
                    "with --format pose/openpose/pose_keypoint writes one file or folder per video into "
                    "DST. An existing DST is refused unless --overwrite or --append.")
    p.add_argument("src", help=".pose, poses.npz, release .tar or folder, a folder of pose files, "
                               "a corpus, an OpenPose frame folder, a POSE_KEYPOINT .json")
    p.add_argument("dst")
    p.add_argument("--format", dest="fmt", choices=["corpus", "pose", "signverse2m", "npz",
                                                    "openpose", "pose_keypoint"])
    p.add_argument("--layout", help="convert to this layout first (dwpose, coco-wholebody, ...)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace an existing DST")
    existing.add_argument("--append", action="store_true",
                          help="add to an existing shard, corpus (same layout as its pose field) or "
                               "folder of .pose files")
    p.set_defaults(handler=run)


def run(args) -> int:
    import sys

    from signverse.io.transcode import convert_path
    mode = "overwrite" if args.overwrite else "append" if args.append else "refuse"
    report = convert_path(args.src, args.dst, fmt=args.fmt, layout=args.layout, mode=mode)
    already = f"; {len(report.already)} already there (skipped)" if report.already else ""
    print(f"wrote {len(report.written)} sequence(s) to {args.dst}{already}")
    for failure in report.failures:
        print(f"FAILED {failure.name}: {failure.reason}", file=sys.stderr)
    return 1 if report.failures else 0

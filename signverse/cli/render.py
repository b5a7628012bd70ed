"""``signverse render``: draw a pose sequence as PNG (frame or contact sheet), GIF or MP4."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "render", help="render poses as DWPose-style skeleton images or video",
        description="Render a pose sequence (any file signverse reads) to OUT; the format follows "
                    "OUT's suffix: .png (one frame with --frame, else a contact sheet), .gif, .mp4; "
                    "a folder (no suffix) gets one conditioning PNG per frame and .json the "
                    "POSE_KEYPOINT JSON of the same frames (ControlNet / ComfyUI).")
    p.add_argument("src", metavar="SRC", help="pose file (.pose, .npz), or with --clip a corpus, a release "
                                              ".tar / folder or a folder of pose files")
    p.add_argument("out", metavar="OUT", help="output .png, .gif, .mp4, a folder or .json")
    p.add_argument("--overlay", metavar="VIDEO", help="draw over this video (resampled to the pose fps)")
    p.add_argument("--compare", metavar="OTHER_SRC", help="second pose file shown side by side")
    p.add_argument("--clip", metavar="ID", help="the clip (corpus) or video (release, folder) of SRC to draw")
    p.add_argument("--frame", type=int, metavar="N", help="PNG: render frame N only")
    p.add_argument("--style", default="dwpose", choices=("dwpose", "native"),
                   help="dwpose: convert to DWPose and draw ControlNet-style (default); "
                        "native: the file's own layout, limbs and colours")
    p.add_argument("--person", type=int, metavar="N", help="draw person N only (default: all)")
    p.add_argument("--fps", type=float, metavar="F", help="resample to F frames per second first")
    p.add_argument("--size", metavar="WxH",
                   help="generator canvas (e.g. 512x768): the skeleton is placed as the frame "
                        "would be resized to it (see --fit)")
    p.add_argument("--fit", default="pad", choices=("pad", "crop", "stretch"),
                   help="with --size: pad keeps the aspect and centres (default), crop fills and "
                        "cuts, stretch scales each axis")
    p.set_defaults(handler=run)


def _conditioning(args, pose) -> int:
    """OUT is a folder (one PNG per frame) or .json (POSE_KEYPOINT of the same frames)."""
    from signverse.io.openpose_json import write_pose_keypoint
    from signverse.render.conditioning import export_frames
    if args.person is not None:
        from signverse.render.draw import prepare
        pose, _ = prepare(pose, "native", args.person)
    if Path(args.out).suffix.lower() == ".json":
        print(write_pose_keypoint(pose, args.out))
    else:
        frames = export_frames(pose, args.out, style=args.style)
        print(f"{args.out}: {len(frames)} frame(s) at {pose.width}x{pose.height}, {pose.fps:g} fps")
    return 0


def run(args) -> int:
    import signverse
    from signverse.core.errors import InputError
    from signverse.render import render_to

    from signverse.render.draw import check_frame_size
    pose = _source_pose(args.src, args.clip)
    if args.overlay is None:   # the frame size comes from the file: name it in the error
        check_frame_size(pose.width, pose.height, source=args.src)
    compare = labels = None
    if args.compare:
        compare = signverse.read_pose(args.compare)
        labels = [Path(args.src).stem, Path(args.compare).stem]
    if args.fps is not None and not args.fps > 0:
        raise InputError(None, f"--fps must be positive, got {args.fps}")
    if args.size and (args.overlay or args.compare):
        raise InputError(None, "--size places the skeleton on a generator canvas; it does not "
                               "combine with --overlay or --compare")
    if args.size or Path(args.out).suffix.lower() in ("", ".json"):
        from signverse.render.conditioning import fit_pose, parse_size
        if args.fps is not None:
            from signverse.ops.resample import resample
            pose = resample(pose, args.fps)
            args.fps = None
        if args.size:
            pose = fit_pose(pose, parse_size(args.size), args.fit)
        if Path(args.out).suffix.lower() in ("", ".json"):
            return _conditioning(args, pose)
    out = render_to(pose, args.out, overlay=args.overlay, compare=compare, labels=labels,
                    frame=args.frame, style=args.style, person=args.person, fps=args.fps)
    print(out)
    return 0


def _source_pose(src: str, clip_id: str | None):
    """The pose of ``src`` (one file), or of item ``clip_id`` in a corpus, release or folder."""
    import signverse
    from signverse.core.errors import InputError
    from signverse.io.sources import iter_items, source_kind
    kind = source_kind(src)
    if kind == "file" and clip_id is None:
        return signverse.read_pose(src)
    if kind == "file":
        raise InputError(src, "--clip picks a clip of a corpus, release or folder; this is one pose file")
    if clip_id is None:
        raise InputError(src, f"is a {kind} of many sequences: pass --clip ID (see 'signverse info {src}')")
    if kind == "corpus":
        corpus = signverse.open_corpus(src)
        if clip_id not in corpus.ids():
            raise InputError(src, f"no clip {clip_id!r} (first ids: {', '.join(corpus.ids()[:5])})")
        pose = corpus[clip_id].pose
        if pose is None:
            raise InputError(src, f"clip {clip_id!r} has no stored pose")
        return pose
    names = []
    for item in iter_items(src, []):
        if item.name == clip_id:
            return item.pose
        names.append(item.name)
    raise InputError(src, f"no sequence {clip_id!r} (first: {', '.join(names[:5])})")

"""``signverse render``: draw a pose sequence as PNG (frame or contact sheet), GIF or MP4."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "render", help="render poses as DWPose-style skeleton images or video",
        description="Render a pose sequence (any file signverse reads) to OUT; the format follows "
                    "OUT's suffix: .png (one frame with --frame, else a contact sheet), .gif, .mp4.")
    p.add_argument("src", metavar="SRC", help="pose file (.pose, .npz), or with --clip a corpus, a release "
                                              ".tar / folder or a folder of pose files")
    p.add_argument("out", metavar="OUT", help="output .png, .gif or .mp4")
    p.add_argument("--overlay", metavar="VIDEO", help="draw over this video (resampled to the pose fps)")
    p.add_argument("--compare", metavar="OTHER_SRC", help="second pose file shown side by side")
    p.add_argument("--clip", metavar="ID", help="the clip (corpus) or video (release, folder) of SRC to draw")
    p.add_argument("--frame", type=int, metavar="N", help="PNG: render frame N only")
    p.add_argument("--style", default="dwpose", choices=("dwpose", "native"),
                   help="dwpose: convert to DWPose and draw ControlNet-style (default); "
                        "native: the file's own layout, limbs and colours")
    p.add_argument("--person", type=int, metavar="N", help="draw person N only (default: all)")
    p.add_argument("--fps", type=float, metavar="F", help="resample to F frames per second first")
    p.set_defaults(handler=run)


def run(args) -> int:
    import signverse
    from signverse.core.errors import InputError
    from signverse.render import render_to

    pose = _source_pose(args.src, args.clip)
    compare = labels = None
    if args.compare:
        compare = signverse.read_pose(args.compare)
        labels = [Path(args.src).stem, Path(args.compare).stem]
    if args.fps is not None and not args.fps > 0:
        raise InputError(None, f"--fps must be positive, got {args.fps}")
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

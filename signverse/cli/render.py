"""``signverse render``: draw a pose sequence as PNG (frame or contact sheet), GIF or MP4."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "render", help="render poses as DWPose-style skeleton images or video",
        description="Render a pose sequence (any file signverse reads) to OUT; the format follows "
                    "OUT's suffix: .png (one frame with --frame, else a contact sheet), .gif, .mp4.")
    p.add_argument("src", metavar="SRC", help="pose file (.pose, .npz)")
    p.add_argument("out", metavar="OUT", help="output .png, .gif or .mp4")
    p.add_argument("--overlay", metavar="VIDEO", help="draw over this video (resampled to the pose fps)")
    p.add_argument("--compare", metavar="OTHER_SRC", help="second pose file shown side by side")
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

    from signverse.render.draw import check_frame_size
    pose = signverse.read_pose(args.src)
    if args.overlay is None:   # the frame size comes from the file: name it in the error
        check_frame_size(pose.width, pose.height, source=args.src)
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

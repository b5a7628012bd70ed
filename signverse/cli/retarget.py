"""``signverse retarget SRC --to REF OUT``: a signer's motion on a reference person's skeleton."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "retarget", help="fit a pose sequence to a reference person's bone lengths and placement",
        description="Rebuild SRC with REF's body and hand bone lengths, face shape, position, scale "
                    "and frame size, keeping SRC's joint angles, finger articulation, facial "
                    "expression and missing points. REF is any pose file (e.g. the keypoints of "
                    "the image a generator will animate); --frame picks one of its frames.")
    p.add_argument("src", metavar="SRC", help="pose file to retarget (.pose, .npz, ...)")
    p.add_argument("--to", dest="ref", metavar="REF", required=True, help="reference pose file")
    p.add_argument("out", metavar="OUT", help="output pose file (format from its suffix)")
    p.add_argument("--frame", type=int, metavar="N",
                   help="measure REF on frame N only (default: median over all frames)")
    p.add_argument("--ref-person", type=int, default=0, metavar="N", help="person of REF (default 0)")
    p.set_defaults(handler=run)


def run(args) -> int:
    import numpy as np

    import signverse
    from signverse.core.errors import InputError, SignverseError
    from signverse.ops.retarget import bone_length_error, measure, retarget

    pose = signverse.read_pose(args.src)
    ref = signverse.read_pose(args.ref)
    try:
        target = measure(ref, pose.layout, person=args.ref_person, frame=args.frame)
        out = retarget(pose, target)
    except InputError:
        raise
    except SignverseError as exc:
        raise InputError(args.ref, str(exc)) from None
    signverse.write_pose(out, args.out)
    err = bone_length_error(out, target)
    worst = f"{float(np.max(err)) * 100:.3f}%" if err.size else "n/a"
    print(f"{args.out}: {out.n_frames} frames on {out.width}x{out.height}; "
          f"bone-length error max {worst} of the shoulder width")
    return 0

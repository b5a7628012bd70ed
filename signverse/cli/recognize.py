"""``signverse recognize VIDEO --model RUN``: video -> poses -> fused latents -> glosses (SignX)."""
from __future__ import annotations

import argparse
from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("recognize", help="recognise signs in a video with a SignX run",
                       description="Video -> (Video2Pose ViT | MediaPipe estimator + fusion) -> "
                                   "Pose2Gloss diffusion -> glosses with scores.")
    p.add_argument("video", help="video file")
    p.add_argument("--model", required=True, metavar="RUN", help="SignX run directory (signx.json)")
    p.add_argument("--path", choices=("video2pose", "estimators"), default=None,
                   help="pose source (default: video2pose when the run has one, else estimators)")
    p.add_argument("--top", type=int, default=5, help="glosses listed per slot (default 5)")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the run's)")
    p.add_argument("--fps", type=float, default=None, help="resample the video to this frame rate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from signverse.models.signx.recognize import recognize_video
    from signverse.models.signx.run import load_run
    run = load_run(args.model)
    path = args.path or ("video2pose" if run.video2pose is not None else "estimators")
    result = recognize_video(args.video, run, path=path, k=args.top, fps=args.fps, steps=args.steps)
    if args.json:
        print(json_dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(f"{result.video}: {' '.join(result.glosses) or '(nothing)'}   [{result.path}, "
          f"{result.n_frames} frames, {result.seconds['total']:.2f}s]")
    for i, slot in enumerate(result.top):
        print(f"  slot {i}: " + ", ".join(f"{g} {s:.3f}" for g, s in slot))
    return 0

"""``signverse predict RUN INPUT``: predictions of a trained run (one JSON line per sample)."""
from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained run",
                       description="INPUT: a pose file, an npz / MP_Data / indexed folder (islr, langid, "
                                   "pose2text), or for text2pose a text or a .txt file of lines. Prints one "
                                   "JSON line per sample; text2pose writes .pose files with --out.")
    p.add_argument("run")
    p.add_argument("input")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="text2pose: folder for the generated .pose files")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.train.run import predict_run
    import torch
    torch.set_num_threads(1)
    rows = predict_run(args.run, args.input, device=args.device)
    out = Path(args.out) if args.out else None
    for row in rows:
        pose = row.pop("pose", None)
        if pose is not None:
            row["shape"] = list(pose.shape)
            if out is not None:
                from signverse.io import write_pose
                from signverse.train.recipes import frames_to_pose
                out.mkdir(parents=True, exist_ok=True)
                target = out / f"{row['id']}.pose"
                write_pose(frames_to_pose(pose, fps=row.get("fps", 24.0)), target)
                row["file"] = str(target)
        print(json.dumps(row, ensure_ascii=False))
    return 0

"""``signverse predict RUN INPUT``: predictions of a trained run (one JSON line per sample)."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from signverse.core.jsonio import dumps as json_dumps


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or not (int(match[1]) > 0 and int(match[2]) > 0):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 640x480, got {text!r}")
    return int(match[1]), int(match[2])


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict with a trained run",
                       description="INPUT: a pose file, an npz / MP_Data / indexed folder (islr, langid, "
                                   "pose2text), or for text2pose a text or a .txt file of lines. Prints one "
                                   "JSON line per sample; text2pose writes .pose files with --out.")
    p.add_argument("run")
    p.add_argument("input")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", help="text2pose: folder for the generated .pose files, named after their text "
                                 "(hello.pose; an existing file is never overwritten: hello-2.pose)")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="text2pose: frame size of the generated poses in pixels (default: the training "
                        "data's typical frame size)")
    p.set_defaults(handler=run)


def file_stem(text: str, fallback: str) -> str:
    """A safe file name stem for a text: letters and digits kept (any script), the rest '_'."""
    stem = re.sub(r"[^\w\-]+", "_", text.strip(), flags=re.UNICODE).strip("._-")[:60]
    return stem or fallback


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem.suffix``, or ``stem-2``, ``stem-3``... : never an existing file."""
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


def run(args) -> int:
    from signverse.train.run import predict_run
    import torch
    torch.set_num_threads(1)
    rows = predict_run(args.run, args.input, device=args.device, size=args.size)
    out = Path(args.out) if args.out else None
    for row in rows:
        pose = row.pop("pose", None)
        if pose is not None:
            row["shape"] = [pose.n_frames, pose.n_points * 3]   # generated (x, y, conf) per point
            if out is not None:
                from signverse.io import write_pose
                out.mkdir(parents=True, exist_ok=True)
                target = unique_path(out, file_stem(row.get("text") or "", row["id"]), ".pose")
                write_pose(pose, target)
                row["file"] = str(target)
        print(json_dumps(row, ensure_ascii=False))
    return 0

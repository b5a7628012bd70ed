"""Retargeting benchmark: real signers' motion fitted to another real person.

    .venv/bin/python benchmarks/retarget.py [--json]

Data: every fingerspelling sequence in ../shared/data/fingerspelling (MediaPipe Holistic 586,
four sign languages, several signers) retargeted to the FOOTBALL signer of
../shared/data/poses/poses_FOOTBALL.pose (Holistic 576, a different person, camera and frame
size), once to the median of all its frames and once to a single frame (frame 0), as a generator
would use the keypoints of one reference image. Also a cross-layout pair: the COCO-WholeBody
FOOTBALL (MMPose) retargeted to the SOUP signer.

Figures: bone-length error to the reference, per (frame, bone), in % of the reference's shoulder
width (target < 1%); change of every joint angle (angle between a bone and its parent bone)
against the source, in degrees (target < 1 degree median).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import signverse
from signverse.ops.retarget import bone_length_error, joint_angle_change, measure, retarget

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def run_pairs(pairs, frame=None) -> dict:
    errors, angles, seconds, frames = [], [], 0.0, 0
    for src, ref in pairs:
        target = measure(ref, src.layout, frame=frame)
        start = time.perf_counter()
        out = retarget(src, target)
        seconds += time.perf_counter() - start
        frames += src.n_frames
        errors.append(bone_length_error(out, target) * 100)
        angles.append(joint_angle_change(src, out))
        assert not (np.isfinite(out.xy[..., 0]) & np.isnan(src.xy[..., 0])).any(), "invented a point"
    err, ang = np.concatenate(errors), np.concatenate(angles)
    return {"sequences": len(pairs), "frames": frames, "bones_measured": int(err.size),
            "bone_error_pct": {"median": float(np.median(err)), "p99": float(np.percentile(err, 99)),
                               "max": float(err.max())},
            "angle_change_deg": {"median": float(np.median(ang)), "p99": float(np.percentile(ang, 99)),
                                 "max": float(ang.max())},
            "ms_per_frame": 1000 * seconds / max(frames, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted((SHARED / "fingerspelling").glob("*/*.pose"))
    if not files:
        sys.exit(f"no fingerspelling poses under {SHARED / 'fingerspelling'}")
    football = signverse.read_pose(SHARED / "poses" / "poses_FOOTBALL.pose")
    sources = [signverse.read_pose(f) for f in files]
    result = {
        "fingerspelling_to_football_median": run_pairs([(s, football) for s in sources]),
        "fingerspelling_to_football_frame0": run_pairs([(s, football) for s in sources], frame=0),
        "coco_wholebody_football_to_soup": run_pairs([(
            signverse.read_pose(SHARED / "poses" / "poses_mmposewholebody_FOOTBALL.pose"),
            signverse.read_pose(SHARED / "poses" / "poses_mmposewholebody_SOUP.pose"))]),
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for name, r in result.items():
        e, a = r["bone_error_pct"], r["angle_change_deg"]
        print(f"{name}: {r['sequences']} seq, {r['frames']} frames, {r['bones_measured']} bones | "
              f"bone error % shoulder width median {e['median']:.2e} p99 {e['p99']:.2e} "
              f"max {e['max']:.2e} | angle change deg median {a['median']:.2e} p99 {a['p99']:.2e} "
              f"max {a['max']:.2e} | {r['ms_per_frame']:.2f} ms/frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""SignVerse-2M poses.npz read speed: our safe reader vs np.load(allow_pickle=True) + a loop.

    .venv/bin/python benchmarks/signverse2m_npz.py [--frames 5000] [--persons 1] [--repeat 5]

Data: a GENERATED release-format poses.npz (random keypoints, 10% missing points, 24 fps,
512x512), written by signverse.io.signverse2m.write_poses_npz. The peer is what a reader without
our decoder does: ``np.load(allow_pickle=True)`` (which executes pickle: fine only for trusted
files) and a Python loop that flattens each frame's payload dict into [T, P, 128, 2] / [T, P, 128]
arrays (no repairs). Ours also validates, checks NaNs and applies the two release repairs.
Figures are the best of ``--repeat`` runs; on a shared machine they are noisy.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.io.signverse2m import read_poses_npz, write_poses_npz

PARTS = (("body", slice(0, 18)), ("face", slice(18, 86)), ("left_hand", slice(86, 107)),
         ("right_hand", slice(107, 128)))


def peer_read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """np.load(allow_pickle=True) and a per-frame flattening loop (the naive reader)."""
    with np.load(path, allow_pickle=True) as data:
        payloads = data["frame_payloads"]
    n = len(payloads)
    persons = max((int(p["num_persons"]) for p in payloads), default=0)
    xy = np.full((n, persons, 128, 2), np.nan, np.float32)
    conf = np.zeros((n, persons, 128), np.float32)
    for t, payload in enumerate(payloads):
        w, h = int(payload["frame_width"]), int(payload["frame_height"])
        for p in range(int(payload["num_persons"])):
            for part, sl in PARTS:
                xy[t, p, sl] = payload[f"person_{p:03d}_{part}_keypoints"] * (w, h)
                conf[t, p, sl] = payload[f"person_{p:03d}_{part}_scores"]
    return xy, conf


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over ``repeat`` runs (CPU time is the steadier
    figure on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--persons", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shape = (args.frames, args.persons, 128)
    conf = rng.uniform(0.3, 1, shape).astype(np.float32)
    conf[rng.random(shape) < 0.1] = 0
    pose = PoseSeq(rng.uniform(0, 512, shape + (2,)).astype(np.float32), conf, fps=24, width=512,
                   height=512, layout="dwpose")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench0000001" / "npz" / "poses.npz"
        start = time.perf_counter()
        write_poses_npz(pose, path)
        write_s = time.perf_counter() - start
        size = path.stat().st_size
        ours = best(lambda: read_poses_npz(path), args.repeat)
        peer = best(lambda: peer_read(path), args.repeat)
        load_only = best(lambda: np.load(path, allow_pickle=True)["frame_payloads"], args.repeat)
        got = read_poses_npz(path)
        assert np.array_equal(got.valid, pose.valid)
    n = args.frames
    print(f"poses.npz: {n} frames x {args.persons} person(s), {size / 1e6:.1f} MB, written in {write_s:.2f} s")
    print(f"{'reader':56s} {'wall s':>7s} {'frames/s':>9s} {'cpu s':>7s} {'frames/s':>9s}")
    for label, (wall, cpu) in (("signverse read_poses_npz (safe, validated, repaired)", ours),
                               ("np.load(allow_pickle=True) + flattening loop (unsafe)", peer),
                               ("  of which np.load + unpickle alone", load_only)):
        print(f"{label:56s} {wall:7.3f} {n / wall:9.0f} {cpu:7.3f} {n / cpu:9.0f}")
    print(f"speed-up vs the peer: {peer[0] / ours[0]:.2f}x wall, {peer[1] / ours[1]:.2f}x cpu")

if __name__ == "__main__":
    main()

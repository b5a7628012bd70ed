"""Training throughput (samples/s) and inference latency of the SignDW models, CPU or CUDA.

Synthetic tensors of realistic shape (ISLR clips: 30 frames x 194 features; text->pose: 30 frames
x 384 values, 1-word texts), so the figures measure the models, not data loading.

    .venv/bin/python benchmarks/train_speed.py [--device cuda] [--threads 1] [--steps 20]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()
    import torch
    from signverse.models import get_model
    from signverse.data.features.encoder import FEATURE_DIM
    from signverse.train.trainer import resolve_device
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    B, T = args.batch, args.frames

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def batch_for(name, model, b):
        if name.startswith("signdw-text2pose"):
            pose = torch.randn(b, T, 384, device=dev)
            return {"tokens": torch.randint(4, 20, (b, 3), device=dev), "pose": pose,
                    "pose_mask": torch.ones(b, T, dtype=torch.bool, device=dev)}
        x = {"x": torch.randn(b, T, FEATURE_DIM, device=dev), "mask": torch.ones(b, T, dtype=torch.bool, device=dev)}
        if name == "signdw-pose2text":
            x["tokens"] = torch.randint(4, 20, (b, 8), device=dev)
        else:
            x["y"] = torch.randint(0, 17, (b,), device=dev)
        return x

    rows = []
    for name in ("signdw-islr", "signdw-pose2text", "signdw-text2pose", "signdw-text2pose-parallel"):
        torch.manual_seed(0)
        model = get_model(name, n_features=FEATURE_DIM, n_classes=17, vocab_size=32).to(dev)
        opt = torch.optim.AdamW(model.parameters(), 1e-3)
        batch = batch_for(name, model, B)
        model.train()
        for i in range(args.steps + 3):
            if i == 3:
                sync()
                t0 = time.perf_counter()
            loss, _ = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync()
        train_sps = args.steps * B / (time.perf_counter() - t0)
        model.eval()
        one = batch_for(name, model, 1)
        lat = []
        with torch.no_grad():
            for i in range(8):
                sync()
                t = time.perf_counter()
                if name.startswith("signdw-text2pose"):
                    model.generate(one["tokens"], lengths=torch.tensor([T], device=dev))
                elif name == "signdw-pose2text":
                    model.generate(one["x"], one["mask"], max_len=8)
                else:
                    model(one["x"], one["mask"])
                sync()
                if i >= 2:
                    lat.append(time.perf_counter() - t)
        params = sum(p.numel() for p in model.parameters())
        rows.append((name, params, train_sps, 1000 * float(np.median(lat))))
    print(f"device {dev}, threads {torch.get_num_threads()}, batch {B}, {T} frames per clip "
          "(shared machine: figures disturbed by other load)")
    print(f"{'model':<28}{'params':>10}{'train samples/s':>18}{'latency ms (1 clip)':>22}")
    for name, params, sps, ms in rows:
        print(f"{name:<28}{params:>10,}{sps:>18.1f}{ms:>22.1f}")
    print("latency: islr = one forward; pose2text = greedy decode of 8 tokens; "
          f"text2pose = generation of {T} frames (autoregressive: {T} decoder passes)")


if __name__ == "__main__":
    main()

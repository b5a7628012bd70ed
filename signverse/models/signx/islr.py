"""The ISLR-MP benchmark (../shared/data/islr) as SignX clips, and signer-disjoint folds.

Each sequence is a MediaPipe Holistic track (the 1662-float layout: 33x4 pose, 468x3 face,
2x21x3 hands; zeros = not detected) turned into a ``mediapipe-holistic`` PoseSeq on a nominal
640x480 frame (the coordinates are image fractions; normalisation removes the frame size anyway).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq

NOMINAL_W, NOMINAL_H = 640, 480


@dataclass(frozen=True)
class IslrItem:
    """One sequence: its Holistic track, class and signer."""

    pose: PoseSeq
    label: str
    signer: str


def holistic_from_1662(x: np.ndarray, fps: float = 30.0) -> PoseSeq:
    """``[T, 1662]`` tutorial keypoints -> Holistic 543-point PoseSeq (z and visibility dropped)."""
    x = np.asarray(x, np.float32)
    pose = x[:, :132].reshape(-1, 33, 4)[..., :2]
    face = x[:, 132:1536].reshape(-1, 468, 3)[..., :2]
    lh = x[:, 1536:1599].reshape(-1, 21, 3)[..., :2]
    rh = x[:, 1599:1662].reshape(-1, 21, 3)[..., :2]
    xy = np.concatenate([pose, face, lh, rh], 1)
    present = np.abs(xy).sum(-1) > 0            # the tutorial writes zeros for undetected parts
    xy = xy * np.array([NOMINAL_W, NOMINAL_H], np.float32)
    xy[~present] = np.nan
    return PoseSeq(xy[:, None], present[:, None].astype(np.float32), fps=fps, width=NOMINAL_W,
                   height=NOMINAL_H, layout="mediapipe-holistic")


def load_islr(folder: str | Path, signers: list[str] | None = None,
              max_per_signer: int | None = None) -> list[IslrItem]:
    """Items of every ``<signer>.npz`` in ``folder`` (arrays only, never pickles)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.npz"))
    if not files:
        raise InputError(folder, "no .npz files (expected the ISLR-MP folder)")
    items = []
    for f in files:
        if signers is not None and f.stem not in signers:
            continue
        try:
            with np.load(f, allow_pickle=False) as z:
                labels = [str(s) for s in z["y"]]
                if "x" in z.files:
                    seqs = list(z["x"])
                else:
                    seqs = [z[k] for k in sorted(k for k in z.files if k.startswith("x_"))]
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f, f"not an ISLR-MP signer file ({exc})") from exc
        picked = range(len(seqs))
        if max_per_signer is not None:
            picked = np.random.default_rng(0).permutation(len(seqs))[:max_per_signer]
        for i in picked:
            items.append(IslrItem(holistic_from_1662(seqs[i]), labels[i], f.stem))
    return items


def signer_folds(signers: list[str], k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train_idx, test_idx) splits of items so that no signer is on both sides.

    Signers are dealt to folds greedily by item count (largest first) to balance fold sizes.
    """
    signers = np.asarray(signers)
    names, counts = np.unique(signers, return_counts=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(k)
    fold_of = {}
    for i in order:
        f = int(load.argmin())
        fold_of[names[i]] = f
        load[f] += counts[i]
    fold = np.array([fold_of[s] for s in signers])
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]

"""Synthetic DWPose data made by the tests: class-dependent hand motion of several 'signers'."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from signverse.core.pose import PoseSeq
from signverse.data.sample import Sample
from signverse.layouts import get_layout

WORDS = ("hello", "thanks", "yes", "no")
LANGS = ("ase", "gsg")
_DW = get_layout("dwpose")


def synthetic_pose(word: int, signer: int, rng: np.random.Generator, n_frames: int = 16) -> PoseSeq:
    """A 128-point DWPose clip: a body, and a right hand whose path and shape depend on ``word``;
    ``signer`` shifts and scales the whole figure (the nuisance a model must ignore)."""
    xy = np.full((n_frames, 1, 128, 2), np.nan, np.float32)
    conf = np.zeros((n_frames, 1, 128), np.float32)
    offset = np.array([300 + 20 * signer, 200 + 10 * signer])
    scale = 1.0 + 0.1 * signer
    body = {"nose": (0, -60), "neck": (0, 0), "right_shoulder": (-50, 0), "left_shoulder": (50, 0),
            "right_elbow": (-60, 60), "left_elbow": (60, 60), "right_hip": (-30, 150),
            "left_hip": (30, 150), "right_eye": (-10, -70), "left_eye": (10, -70)}
    t = np.linspace(0, 1, n_frames)
    angle = 2 * np.pi * (word / len(WORDS))
    path = np.stack([np.cos(angle) * 60 * t, np.sin(angle) * 60 * t - 40], -1)   # wrist path
    for f in range(n_frames):
        for name, (x, y) in body.items():
            k = _DW.index(f"body.{name}")
            xy[f, 0, k] = offset + scale * np.array([x, y])
            conf[f, 0, k] = 1
        wrist = offset + scale * (np.array([-60, 40]) + path[f])
        xy[f, 0, _DW.anchor("right_wrist")] = wrist
        conf[f, 0, _DW.anchor("right_wrist")] = 1
        hand = _DW.slice("right_hand")
        spread = 4 + 3 * word
        fingers = np.array([[np.cos(a) * spread * (1 + j % 4), -abs(np.sin(a)) * 8 * (1 + j % 4)]
                            for j, a in enumerate(np.linspace(0.3, 2.8, 21))])
        fingers[0] = 0
        xy[f, 0, hand] = wrist + scale * fingers
        conf[f, 0, hand] = 1
    xy += rng.normal(0, 1.0, xy.shape).astype(np.float32)
    return PoseSeq(xy, conf, fps=24, width=640, height=480, layout="dwpose")


def synthetic_samples(n_per: int = 6, n_signers: int = 4, seed: int = 0, n_words: int = 4) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_signers):
        for w in range(n_words):
            for i in range(n_per):
                pose = synthetic_pose(w, s, rng, n_frames=int(rng.integers(12, 20)))
                out.append(Sample(f"s{s}/{WORDS[w]}/{i}", pose, label=WORDS[w],
                                  text=f"{WORDS[w]} friend" if w % 2 else WORDS[w], signer=f"s{s}",
                                  sign_language=LANGS[w % 2], video_id=f"s{s}-{w}-{i}"))
    return out


@pytest.fixture
def samples():
    return synthetic_samples()


@pytest.fixture
def pose_folder(tmp_path):
    """A folder of .pose files with an index.csv (what ``signverse train --data`` reads)."""
    from signverse.io import write_pose
    folder = tmp_path / "poses"
    folder.mkdir()
    rows = []
    for s in synthetic_samples(n_per=4, n_signers=4, seed=1):
        name = s.sample_id.replace("/", "_") + ".pose"
        write_pose(s.pose, folder / name)
        rows.append({"path": name, "label": s.label, "signer": s.signer, "text": s.text,
                     "sign_language": s.sign_language})
    with (folder / "index.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder

"""Corpus store over real pose files (../shared/data/poses converted to dwpose)."""
from __future__ import annotations

import numpy as np

import signverse
from conftest import shared
from signverse.core import Clip
from signverse.io.corpus import CorpusWriter

NAMES = ["poses_FOOTBALL.pose", "poses_mmposewholebody_FOOTBALL.pose", "colin-SAD.pose",
         "mediapipe.pose", "openpose.pose", "ss00a01b76ae96106faf5de570b9f76d4a.pose"]


def test_real_pose_files_round_trip(tmp_path):
    poses = {}
    for name in NAMES:
        poses[name] = signverse.convert(signverse.read_pose(shared("poses", name)), "dwpose")
    clips = [Clip(clip_id=name, video_id=name.split(".")[0], start=0.0, end=p.duration,
                  sign_language="ase", pose=p) for name, p in poses.items()]
    with CorpusWriter(tmp_path / "c", shard_clips=4) as writer:
        assert writer.add_many(clips) == len(clips)
    corpus = signverse.open_corpus(tmp_path / "c")
    assert len(corpus) == len(NAMES)
    frames = 0
    for clip in corpus:
        want = poses[clip.clip_id]
        got = clip.pose
        frames += got.n_frames
        assert got.layout == "dwpose" and got.xy.shape == want.xy.shape
        assert (got.valid == want.valid).all()
        bound = max(want.width, want.height) / 65536
        err = np.abs(got.xy - want.xy)[want.valid]
        assert err.max() <= bound + 1.3e-4   # + float32 rounding
        # the same bound expressed for a 1920-px-wide frame: <= 0.05 px
        assert err.max() / max(want.width, want.height) * 1920 <= 0.05
        assert np.abs(got.conf - want.conf).max() <= max(1.0, want.conf.max()) / 255 + 1e-6
    assert corpus["colin-SAD.pose"].pose.n_frames == poses["colin-SAD.pose"].n_frames
    # real motion compresses to well under the 1,536 bytes/frame of raw float32 xy + conf
    stored = sum(p.stat().st_size for p in (tmp_path / "c" / "poses").rglob("*.parquet"))
    assert stored / frames < 400

"""The real ISLR-MP DEV folder (../shared/data/islr): loaded once per module."""
import csv
import time

import numpy as np
import pytest

from conftest import shared
from signverse.data import (FeatureExtractor, FrameBudgetSampler, PoseDataset, Vocabulary,
                            load_samples)
from signverse.data.mediapipe import load_islr
from signverse.tasks import assert_disjoint, get_task, make_split


@pytest.fixture(scope="module")
def islr():
    folder = shared("islr")
    start = time.perf_counter()
    samples = load_samples(folder)
    return folder, samples, time.perf_counter() - start


@pytest.mark.slow
def test_counts_and_speed(islr):
    _, samples, elapsed = islr
    assert len(samples) == 1940
    assert len({s.signer for s in samples}) == 51
    assert len({s.label for s in samples}) == 17
    # ~5 s on the 2-core dev machine (threads over LZMA); generous bound for busy CI machines
    assert elapsed < 60, f"loading took {elapsed:.1f} s"


def test_matches_manifest(islr):
    folder, samples, _ = islr
    with open(folder / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {f"{r['signer']}/{r['sequence']}": r for r in rows}
    assert set(by_id) == {s.sample_id for s in samples}
    for s in samples[::37]:
        row = by_id[s.sample_id]
        assert row["class"] == s.label and int(row["frames"]) == s.n_frames
        assert row["signer"] == s.signer


def test_pose_geometry(islr):
    _, samples, _ = islr
    pose = samples[0].pose
    assert pose.layout == "mediapipe-holistic" and pose.n_frames == samples[0].n_frames
    # README: the left-hand block's wrist lies nearer pose landmark 15 (left wrist) than 16 in
    # most hand frames (here over all of one well-behaved signer's sequences).
    near, far = [], []
    for s in samples:
        if s.signer != "zclzz__Sign-To-Text":
            continue
        p = s.pose
        frames = p.valid[:, 0, 501] & p.valid[:, 0, 15] & p.valid[:, 0, 16]
        near.append(np.linalg.norm(p.xy[frames, 0, 501] - p.xy[frames, 0, 15], axis=-1))
        far.append(np.linalg.norm(p.xy[frames, 0, 501] - p.xy[frames, 0, 16], axis=-1))
    near, far = np.concatenate(near), np.concatenate(far)
    assert len(near) > 20
    assert (near < far).mean() > 0.9


def test_signer_kfold_on_real_signers(islr):
    _, samples, _ = islr
    task = get_task("islr")
    tests = []
    for fold in range(5):
        split = task.split(samples, protocol=f"signer-kfold-5-{fold}")
        assert_disjoint(split, samples, "signer")
        train_signers = {s.signer for s in split.select(samples, "train")}
        test_signers = {s.signer for s in split.select(samples, "test")}
        assert not train_signers & test_signers
        tests.append(set(split.test))
    assert sum(map(len, tests)) == 1940 and len(set().union(*tests)) == 1940
    assert make_split("signer-90-5-5", samples, seed=1) == make_split("signer-90-5-5", samples, seed=1)


def test_dataset_over_real_samples(islr):
    pytest.importorskip("torch")
    _, samples, _ = islr
    subset = [s for s in samples if s.signer in ("zclzz__Sign-To-Text", "hirak214__signLangWebApp")]
    fe = FeatureExtractor("holistic-upper").fit(subset)
    ds = PoseDataset(subset, fe, vocab=Vocabulary.from_samples(samples))
    sampler = FrameBudgetSampler(ds.lengths, 600, seed=0)
    batches = sampler.batches()
    assert sorted(i for b in batches for i in b) == list(range(len(subset)))
    item = ds[batches[0][0]]
    assert item["x"].shape[1] == fe.dim() and 0 <= item["target"] < 17
    assert np.isfinite(item["x"].numpy()).all()


def test_subset_of_signers():
    samples = load_islr(shared("islr"), signers=["zclzz__Sign-To-Text"])
    assert len(samples) == 40
    assert {s.label for s in samples} == {"hello", "iloveyou", "thanks", "welcome"}

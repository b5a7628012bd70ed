import numpy as np
import pytest

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.data import (FeatureExtractor, FrameBudgetSampler, PoseDataset, Sample, Vocabulary,
                            collate_pad, make_loader)


def lengths_fixture(n=300, seed=0):
    return np.random.default_rng(seed).integers(5, 120, size=n).tolist()


@pytest.mark.parametrize("budget", [120, 500, 2000])
def test_sampler_budget_and_coverage(budget):
    lengths = lengths_fixture()
    sampler = FrameBudgetSampler(lengths, budget, seed=1)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        for b in batches:
            assert max(lengths[i] for i in b) * len(b) <= budget
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(len(lengths)))      # every sample exactly once


def test_sampler_groups_similar_lengths():
    lengths = lengths_fixture(1000)
    batches = FrameBudgetSampler(lengths, 1000, seed=0, bucket_width=4).batches()
    # padding waste: padded frames vs real frames, well below what random batching gives (~2x)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded / sum(lengths) < 1.2


def test_sampler_determinism_and_epochs():
    lengths = lengths_fixture()
    a = FrameBudgetSampler(lengths, 600, seed=5)
    b = FrameBudgetSampler(lengths, 600, seed=5)
    assert a.batches(0) == b.batches(0)
    assert a.batches(0) != a.batches(1)                 # reshuffled each epoch
    assert a.batches(0) != FrameBudgetSampler(lengths, 600, seed=6).batches(0)
    fixed = FrameBudgetSampler(lengths, 600, shuffle=False)
    assert fixed.batches(0) == fixed.batches(3)
    # shuffle=False: length-sorted
    order = [i for bt in fixed.batches() for i in bt]
    assert [lengths[i] for i in order] == sorted(lengths)


def test_sampler_shuffles_within_buckets():
    # all the same length: one bucket; the order inside must change with the epoch
    s = FrameBudgetSampler([10] * 50, 100, seed=0)
    first = [i for b in s.batches(0) for i in b]
    second = [i for b in s.batches(1) for i in b]
    assert sorted(first) == sorted(second) and first != second


def test_sampler_oversize_policies():
    with pytest.raises(SignverseError, match="longer than the frame budget"):
        FrameBudgetSampler([10, 500], 100)
    single = FrameBudgetSampler([10, 500, 20], 100, oversize="single").batches()
    assert [1] in single and sorted(i for b in single for i in b) == [0, 1, 2]
    dropped = FrameBudgetSampler([10, 500, 20], 100, oversize="drop").batches()
    assert sorted(i for b in dropped for i in b) == [0, 2]
    capped = FrameBudgetSampler([1] * 10, 100, max_batch_size=3).batches()
    assert max(len(b) for b in capped) == 3


def make_samples(n=12):
    samples = []
    for i in range(n):
        t = 4 + (i % 5) * 3
        xy = np.random.default_rng(i).normal(200, 20, size=(t, 1, 128, 2)).astype(np.float32)
        samples.append(Sample(f"s{i}", PoseSeq(xy, np.ones((t, 1, 128), np.float32), fps=25,
                                               width=400, height=400, layout="dwpose"),
                              label=["hello", "thanks", "yes"][i % 3], signer=f"p{i % 4}", text=f"t{i}"))
    return samples


def test_vocabulary():
    samples = make_samples()
    vocab = Vocabulary.from_samples(samples)
    assert vocab.tokens == ["hello", "thanks", "yes"]
    assert Vocabulary.from_dict(vocab.to_dict()).tokens == vocab.tokens
    with pytest.raises(SignverseError):
        vocab.encode("nope")
    unk = Vocabulary(["a"], unknown="<unk>")
    assert unk.encode("zzz") == 0 and unk.encode(None) == -1


def test_dataset_and_collate():
    torch = pytest.importorskip("torch")
    samples = make_samples()
    fe = FeatureExtractor("dwpose-hands-body").fit(samples)
    ds = PoseDataset(samples, fe, vocab=Vocabulary.from_samples(samples), max_frames=10)
    assert ds.lengths == [min(s.n_frames, 10) for s in samples]
    item = ds[4]                           # 16 frames, centre-cropped to 10
    assert item["x"].shape == (10, fe.dim()) and item["target"] == 1 and item["length"] == 10
    batch = collate_pad([ds[0], ds[1], ds[4]])
    assert batch["x"].shape == (3, 10, fe.dim()) and batch["x"].dtype == torch.float32
    assert batch["lengths"].tolist() == [4, 7, 10]
    assert batch["padding_mask"][0].tolist() == [False] * 4 + [True] * 6
    assert (batch["x"][0, 4:] == 0).all() and batch["mask"][1, :7].all() and not batch["mask"][1, 7:].any()
    assert batch["target"].tolist() == [0, 1, 1] and batch["sample_id"] == ["s0", "s1", "s4"]


def test_augmentation_is_reproducible():
    pytest.importorskip("torch")
    from signverse.ops import random_augment
    samples = make_samples(3)
    fe = FeatureExtractor("dwpose-hands-body", stats=None)
    ds = PoseDataset(samples, fe, augment=random_augment(), seed=3)
    a = ds[0]["x"].clone()
    assert (ds[0]["x"] == a).all()
    ds.set_epoch(1)
    assert not (ds[0]["x"] == a).all()
    plain = PoseDataset(samples, fe)[0]["x"]
    assert not (plain == a).all()


def test_dataloader_with_workers():
    torch = pytest.importorskip("torch")
    samples = make_samples(20)
    fe = FeatureExtractor("dwpose-hands-body").fit(samples)
    ds = PoseDataset(samples, fe, vocab=Vocabulary.from_samples(samples))
    loader = make_loader(ds, 40, seed=0, num_workers=2)
    seen = []
    for batch in loader:
        assert batch["x"].shape[0] * batch["x"].shape[1] <= 40
        seen.extend(batch["sample_id"])
    assert sorted(seen) == sorted(s.sample_id for s in samples)
    assert isinstance(batch["target"], torch.Tensor)


def test_lazy_samples_pickle(tmp_path):
    # spawned DataLoader workers pickle the dataset: lazy poses must survive it
    import pickle
    from signverse.data import read_mp_data
    from signverse.data.mediapipe import MP_VECTOR_SIZE
    d = tmp_path / "MP_Data" / "hello" / "0"
    d.mkdir(parents=True)
    for f in range(3):
        v = np.zeros(MP_VECTOR_SIZE, np.float32)
        v[:132].reshape(33, 4)[:, :] = [0.5, 0.5, 0, 1]
        np.save(d / f"{f}.npy", v)
    sample = read_mp_data(tmp_path / "MP_Data", lazy=True)[0]
    assert sample.is_lazy
    copy = pickle.loads(pickle.dumps(sample))
    assert copy.sample_id == sample.sample_id and copy.n_frames == 3
    np.testing.assert_array_equal(copy.pose.xy, sample.pose.xy)


def test_feature_cache():
    pytest.importorskip("torch")
    samples = make_samples(4)
    calls = []

    class Counting(FeatureExtractor):
        def raw(self, pose):
            calls.append(1)
            return super().raw(pose)

    ds = PoseDataset(samples, Counting("dwpose-hands-body"), cache=True)
    a = ds[2]["x"]
    a.add_(100.0)                               # the caller edits its tensor in place
    b = ds[2]["x"]
    assert len(calls) == 1 and not (a == b).any()
    from signverse.ops import random_augment
    aug = PoseDataset(samples, Counting("dwpose-hands-body"), cache=True, augment=random_augment())
    aug[0], aug[0]
    assert len(calls) == 3                      # augmented items are never cached

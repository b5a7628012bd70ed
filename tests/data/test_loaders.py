import numpy as np
import pytest

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip
from signverse.data import load_samples, read_pose_index
from signverse.data.loaders import detect_source


def test_fingerspelling_index(shared_data):
    index = shared_data("fingerspelling", "index.csv")
    samples = load_samples(index)
    assert len(samples) == 112
    first = samples[0]
    assert first.label == "A" and first.sign_language == "ase" and first.text == "A"
    assert first.is_lazy
    pose = first.pose
    assert pose.n_frames > 0 and pose.layout.startswith("mediapipe-holistic")
    import csv
    with open(index, newline="") as fh:
        langs = {row["signed_language"] for row in csv.DictReader(fh)}
    assert {s.sign_language for s in samples} == langs and "ase" in langs


def small_pose(n=4, value=1.0):
    return PoseSeq(np.full((n, 1, 128, 2), value, np.float32), np.ones((n, 1, 128), np.float32),
                   fps=25, width=100, height=100, layout="dwpose")


def test_index_csv_written_here(tmp_path):
    pytest.importorskip("pose_format")
    import signverse
    signverse.write_pose(small_pose(3), tmp_path / "a.pose")
    signverse.write_pose(small_pose(5), tmp_path / "b.pose")
    (tmp_path / "index.csv").write_text(
        "path,label,signer,text,split\n"
        "a.pose,HELLO,p1,hello there,train\n"
        "b.pose,BYE,p2,,test\n"
        "missing.pose,X,p3,,train\n")
    assert detect_source(tmp_path) == "index"
    samples = load_samples(tmp_path)
    assert [(s.label, s.signer, s.split) for s in samples] == [("HELLO", "p1", "train"), ("BYE", "p2", "test")]
    assert samples[0].text == "hello there" and samples[1].text is None
    assert [s.n_frames for s in samples] == [3, 5]
    with pytest.raises(InputError, match="missing.pose"):
        read_pose_index(tmp_path / "index.csv", errors="raise")


def test_corpus_store(tmp_path):
    pytest.importorskip("pyarrow")
    corpus_mod = pytest.importorskip("signverse.io.corpus")
    root = tmp_path / "corpus"
    with corpus_mod.CorpusWriter(root, shard_clips=2) as w:
        for i in range(5):
            w.add(Clip(clip_id=f"v{i // 2}-{i}", video_id=f"v{i // 2}", start=0, end=1,
                       sign_language="ase", signer=f"s{i % 2}", text=f"text {i}", gloss=f"G{i % 3}",
                       split="train" if i < 4 else "test", pose=small_pose(3 + i, float(i))))
    assert detect_source(root) == "corpus"
    samples = load_samples(root)
    assert len(samples) == 5 and all(s.is_lazy for s in samples)
    by_id = {s.sample_id: s for s in samples}
    s3 = by_id["v1-3"]
    assert (s3.label, s3.text, s3.signer, s3.split, s3.n_frames) == ("G0", "text 3", "s1", "train", 6)
    np.testing.assert_allclose(s3.pose.xy, 3.0, atol=0.01)
    test = load_samples(root, split="test")
    assert [s.sample_id for s in test] == ["v2-4"]
    eager = load_samples(root, lazy=False)
    assert sorted(s.sample_id for s in eager) == sorted(by_id)


def test_unknown_source(tmp_path):
    (tmp_path / "junk.txt").write_text("x")
    with pytest.raises(InputError, match="not a known sample source"):
        load_samples(tmp_path)
    with pytest.raises(InputError, match="no such"):
        load_samples(tmp_path / "absent")


def test_dataset_from_corpus_path(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("torch")
    corpus_mod = pytest.importorskip("signverse.io.corpus")
    from signverse.data import FeatureExtractor, PoseDataset
    root = tmp_path / "corpus"
    with corpus_mod.CorpusWriter(root) as w:
        for i in range(3):
            w.add(Clip(clip_id=f"c{i}", video_id=f"v{i}", gloss="G", pose=small_pose(2 + i)))
    ds = PoseDataset(str(root), FeatureExtractor("dwpose-hands-body"))
    assert len(ds) == 3 and sorted(ds.lengths) == [2, 3, 4]
    assert ds[0]["x"].shape[0] == ds.lengths[0]

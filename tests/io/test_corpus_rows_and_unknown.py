"""Corpus selections match what `info` calls unknown; pose rows decode outside signverse (HF datasets)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from signverse.core.errors import InputError  # noqa: E402
from signverse.core.pose import PoseSeq  # noqa: E402
from signverse.core.records import Clip  # noqa: E402
from signverse.io.corpus import CorpusWriter, decode_pose_batch, decode_pose_row, open_corpus  # noqa: E402


def _clip(i: int, language, split) -> Clip:
    rng = np.random.default_rng(i)
    xy = rng.uniform(0, 600, (5, 1, 128, 2)).astype(np.float32)
    conf = rng.uniform(0.1, 1, (5, 1, 128)).astype(np.float32)
    conf[:, :, :10] = 0
    pose = PoseSeq(xy, conf, fps=24, width=640, height=480, layout="dwpose")
    return Clip(clip_id=f"c{i}", video_id=f"v{i}", start=0.0, end=pose.duration, sign_language=language,
                split=split, pose=pose)


@pytest.fixture
def corpus(tmp_path):
    with CorpusWriter(tmp_path / "c") as w:
        w.add_many([_clip(0, "ase", "train"), _clip(1, None, None), _clip(2, None, "dev"), _clip(3, "gsg", None)])
    return open_corpus(tmp_path / "c")


def test_where_unknown_language_matches_info(corpus):
    summary = corpus.summary()
    assert summary["languages"]["unknown"]["clips"] == 2
    unknown = corpus.where(language="unknown")
    assert sorted(r["clip_id"] for r in unknown.records()) == ["c1", "c2"]
    assert len(corpus.where(language=None)) == 2
    assert sorted(r["clip_id"] for r in corpus.where(language=["ase", "unknown"]).records()) == ["c0", "c1", "c2"]
    assert len(corpus.where(split="none")) == summary["splits"]["none"]["clips"] == 2
    assert len(corpus.where(language="unknown", split="dev")) == 1
    assert len(corpus.where(language="ase")) == 1


def test_pose_rows_decode_with_plain_pyarrow_and_datasets(corpus, tmp_path):
    import pyarrow.parquet as pq
    table = pq.read_table(next((corpus.root / "poses" / "dwpose").glob("*.parquet")))
    rows = table.to_pylist()
    want = {c.clip_id: c.pose for c in corpus}
    for row in rows:
        pose = decode_pose_row(row)
        ref = want[row["clip_id"]]
        assert pose.layout == "dwpose" and (pose.width, pose.height, pose.fps) == (640, 480, 24)
        assert np.array_equal(pose.valid, ref.valid)
        assert np.nanmax(np.abs(pose.xy - ref.xy)) < 0.02
    batch = decode_pose_batch(table.to_pydict())
    assert batch["xy"][0].shape == (5, 1, 128, 2) and batch["conf"][0].shape == (5, 1, 128)
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(corpus.root / "poses" / "dwpose" / "*.parquet"),
                               split="train", cache_dir=str(tmp_path / "hf"))
    assert isinstance(ds[0]["xy"], bytes)                       # what datasets sees: binary
    assert decode_pose_row(ds[0]).n_frames == 5
    ds.set_transform(decode_pose_batch)
    assert np.asarray(ds[0]["xy"]).shape == (5, 1, 128, 2)


def test_a_clips_row_is_refused_with_a_clear_error(corpus):
    import pyarrow.parquet as pq
    row = pq.read_table(next((corpus.root / "clips").glob("*.parquet"))).to_pylist()[0]
    with pytest.raises(InputError, match="not a corpus pose row"):
        decode_pose_row(row)

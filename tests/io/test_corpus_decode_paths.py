"""The decode paths of the corpus store: the fused kernel, the numpy fallback, LZ4 and the older zstd
payloads, the random-access row-group cache, and damaged LZ4 files."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from signverse.core import Clip, InputError, PoseSeq
from signverse.io.corpus import CorpusWriter, codec, kernel as kernel_module, open_corpus, schema
from signverse.io.corpus.reader import PoseRows, _Files
from tests.io.test_corpus import assert_pose_close, make_pose
from tests.io.test_corpus_batch_decode import _batch, _table


def _payload_codecs(root) -> set[str]:
    codecs = set()
    for path in (root / "poses").rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                column = meta.row_group(g).column(c)
                if column.path_in_schema in ("xy", "conf"):
                    codecs.add(column.compression)
    return codecs


def _poses():
    far = make_pose(9, 1, seed=7)
    xy = far.xy.copy()
    xy[4, 0, 3] = [50_000.0, -40_000.0]    # beyond +-32767 steps: escapes
    far = PoseSeq(xy, far.conf, fps=24.0, width=640, height=480, layout="dwpose")
    return [make_pose(40, 1, seed=1), make_pose(5, 2, seed=2, missing=0.5), None, far, make_pose(1, 1, seed=3),
            make_pose(0, 1, seed=4), make_pose(31, 1, seed=5, width=320, height=240),
            make_pose(7, 2, seed=6, n_points=17, layout="custom"), make_pose(300, 1, seed=8, missing=0.0)]


def _numpy_only(monkeypatch):
    monkeypatch.setattr(codec, "USE_KERNEL", False)


@pytest.fixture
def kernel_on(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("SIGNVERSE_NO_NUMBA", raising=False)   # these tests are about the kernel
    if kernel_module.loaded_kernel() is None:
        monkeypatch.setattr(kernel_module, "_STATE", {})
    monkeypatch.setattr(codec, "USE_KERNEL", True)
    assert kernel_module.kernel() is not None


def _write(root, poses, **options):
    clips = [Clip(clip_id=f"v-{i}", video_id="v", pose=p) for i, p in enumerate(poses)]
    with CorpusWriter(root, **options) as writer:
        writer.add_many(clips)
    return clips


def test_kernel_and_numpy_give_the_same_bits(monkeypatch, kernel_on):
    rows, table = _table(_poses())
    fast = _batch(table)
    monkeypatch.setattr(codec, "CHUNK_VALUES", 1024)   # numpy chunks cut through long rows: carried sums
    _numpy_only(monkeypatch)
    slow = _batch(table)
    assert fast[2] is None and slow[2] is None
    for a, b in zip(fast, slow):
        if a is not None:
            assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_unsorted_and_repeated_escapes_decode_alike_in_both_paths(monkeypatch, kernel_on):
    pose = make_pose(6, 1, n_points=4, seed=11, missing=0.0)
    row = schema.pose_row("c0", pose)
    n = 6 * 4 * 2
    pos = np.array([30, 5, 30, 12], "<u4")           # a hostile file: out of order, one position twice
    values = np.array([40_000, -7, 99, 3], "<i4")
    row["xy_escapes"] = pos.tobytes() + values.tobytes()
    args = (row["xy"], row["conf"], (6, 1, 4), row["xy_step"], row["conf_scale"])
    fast = codec.decode_arrays(*args, width=pose.width, height=pose.height, escapes=row["xy_escapes"])
    _numpy_only(monkeypatch)
    slow = codec.decode_arrays(*args, width=pose.width, height=pose.height, escapes=row["xy_escapes"])
    assert fast[0].tobytes() == slow[0].tobytes()
    with pytest.raises(ValueError, match="escape position"):
        bad = np.array([n], "<u4").tobytes() + np.array([1], "<i4").tobytes()
        codec.decode_arrays(*args, width=pose.width, height=pose.height, escapes=bad)


def test_numba_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("SIGNVERSE_NO_NUMBA", "1")
    monkeypatch.setattr(kernel_module, "_STATE", {})
    assert kernel_module.kernel() is None and kernel_module.loaded_kernel() is None


def test_the_kernel_loads_only_after_enough_frames(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.delenv("SIGNVERSE_NO_NUMBA", raising=False)
    monkeypatch.setattr(kernel_module, "_STATE", {})
    monkeypatch.setattr(codec, "_frames_seen", 0)
    monkeypatch.setattr(codec, "KERNEL_AFTER_FRAMES", 250)
    rows, table = _table([make_pose(100, 1, seed=1), make_pose(100, 1, seed=2)])
    _batch(table)
    assert kernel_module.loaded_kernel() is None       # 200 frames: numpy, numba not even imported
    _batch(table)
    assert kernel_module.loaded_kernel() is not None


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_lz4_default_and_zstd_stores_round_trip_within_the_bound(tmp_path, compression, monkeypatch, kernel_on):
    options = {} if compression == "lz4" else {"pose_compression": "zstd"}
    poses = [p for p in _poses() if p is not None]
    clips = _write(tmp_path / "c", poses, **options)
    codecs = _payload_codecs(tmp_path / "c")
    assert codecs and codecs <= ({"LZ4_RAW", "LZ4"} if compression == "lz4" else {"ZSTD"})
    corpus = open_corpus(tmp_path / "c")
    streamed = {c.clip_id: c.pose for c in corpus}
    arrays = {i: (xy, conf) for i, xy, conf in corpus.iter_arrays()}
    for clip in clips:
        if clip.pose.n_frames:
            assert_pose_close(streamed[clip.clip_id], clip.pose)
        assert streamed[clip.clip_id].xy.shape == clip.pose.xy.shape
        got = corpus[clip.clip_id].pose
        assert got.xy.tobytes() == streamed[clip.clip_id].xy.tobytes()
        assert arrays[clip.clip_id][1].tobytes() == streamed[clip.clip_id].conf.tobytes()
    _numpy_only(monkeypatch)
    for clip in open_corpus(tmp_path / "c"):
        assert clip.pose.xy.tobytes() == streamed[clip.clip_id].xy.tobytes()


def test_a_zstd_store_written_the_old_way_still_reads_and_takes_lz4_appends(tmp_path):
    # The previous writer: zstd-9 payloads in ~256 KB row groups (the format is otherwise the same).
    old = [make_pose(50, 1, seed=i, missing=0.3) for i in range(4)]
    root = tmp_path / "c"
    _write(root, old, pose_compression="zstd")
    assert _payload_codecs(root) == {"ZSTD"}
    with CorpusWriter(root) as writer:   # a new writer appends LZ4 shards to the same corpus
        writer.add_many(Clip(clip_id=f"new-{i}", video_id="w", pose=make_pose(20, 1, seed=20 + i))
                        for i in range(3))
    assert len(_payload_codecs(root)) == 2
    corpus = open_corpus(root)
    assert len(corpus) == 7
    for i, pose in enumerate(old):
        assert_pose_close(corpus[f"v-{i}"].pose, pose)
    assert sum(c.pose.n_frames for c in corpus) == 4 * 50 + 3 * 20


def test_random_access_repeats_give_fresh_arrays(tmp_path, monkeypatch):
    poses = [make_pose(30, 1, seed=i) for i in range(12)]
    _write(tmp_path / "c", poses)
    corpus = open_corpus(tmp_path / "c")
    first = corpus["v-4"].pose
    first.xy[:] = 0.0           # a caller's in-place edit must not reach the next read
    for _ in range(3):          # the row group is converted whole from the second hit on
        again = corpus["v-4"].pose
        assert_pose_close(again, poses[4])
    assert all(corpus[f"v-{i}"].pose.n_frames == 30 for i in range(12))


def test_the_row_group_cache_is_bounded_by_bytes(tmp_path, monkeypatch):
    poses = [make_pose(200, 1, seed=i) for i in range(8)]
    monkeypatch.setattr(schema, "POSE_ROW_GROUP_BYTES", 100_000)   # one clip per pose row group
    _write(tmp_path / "c", poses)
    monkeypatch.setattr(_Files, "GROUP_BYTES", 300_000)
    corpus = open_corpus(tmp_path / "c")
    for i in [3, 0, 7, 1, 6, 2, 5, 4, 3]:
        assert_pose_close(corpus[f"v-{i}"].pose, poses[i])
        assert corpus._files._group_bytes <= 300_000 or len(corpus._files._groups) == 1
    assert len(corpus._files._groups) < 8


def test_a_truncated_lz4_shard_is_refused_in_one_line(tmp_path):
    _write(tmp_path / "c", [make_pose(60, 1, seed=i) for i in range(3)])
    path = next((tmp_path / "c" / "poses").rglob("shard-*.parquet"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    corpus = open_corpus(tmp_path / "c")
    for read in (lambda: corpus["v-1"], lambda: list(corpus), lambda: list(corpus.iter_arrays())):
        with pytest.raises(InputError) as info:
            read()
        assert "\n" not in str(info.value) and "shard-00000.parquet" in str(info.value)


def test_a_damaged_lz4_payload_names_its_clip_and_the_others_still_read(tmp_path):
    poses = [make_pose(12, 1, seed=i) for i in range(3)]
    rows, _ = _table(poses)
    rows[1]["conf"] = rows[1]["conf"][:-5]
    from signverse.io.corpus.writer import _pose_table
    bad = _pose_table(rows)
    pr = PoseRows(bad, "shard.parquet")
    assert pr.arrays(0, only=True)[0].shape == (12, 1, 128, 2)
    assert pr.arrays(2)[0].shape == (12, 1, 128, 2)
    for only in (True, False):
        with pytest.raises(InputError, match="c1") as info:
            pr.arrays(1, only=only)
        assert "\n" not in str(info.value)

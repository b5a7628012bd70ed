"""Row groups checked once and decoded whole (streaming) or row by row (random access): the same
bits as the reference decoder, clips isolated from one another, the random-access cache bounded."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from signverse.core import Clip, InputError
from signverse.io.corpus import codec, open_corpus, schema
from signverse.io.corpus.group import PoseGroup
from signverse.io.corpus.meta import MetaRows
from signverse.io.corpus.reader import PoseRows, _Files
from signverse.io.corpus.writer import _pose_table
from tests.io.test_corpus import assert_pose_close, make_clip, make_pose, write
from tests.io.test_corpus_batch_decode import _table
from tests.io.test_corpus_decode_paths import _poses


def _reference(row):
    return codec.decode_arrays(row["xy"], row["conf"], (row["n_frames"], row["n_persons"], row["n_points"]),
                               row["xy_step"], row["conf_scale"], width=row["width"], height=row["height"],
                               escapes=row["xy_escapes"])


@pytest.mark.parametrize("use_kernel", [True, False])
def test_whole_and_single_row_decoding_give_the_reference_bits(monkeypatch, use_kernel):
    if use_kernel:
        pytest.importorskip("numba")
    monkeypatch.setattr(codec, "USE_KERNEL", use_kernel)
    poses = _poses()   # escapes, a null row, 0- and 1-frame clips, 2 persons, another layout
    rows, table = _table(poses)
    group = PoseGroup(table)
    whole = group.decode_all()
    assert not group.present[2] and whole[2] is None
    for i, (row, pose) in enumerate(zip(rows, poses)):
        if pose is None or pose.n_frames == 0:
            assert not group.ok[i]   # degenerate: the reader's row-by-row path
            continue
        want = _reference(row)
        one = group.decode_row(i)
        for got in (whole[i], one):
            assert got[0].shape == pose.xy.shape and got[0].dtype == np.float32
            assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()
    # a row decoded alone gets arrays of its own each time; a whole decode's rows do not overlap
    assert not np.shares_memory(group.decode_row(0)[0], group.decode_row(0)[0])
    assert not np.shares_memory(whole[0][0], whole[1][0]) and not np.shares_memory(whole[0][1], whole[1][1])


@pytest.mark.parametrize("use_kernel", [True, False])
def test_a_group_read_of_several_row_groups_and_a_hostile_row_among_good_ones(monkeypatch, use_kernel):
    if use_kernel:
        pytest.importorskip("numba")
    monkeypatch.setattr(codec, "USE_KERNEL", use_kernel)
    poses = [make_pose(12, 1, seed=i) for i in range(4)]
    rows, table = _table(poses)
    rows[2]["n_frames"] = 2 ** 31 - 1      # claims ~275 billion values from a 12-frame payload
    bad = pa.concat_tables([table.slice(0, 2), _pose_table(rows[2:])])   # as a read of two row groups
    assert bad.column("xy").num_chunks > 1
    pr = PoseRows(bad, "shard.parquet")
    assert list(pr.group.ok) == [True, True, False, True]
    for i in (0, 1, 3):   # one chunk each way: whole (streaming) and alone (random access)
        assert pr.arrays(i)[0].tobytes() == _reference(rows[i])[0].tobytes()
        assert pr.arrays(i, only=True)[1].tobytes() == _reference(rows[i])[1].tobytes()
    with pytest.raises(InputError, match="c2") as info:
        pr.arrays(2)
    assert "\n" not in str(info.value)


def test_streamed_clips_are_isolated_and_random_reads_are_fresh(tmp_path):
    clips = [make_clip(i, n_frames=10 + i) for i in range(9)]
    write(tmp_path / "c", clips)
    corpus = open_corpus(tmp_path / "c")
    streamed = list(corpus)
    before = [(c.pose.xy.copy(), c.pose.conf.copy()) for c in streamed]
    # in-place edits of one streamed clip (views into one decoded row group) reach no other clip
    streamed[4].pose.xy[:] = 7.0
    streamed[4].pose.conf[:] = 0.5
    for i, clip in enumerate(streamed):
        if i != 4:
            assert clip.pose.xy.tobytes() == before[i][0].tobytes()
            assert clip.pose.conf.tobytes() == before[i][1].tobytes()
    # random access: every read owns its arrays; an edit never reaches the cache or a later read
    first = corpus[clips[5].clip_id].pose
    first.xy[:] = 0.0
    first.conf[:] = 0.0
    for clip in clips:
        again = corpus[clip.clip_id].pose
        assert not np.shares_memory(again.xy, corpus[clip.clip_id].pose.xy)
        assert_pose_close(again, clip.pose)
    assert corpus[clips[4].clip_id].pose.xy.tobytes() == before[4][0].tobytes()


def test_random_access_in_any_order_matches_streaming_fields_and_bits(tmp_path):
    clips = [make_clip(i, n_frames=5 + (7 * i) % 23, n_persons=1 + i % 2) for i in range(40)]
    clips[3] = Clip(clip_id="no-pose", video_id="v", start=1.0, end=2.0, text="t", qc={"motion": 0.25})
    write(tmp_path / "c", clips, shard_clips=15)
    streamed = {c.clip_id: c for c in open_corpus(tmp_path / "c")}
    order = np.random.default_rng(1).permutation(len(clips))
    corpus = open_corpus(tmp_path / "c")
    for i in order.tolist():
        want = clips[i]
        got = corpus[want.clip_id]
        assert got == want                       # every metadata field, qc (stored and extra) included
        assert got == streamed[want.clip_id]
        if want.pose is None:
            assert got.pose is None and streamed[want.clip_id].pose is None
            continue
        assert got.pose.xy.tobytes() == streamed[want.clip_id].pose.xy.tobytes()
        assert got.pose.conf.tobytes() == streamed[want.clip_id].pose.conf.tobytes()
        assert_pose_close(got.pose, want.pose)


def test_metadata_rows_build_the_same_clips_as_the_reference_conversion():
    rows = [schema.clip_row(make_clip(i)) for i in range(5)]
    rows[1]["qc_motion"] = float("nan")          # NaN is "no value", as in schema.clip_kwargs
    rows[2]["start"] = None
    rows[3]["qc_extra"] = None
    table = pa.Table.from_pylist(rows, schema=schema.clips_schema())
    meta = MetaRows(table)
    for i, row in enumerate(table.to_pylist()):
        assert meta.clip(i) == Clip(**schema.clip_kwargs(row))
        if i != 1:   # NaN != NaN
            assert meta.row(i) == row


def test_the_random_access_cache_is_bounded_in_bytes_and_in_arrow_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "POSE_ROW_GROUP_BYTES", 150_000)   # ~2 clips of 120 frames a row group
    clips = [make_clip(i, n_frames=120) for i in range(24)]
    write(tmp_path / "c", clips)
    limit = 600_000
    monkeypatch.setattr(_Files, "GROUP_BYTES", limit)
    corpus = open_corpus(tmp_path / "c")
    corpus[clips[0].clip_id]
    base = pa.total_allocated_bytes()
    peak = 0
    for i in np.random.default_rng(0).permutation(len(clips)).tolist() * 2:
        assert_pose_close(corpus[clips[i].clip_id].pose, clips[i].pose)
        files = corpus._files
        assert files._group_bytes <= limit or len(files._groups) == 1
        assert files._group_bytes == sum(g.nbytes for g in files._groups.values())
        peak = max(peak, pa.total_allocated_bytes() - base)
    # what Arrow really holds stays within the stated bound (plus the row group being read)
    assert peak <= limit + 400_000, peak
    pose_groups = [k for k in corpus._files._groups if "poses" in str(k[0])]
    assert 1 <= len(pose_groups) < 12


def test_output_buffers_are_reused_only_when_nothing_refers_to_them(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(codec, "USE_KERNEL", True)   # the pool serves the kernel's whole-read outputs
    from signverse.io.corpus import group
    rows, table = _table([make_pose(30, 1, seed=i) for i in range(4)])
    pg = PoseGroup(table)
    first = pg.decode_all()
    second = pg.decode_all()                 # the first read's arrays are alive: fresh memory
    assert not any(np.shares_memory(a[0], b[0]) or np.shares_memory(a[1], b[1]) for a in first for b in second)
    held = memoryview(first[2][1])           # any reference to one clip's array pins its buffer
    want = [(a[0].copy(), a[1].copy()) for a in first]
    del first
    third = pg.decode_all()
    assert not np.shares_memory(np.asarray(held), third[2][1])
    third[0][0][:] = 0.0                     # an edit of a new read never reaches held arrays
    assert np.asarray(held).tobytes() == want[2][1].tobytes()
    for got, (xy, conf) in zip(pg.decode_all(), want):
        assert got[0].tobytes() == xy.tobytes() and got[1].tobytes() == conf.tobytes()
    pool = group._OUTPUTS.pool
    assert sum(b.nbytes for b in pool) <= group._Outputs.POOL_BYTES


def test_the_output_pool_stays_within_its_bounds_while_clips_are_held(monkeypatch):
    from signverse.io.corpus import group
    outputs = group._Outputs()
    monkeypatch.setattr(group._Outputs, "POOL_BYTES", 1 << 20)
    held = [outputs.take(100_000) for _ in range(40)]      # all kept by the caller
    assert sum(b.nbytes for b in outputs.pool) <= 1 << 20 and len(outputs.pool) <= group._Outputs.POOL_COUNT
    assert all(h.nbytes == 100_000 for h in held)
    for i, a in enumerate(held):                           # no two live buffers overlap
        assert not any(np.shares_memory(a, b) for b in held[i + 1:])
    del held
    again = outputs.take(100_000)                          # idle now: reused, nothing new allocated
    assert any(np.shares_memory(again, b) for b in outputs.pool)


@pytest.mark.parametrize("use_kernel", [True, False])
@pytest.mark.parametrize("column,value", [("width", 10 ** 9), ("height", 2 ** 31 - 1), ("width", -5)])
def test_a_row_stating_a_huge_frame_size_is_a_one_line_error_naming_the_clip(tmp_path, monkeypatch, column,
                                                                            value, use_kernel):
    # found by fuzzing: width=1e9 ended in an OverflowError traceback in the numpy decoder and
    # decoded silently into a 1e9-px frame (which no writer holds) in the numba one
    if use_kernel:
        pytest.importorskip("numba")
    monkeypatch.setattr(codec, "USE_KERNEL", use_kernel)
    import pyarrow.parquet as pq
    root = tmp_path / "c"
    write(root, [make_clip(0), make_clip(1)])
    (shard,) = sorted((root / "poses").rglob("*.parquet"))
    table = pq.read_table(shard)
    i = table.schema.get_field_index(column)
    values = [value] + table.column(column).to_pylist()[1:]
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type)), shard)
    corpus = open_corpus(root)
    bad, good = table.column("clip_id").to_pylist()
    for read in (lambda: corpus[bad], lambda: list(corpus)):
        with pytest.raises(InputError, match=f"clip '{bad}': damaged pose row") as err:
            read()
        assert "\n" not in str(err.value)
    assert corpus[good].pose.n_frames > 0     # the other clip still reads

"""Random access reading a pose file densely (a first epoch in random order on a freshly opened
corpus): neighbouring row groups read ahead in one call, converted together, cached as one entry
each and evicted together. Same bits as streaming, no memory shared between clips, the byte bound
kept, a damaged row still named alone."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from signverse.core import InputError
from signverse.io.corpus import codec, open_corpus, schema
from signverse.io.corpus.reader import _Files
from tests.io.test_corpus import assert_pose_close, make_clip, write


def _store(tmp_path, monkeypatch, n=30, frames=40):
    # ~3 clips of 40 dwpose frames per pose row group: many row groups of few rows in one shard
    monkeypatch.setattr(schema, "POSE_ROW_GROUP_BYTES", 60_000)
    clips = [make_clip(i, n_frames=frames + i % 7, n_persons=1 + i % 2) for i in range(n)]
    write(tmp_path / "c", clips)
    (shard,) = sorted((tmp_path / "c" / "poses").rglob("*.parquet"))
    assert pq.ParquetFile(shard).num_row_groups >= 8
    return clips, shard


def _pose_entries(corpus):
    return {k: g for k, g in corpus._files._groups.items() if "poses" in str(k[0])}


def _check_cache(files):
    assert files._group_bytes == sum(g.nbytes for g in files._groups.values())
    for key, entry in files._groups.items():
        if entry.members is not None:   # members of one read are cached (and evicted) together
            assert key in entry.members
            assert all(files._groups[k].members == entry.members for k in entry.members)
            assert sum(files._groups[k].nbytes > 0 for k in entry.members) <= 1


@pytest.mark.parametrize("use_kernel", [True, False])
def test_a_fresh_random_epoch_reads_ahead_and_gives_the_streaming_bits(tmp_path, monkeypatch, use_kernel):
    if use_kernel:
        pytest.importorskip("numba")
    monkeypatch.setattr(codec, "USE_KERNEL", use_kernel)
    clips, _ = _store(tmp_path, monkeypatch)
    streamed = {c.clip_id: (c.pose.xy.copy(), c.pose.conf.copy()) for c in open_corpus(tmp_path / "c")}
    corpus = open_corpus(tmp_path / "c")
    seen = []
    for n, i in enumerate(np.random.default_rng(3).permutation(len(clips)).tolist()):
        got = corpus[clips[i].clip_id]
        assert got == clips[i]
        assert got.pose.xy.tobytes() == streamed[clips[i].clip_id][0].tobytes()
        assert got.pose.conf.tobytes() == streamed[clips[i].clip_id][1].tobytes()
        assert_pose_close(got.pose, clips[i].pose)
        if n < _Files.AHEAD_AFTER:   # sparse look-ups read their own row group only
            assert all(g.members is None for g in _pose_entries(corpus).values())
        _check_cache(corpus._files)
        seen.append(got)
    assert any(g.members is not None and len(g.members) > 1 for g in _pose_entries(corpus).values())
    # every clip owns its arrays: none shares memory with another, an edit reaches no later read
    arrays = [a for c in seen for a in (c.pose.xy, c.pose.conf)]
    for j, a in enumerate(arrays):
        assert a.flags.writeable
        assert not any(np.shares_memory(a, b) for b in arrays[j + 1:])
    for clip in seen:
        clip.pose.xy[:] = 0.0
        clip.pose.conf[:] = 0.0
    for clip in clips:
        assert corpus[clip.clip_id].pose.xy.tobytes() == streamed[clip.clip_id][0].tobytes()


def test_read_ahead_respects_the_cache_byte_bound(tmp_path, monkeypatch):
    clips, _ = _store(tmp_path, monkeypatch, n=45)
    limit = 1_600_000   # room for a few reads; the read-ahead budget (limit / 16) ~2 row groups
    monkeypatch.setattr(_Files, "GROUP_BYTES", limit)
    corpus = open_corpus(tmp_path / "c")
    corpus[clips[0].clip_id]
    base = pa.total_allocated_bytes()
    peak = 0
    for i in np.random.default_rng(5).permutation(len(clips)).tolist() * 2:
        assert_pose_close(corpus[clips[i].clip_id].pose, clips[i].pose)
        files = corpus._files
        assert files._group_bytes <= limit or len(files._groups) <= 4
        _check_cache(files)
        peak = max(peak, pa.total_allocated_bytes() - base)
    assert any(g.members is not None for g in _pose_entries(corpus).values())
    assert peak <= limit + 400_000, peak     # what Arrow holds: the bound plus the read being made


def test_a_damaged_row_read_ahead_with_good_ones_is_named_alone(tmp_path, monkeypatch):
    clips, shard = _store(tmp_path, monkeypatch)
    table = pq.read_table(shard)
    bad = table.column("clip_id")[len(clips) // 2].as_py()
    frames = table.column("n_frames").to_pylist()
    frames[len(clips) // 2] += 1   # the payload no longer matches the claimed shape
    i = table.schema.get_field_index("n_frames")
    pq.write_table(table.set_column(i, table.schema.field(i), pa.array(frames, pa.int32())), shard,
                   row_group_size=3)
    corpus = open_corpus(tmp_path / "c")
    for clip in clips[:2] + clips[-2:]:   # past the sparse look-ups: the rest reads ahead
        assert_pose_close(corpus[clip.clip_id].pose, clip.pose)
    _look_up_all(corpus, clips, {bad}, f"clip '{bad}': damaged pose row")


def _look_up_all(corpus, order, failing: set, message: str) -> None:
    """Look every clip up in ``order``: those in ``failing`` raise one line matching ``message``,
    the others decode exactly; some row groups were read ahead together."""
    for clip in order:
        if clip.clip_id in failing:
            with pytest.raises(InputError, match=message) as err:
                corpus[clip.clip_id]
            assert "\n" not in str(err.value)
        else:
            assert_pose_close(corpus[clip.clip_id].pose, clip.pose)
    assert any(g.members is not None for g in _pose_entries(corpus).values())


def test_a_damaged_neighbour_row_group_fails_only_its_own_look_ups(tmp_path, monkeypatch):
    clips, shard = _store(tmp_path, monkeypatch)
    meta = pq.ParquetFile(shard).metadata
    damaged = meta.num_row_groups // 2
    xy = next(meta.row_group(damaged).column(i) for i in range(meta.num_columns)
              if meta.row_group(damaged).column(i).path_in_schema == "xy")
    data = bytearray(shard.read_bytes())
    middle = xy.data_page_offset + xy.total_compressed_size // 2
    data[middle:middle + 64] = b"\xff" * 64          # LZ4 garbage inside the row group's xy page
    shard.write_bytes(bytes(data))
    first = sum(meta.row_group(g).num_rows for g in range(damaged))
    inside = {c.clip_id for c in clips[first:first + meta.row_group(damaged).num_rows]}
    corpus = open_corpus(tmp_path / "c")
    order = [c for c in clips if c.clip_id not in inside] + [c for c in clips if c.clip_id in inside]
    _look_up_all(corpus, order, inside, "shard-00000.parquet")   # every other clip first: read ahead around it


def test_a_neighbour_the_read_limits_refuse_is_not_read_ahead(tmp_path, monkeypatch):
    from signverse.io.corpus.limits import ReadLimits
    clips, shard = _store(tmp_path, monkeypatch)
    meta = pq.ParquetFile(shard).metadata
    refused = meta.num_row_groups // 2
    check = ReadLimits.check_group

    def refuse_one(self, pf, group, path):
        if group == refused:
            raise InputError(path, f"pose row group {group} refused (test)")
        check(self, pf, group, path)
    monkeypatch.setattr(ReadLimits, "check_group", refuse_one)
    first = sum(meta.row_group(g).num_rows for g in range(refused))
    inside = {c.clip_id for c in clips[first:first + meta.row_group(refused).num_rows]}
    corpus = open_corpus(tmp_path / "c")
    for clip in [c for c in clips if c.clip_id not in inside] + [c for c in clips if c.clip_id in inside]:
        if clip.clip_id in inside:
            with pytest.raises(InputError, match=f"row group {refused} refused"):
                corpus[clip.clip_id]
        else:
            assert_pose_close(corpus[clip.clip_id].pose, clip.pose)
    assert not any(k[1] == refused for k in _pose_entries(corpus))

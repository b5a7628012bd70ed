"""Batch decoding of pose row groups (codec.decode_batch): the same arrays as row-by-row decoding."""
from __future__ import annotations

import numpy as np

from signverse.core import Clip, InputError, PoseSeq
from signverse.io.corpus import CorpusWriter, codec, open_corpus, schema
from signverse.io.corpus.writer import _pose_table
from tests.io.test_corpus import make_pose


def assert_pose_close(got, want):
    assert got.xy.shape == want.xy.shape and (got.valid == want.valid).all()
    err = np.abs(got.xy[want.valid] - want.xy[want.valid])
    assert err.size == 0 or err.max() <= max(want.width, want.height) / 65536 + 1.3e-4
    assert np.abs(got.conf - want.conf).max() <= max(1.0, float(want.conf.max())) / 255 + 1e-6


def _table(poses):
    rows = [schema.pose_row(f"c{i}", p) if p is not None else schema.empty_pose_row(f"c{i}")
            for i, p in enumerate(poses)]
    return rows, _pose_table(rows)


def _batch(table):
    v = {c: table.column(c).to_pylist() for c in ("n_frames", "n_persons", "n_points", "xy_step",
                                                   "conf_scale", "width", "height")}
    return codec.decode_batch(table.column("xy").combine_chunks(), table.column("conf").combine_chunks(),
                              table.column("xy_escapes").combine_chunks(), v["n_frames"], v["n_persons"],
                              v["n_points"], v["xy_step"], v["conf_scale"], v["width"], v["height"])


def test_batch_equals_row_by_row_mixed_shapes_escapes_and_nulls():
    far = make_pose(9, 1, seed=7)
    xy = far.xy.copy()
    xy[4, 0, 3] = [50_000.0, -40_000.0]     # beyond +-32767 steps from the previous frame: escapes
    far = PoseSeq(xy, far.conf, fps=24.0, width=640, height=480, layout="dwpose")
    poses = [make_pose(20, 1, seed=1), make_pose(5, 2, seed=2, missing=0.5), None, far,
             make_pose(1, 1, seed=3), make_pose(0, 1, seed=4), make_pose(31, 1, seed=5, width=320, height=240),
             make_pose(7, 2, seed=6, n_points=17, layout="custom")]
    rows, table = _table(poses)
    assert any(r["xy_escapes"] for r in rows if r.get("xy_escapes"))
    got = _batch(table)
    assert got[2] is None
    for row, pose, arrays in zip(rows, poses, got):
        if pose is None:
            continue
        want = codec.decode_arrays(row["xy"], row["conf"], (row["n_frames"], row["n_persons"], row["n_points"]),
                                   row["xy_step"], row["conf_scale"], width=row["width"],
                                   height=row["height"], escapes=row["xy_escapes"])
        assert np.array_equal(arrays[0], want[0], equal_nan=True) and np.array_equal(arrays[1], want[1])
        assert arrays[0].dtype == np.float32 and arrays[0].shape == pose.xy.shape


def test_batch_refuses_a_short_payload_and_the_reader_names_the_clip(tmp_path):
    poses = [make_pose(12, 1, seed=i) for i in range(3)]
    rows, table = _table(poses)
    rows[1]["xy"] = rows[1]["xy"][:-6]
    bad = _pose_table(rows)
    try:
        _batch(bad)
        raise AssertionError("a short payload must be refused")
    except ValueError as exc:
        assert "row 1" in str(exc)
    # Through the reader: the good rows still decode, the bad one is named (row-by-row fallback).
    from signverse.io.corpus.reader import PoseRows
    pr = PoseRows(bad, "shard.parquet")
    assert pr.arrays(0)[0].shape == (12, 1, 128, 2)
    try:
        pr.arrays(1)
        raise AssertionError("the damaged clip must raise")
    except InputError as exc:
        assert "c1" in str(exc) and "shard.parquet" in str(exc)


def test_streaming_and_random_access_match_the_originals(tmp_path):
    poses = [make_pose(n, 1 + i % 2, seed=i, missing=0.3) for i, n in enumerate([15, 40, 3, 64, 1, 22])]
    clips = [Clip(clip_id=f"v-{i}", video_id="v", pose=p) for i, p in enumerate(poses)]
    with CorpusWriter(tmp_path / "c") as writer:
        writer.add_many(clips)
    corpus = open_corpus(tmp_path / "c")
    streamed = {c.clip_id: c.pose for c in corpus}
    for clip in clips:
        assert_pose_close(streamed[clip.clip_id], clip.pose)
        assert_pose_close(corpus[clip.clip_id].pose, clip.pose)
        # the decoder's trusted PoseSeq keeps the invariant the checked constructor enforces
        pose = streamed[clip.clip_id]
        assert (np.isnan(pose.xy[..., 0]) == (pose.conf == 0)).all()
    arrays = {i: (xy, conf) for i, xy, conf in corpus.iter_arrays()}
    assert np.array_equal(arrays["v-3"][0], streamed["v-3"].xy, equal_nan=True)


def test_trusted_pose_still_checks_the_stored_fps():
    xy = np.zeros((2, 1, 3, 2), np.float32)
    conf = np.ones((2, 1, 3), np.float32)
    for bad in (0.0, float("nan"), -24.0):
        try:
            codec.trusted_pose(xy, conf, fps=bad, width=10, height=10, layout="custom")
            raise AssertionError("a non-positive fps must be refused")
        except Exception as exc:   # SignverseError from PoseSeq's own check
            assert "fps" in str(exc)
    pose = codec.trusted_pose(xy, conf, fps=24, width=10.0, height=10, layout="custom")
    assert pose.fps == 24.0 and isinstance(pose.width, int) and pose.n_frames == 2


def test_a_huge_claimed_shape_is_refused_before_anything_is_allocated():
    rows, _ = _table([make_pose(4, 1, seed=9)])
    rows[0]["n_frames"] = 2 ** 28          # the payload backs 4 frames, the row claims 268 M
    bad = _pose_table(rows)
    import tracemalloc
    tracemalloc.start()
    try:
        _batch(bad)
        raise AssertionError("a shape the payload does not back must be refused")
    except ValueError as exc:
        assert "row 0" in str(exc)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20

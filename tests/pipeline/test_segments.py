"""Long videos split into frame ranges: planning, seams, identical clips, failures and resume."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import shared
from signverse.core.records import VideoRecord
from signverse.pipeline import run as run_module
from signverse.pipeline import segments
from signverse.pipeline.executors import InlineExecutor, make_executor
from signverse.pipeline.ledger import Ledger
from signverse.pipeline.run import RunOptions, extract
from signverse.pipeline.segments import RangeTask, SplitExecutor, plan_ranges, process_range
from signverse.pipeline.worker import ExtractConfig, VideoProcessor


pytest.importorskip("av")
pytest.importorskip("scipy")

CONFIG = ExtractConfig(fps=24.0, backend="test-blobs", chunk_frames=40)
pytestmark = pytest.mark.usefixtures("blob_backend")   # conftest: the blob estimator as test-blobs


def split(inner, **kw) -> SplitExecutor:
    """Split anything over 2 s into ranges of >= 1 s, planned for 2 workers."""
    return SplitExecutor(inner, CONFIG, kw.pop("split_seconds", 2.0), min_range_seconds=1.0,
                         plan_slots=kw.pop("plan_slots", 2), **kw)


def one(executor, record):
    executor.submit(record)
    try:
        return executor.next_result()[1]
    finally:
        executor.close()


def assert_same_clips(a, b) -> None:
    assert [c.clip_id for c in a] == [c.clip_id for c in b] and a
    for x, y in zip(a, b):
        assert (x.start, x.end, x.text, x.qc) == (y.start, y.end, y.text, y.qc), x.clip_id
        assert np.array_equal(x.pose.xy, y.pose.xy, equal_nan=True), x.clip_id
        assert np.array_equal(x.pose.conf, y.pose.conf), x.clip_id


def test_plan_ranges_balances_workers_and_covers_the_video():
    five_minutes = 300 * 24
    ranges = plan_ranges(five_minutes, 24.0, 2, 60.0)
    assert len(ranges) == 6 and ranges[0][0] == 0 and ranges[-1][1] is None   # 2 x 3 of 50 s
    assert all(stop == nxt for (_, stop), (nxt, _) in zip(ranges, ranges[1:]))
    assert {stop - first for first, stop in ranges[:-1]} == {1200}
    assert plan_ranges(five_minutes, 24.0, 1, 60.0) == []            # one worker: nothing to gain
    assert plan_ranges(60 * 24, 24.0, 4, 60.0) == []                 # not longer than the threshold
    assert plan_ranges(five_minutes, 24.0, 2, None) == []            # disabled
    assert len(plan_ranges(61 * 24, 24.0, 16, 60.0)) == 6             # ranges stay >= 10 s


def test_ranges_join_with_exact_frame_continuity(video):
    processor = VideoProcessor(CONFIG)
    whole = processor(video)
    bounds = [0, 50, 51, 120, 200, None]
    parts = [process_range(processor, RangeTask(video, i, 5, a, b, 0))
             for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]
    assert all(p.ok for p in parts)
    times = np.concatenate([p.times for p in parts])
    assert len(times) == whole.n_frames == 241
    np.testing.assert_array_equal(times, np.arange(241) / 24.0)        # none missing, none twice
    assert [p.n_frames for p in parts] == [50, 1, 69, 80, 41]
    assert sum(p.stats.source_frames for p in parts) == 300


def test_split_video_gives_the_clips_of_one_pass(video):
    whole = one(InlineExecutor(CONFIG), video)
    executor = split(InlineExecutor(CONFIG))
    joined = one(executor, video)
    assert executor.split_videos == 1 and joined.ok, joined.error
    assert joined.n_frames == whole.n_frames and len(joined.clips) == 5
    assert_same_clips(whole.clips, joined.clips)
    assert joined.warnings == whole.warnings == []


def test_release_pose_of_a_split_video_is_the_whole_video(video):
    import dataclasses
    config = dataclasses.replace(CONFIG, keep_video_pose=True)
    whole = one(InlineExecutor(config), video)
    joined = one(SplitExecutor(InlineExecutor(config), config, 2.0, min_range_seconds=1.0, plan_slots=3), video)
    np.testing.assert_array_equal(whole.video_pose.xy, joined.video_pose.xy)


def _store(out):
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(out)
    return {cid: corpus[cid] for cid in corpus.ids()}


def _extract_split(monkeypatch, records, out, **options):
    """``extract`` inline, with its executor wrapped to split (one worker, ranges planned for 2)."""
    real = run_module.make_executor

    def splitting(kind, config, workers=None, **kw):
        kw.pop("split_seconds", None)
        return split(real(kind, config, 0, **kw))
    monkeypatch.setattr(run_module, "make_executor", splitting)
    try:
        return extract(records, out, CONFIG, RunOptions(workers=0, progress=False, **options))
    finally:
        monkeypatch.setattr(run_module, "make_executor", real)


def test_a_failed_range_fails_the_video_and_a_rerun_resumes_it(video, tmp_path, monkeypatch):
    reference = extract([video], tmp_path / "ref", CONFIG, RunOptions(workers=0, progress=False))
    assert reference.succeeded == 1

    real = segments.process_range

    def failing_part(processor, task):
        if task.index == 2:
            return segments.RangePart(task.video_id, task.index, task.token, error="decoder broke")
        return real(processor, task)
    monkeypatch.setattr(segments, "process_range", failing_part)
    first = _extract_split(monkeypatch, [video], tmp_path / "out2", retries=0)
    assert first.failed == 1 and first.clips == 0
    assert first.failures["long"].startswith("range 3/6 (frames 80-120): decoder broke")
    with Ledger(tmp_path / "out2") as ledger:
        assert ledger.counts()["failed"] == 1 and not ledger.done_ids()

    monkeypatch.setattr(segments, "process_range", real)
    second = _extract_split(monkeypatch, [video], tmp_path / "out2", retries=0)
    assert second.succeeded == 1 and second.clips == 5
    with Ledger(tmp_path / "out2") as ledger:
        assert ledger.done_ids() == {"long"}
    ref, got = _store(tmp_path / "ref"), _store(tmp_path / "out2")
    assert sorted(ref) == sorted(got)
    for cid in ref:
        np.testing.assert_array_equal(ref[cid].pose.xy, got[cid].pose.xy)
    # Done is done: a third run skips it.
    assert _extract_split(monkeypatch, [video], tmp_path / "out2").skipped_done == 1


def test_a_failed_range_is_retried_and_stale_parts_are_dropped(video, monkeypatch):
    calls = {"n": 0}
    real = segments.process_range

    def flaky(processor, task):
        if task.index == 0 and calls["n"] == 0:
            calls["n"] += 1
            return segments.RangePart(task.video_id, task.index, task.token, error="worker died")
        return real(processor, task)
    monkeypatch.setattr(segments, "process_range", flaky)
    executor = split(InlineExecutor(CONFIG))
    executor.submit(video)
    record, failed = executor.next_result()
    assert not failed.ok and "range 1/6" in failed.error and executor.in_flight == 0
    joined = one(executor, record)   # the run's retry: all ranges again, under a new token
    assert joined.ok and len(joined.clips) == 5


def test_unsplittable_video_is_processed_whole(video, monkeypatch):
    from signverse.video.ranges import RangeUnsupported
    real = segments.process_range

    def no_stamps(processor, task):
        part = real(processor, task)
        if task.index == 1:
            part = segments.RangePart(task.video_id, task.index, task.token,
                                      error=str(RangeUnsupported("no timestamps")), unsplittable=True)
        return part
    monkeypatch.setattr(segments, "process_range", no_stamps)
    whole = one(InlineExecutor(CONFIG), video)
    joined = one(split(InlineExecutor(CONFIG)), video)
    assert joined.ok
    assert_same_clips(whole.clips, joined.clips)


def test_short_videos_and_bad_files_are_not_split(video, tmp_path):
    executor = split(InlineExecutor(CONFIG), split_seconds=60.0)
    assert one(executor, video).ok and executor.split_videos == 0
    bad = VideoRecord("bad", path=str(tmp_path / "missing.mp4"))
    executor = split(InlineExecutor(CONFIG))
    result = one(executor, bad)
    assert executor.split_videos == 0 and "file does not exist" in result.error


def test_make_executor_splits_only_with_several_workers():
    assert not isinstance(make_executor("local", CONFIG, 0, split_seconds=60.0), SplitExecutor)
    two = make_executor("local", CONFIG, 2, split_seconds=60.0)
    try:
        assert isinstance(two, SplitExecutor) and two.slots == 2
    finally:
        two.close()
    native = ExtractConfig(fps=None, backend="test-blobs")
    assert not isinstance(make_executor("local", native, 2, split_seconds=60.0), SplitExecutor)
    assert not isinstance(make_executor("local", CONFIG, 2, split_seconds=None), SplitExecutor)


def test_two_worker_processes_split_a_real_video(tmp_path):
    """Spawned workers (a real backend: replay of the shared poses), tasks and parts cross processes."""
    poses = shared("poses")
    video = shared("videos", "pose_test_video.mp4")
    config = ExtractConfig(fps=24.0, backend="replay", backend_options={"source": str(poses)}, window=0.5)
    record = VideoRecord("real", path=str(video))
    executor = SplitExecutor(make_executor("local", config, 2), config, 1.0, min_range_seconds=0.5)
    result = one(executor, record)
    assert executor.split_videos == 1 and result.ok, result.error
    assert result.n_frames == 47 and len(result.clips) == 4

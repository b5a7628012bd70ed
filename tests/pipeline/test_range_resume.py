"""Split videos resume range by range: an interrupted run leaves its finished ranges in
``CORPUS/.ranges``; the rerun processes only the others, redoes any that are partial or corrupt,
and stores the clips of an uninterrupted run. (A real ``kill -9`` of the command with worker
processes: tests/cli/test_extract_integrity.py.)"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from signverse.pipeline import run as run_module
from signverse.pipeline import segments
from signverse.pipeline.range_store import RANGES_DIR, RangeStore, range_name, video_key
from signverse.pipeline.run import RunOptions, extract
from signverse.pipeline.segments import SplitExecutor

from tests.pipeline.test_segments import CONFIG

pytest.importorskip("av")
pytest.importorskip("scipy")
pytest.importorskip("pyarrow")

pytestmark = pytest.mark.usefixtures("blob_backend")   # conftest: the blob estimator as test-blobs
RANGES = 6   # a 10 s video in ranges of >= 1 s, planned for 2 workers and at most 2 s each


class Interrupted(BaseException):
    """Stands for the kill: raised by a worker call, it ends the run like Ctrl-C would."""


@pytest.fixture
def ranges_run(monkeypatch):
    """``run(records, out, crash_after=None, fail_once=None)``: ``extract`` inline with its executor
    wrapped to split (ranges planned for 2 workers) and the run's own range store. Returns the
    summary and the ranges each call processed, as ``(first, stop)``."""
    real_make, real_range = run_module.make_executor, segments.process_range

    def run(records, out, *, crash_after=None, fail_once=None, **options):
        processed = []
        failed = set()

        def splitting(kind, config, workers=None, **kw):
            kw.pop("split_seconds", None)
            store = kw.pop("range_store")
            return SplitExecutor(real_make(kind, config, 0, **kw), config, 2.0, min_range_seconds=1.0,
                                 plan_slots=2, store=store)

        def counted(processor, task):
            if crash_after is not None and len(processed) == crash_after:
                raise Interrupted
            processed.append((task.first, task.stop))
            if task.index == fail_once and task.index not in failed:
                failed.add(task.index)
                return segments.RangePart(task.video_id, task.index, task.token, error="decoder broke")
            return real_range(processor, task)
        monkeypatch.setattr(run_module, "make_executor", splitting)
        monkeypatch.setattr(segments, "process_range", counted)
        try:
            summary = extract(records, out, CONFIG, RunOptions(workers=0, progress=False, **options))
        finally:
            monkeypatch.setattr(run_module, "make_executor", real_make)
            monkeypatch.setattr(segments, "process_range", real_range)
        return summary, processed
    return run


def _store(out):
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(out)
    return {cid: corpus[cid] for cid in corpus.ids()}


def assert_same_store(a, b) -> None:
    ref, got = _store(a), _store(b)
    assert sorted(ref) == sorted(got) and len(ref) == 5
    for cid, clip in ref.items():
        other = got[cid]
        assert (clip.start, clip.end, clip.text, clip.qc) == (other.start, other.end, other.text, other.qc)
        assert np.array_equal(clip.pose.xy, other.pose.xy, equal_nan=True), cid
        assert np.array_equal(clip.pose.conf, other.pose.conf), cid


def _stored(out, video_id="long") -> list[str]:
    folder = out / RANGES_DIR / video_key(video_id)
    return sorted(p.parent.name for p in folder.glob("r*/part.json"))


def test_a_rerun_after_an_interruption_processes_only_the_unfinished_ranges(video, tmp_path, ranges_run):
    reference, processed = ranges_run([video], tmp_path / "ref")
    assert reference.succeeded == 1 and len(processed) == RANGES and reference.ranges_resumed == 0
    assert not list((tmp_path / "ref" / RANGES_DIR).iterdir())   # committed: its ranges are gone

    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        ranges_run([video], out, crash_after=3)
    assert len(_stored(out)) == 3                     # each finished range left its marker

    second, processed = ranges_run([video], out)
    assert second.succeeded == 1 and second.ranges_resumed == 3
    assert len(processed) == RANGES - 3               # only the unfinished ranges ran again
    assert_same_store(tmp_path / "ref", out)          # and the clips are those of one run
    assert not (out / RANGES_DIR / video_key("long")).exists()
    third, processed = ranges_run([video], out)
    assert third.skipped_done == 1 and processed == []


def test_partial_or_corrupt_range_results_are_redone_not_trusted(video, tmp_path, ranges_run):
    ranges_run([video], tmp_path / "ref")
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        ranges_run([video], out, crash_after=4)
    names = _stored(out)
    assert len(names) == 4
    folder = out / RANGES_DIR / video_key("long")
    # A flipped byte in the poses, a marker that never landed, a truncated frame-times file.
    xy = folder / names[0] / "xy-0000.npy"
    data = bytearray(xy.read_bytes())
    data[-5] ^= 0x40
    xy.write_bytes(bytes(data))
    (folder / names[1] / "part.json").unlink()
    times = folder / names[2] / "times.npy"
    times.write_bytes(times.read_bytes()[:-8])

    second, processed = ranges_run([video], out)
    assert second.succeeded == 1 and second.ranges_resumed == 1
    redone = {range_name(first, stop) for first, stop in processed}
    assert set(names[:3]) <= redone and names[3] not in redone and len(processed) == RANGES - 1
    assert_same_store(tmp_path / "ref", out)


def test_ranges_of_another_file_or_other_settings_are_not_reused(video, tmp_path, ranges_run):
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        ranges_run([video], out, crash_after=2)
    assert len(_stored(out)) == 2
    stat = os.stat(video.path)
    os.utime(video.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))   # the file changed
    second, processed = ranges_run([video], out)
    assert second.succeeded == 1 and second.ranges_resumed == 0 and len(processed) == RANGES


def test_a_failed_range_is_retried_alone(video, tmp_path, ranges_run):
    """The run's retry of a video whose range failed takes the ranges that were already back."""
    summary, processed = ranges_run([video], tmp_path / "out", fail_once=2, retries=1)
    assert summary.succeeded == 1 and summary.failed == 0
    # One worker: ranges 1-2 come back, 3 fails (4-6 are dropped from the queue); the retry takes
    # 1-2 from the store and processes 3-6: every range once, the failed one twice.
    assert summary.ranges_resumed == 2 and len(processed) == RANGES + 1
    ranges_run([video], tmp_path / "ref")
    assert_same_store(tmp_path / "ref", tmp_path / "out")


def test_a_run_prunes_the_ranges_of_videos_already_done(video, tmp_path, ranges_run):
    out = tmp_path / "out"
    ranges_run([video], out)
    store = RangeStore(out / RANGES_DIR)
    left = store.open_video("long", {"size": 1})   # as if killed between commit and discard
    assert left.is_dir()
    summary, processed = ranges_run([video], out)
    assert summary.skipped_done == 1 and processed == [] and not left.exists()


def test_video_keys_are_plain_bounded_folder_names():
    for vid in ("../../escape", "a" * 500, "a/b\\c", "ünï códe", "."):
        key = video_key(vid)
        assert "/" not in key and "\\" not in key and not key.startswith(".") and len(key) <= 57
    assert video_key("a/b") != video_key("a_b")


def test_the_store_never_writes_through_a_planted_link_or_trusts_foreign_files(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store = RangeStore(tmp_path / RANGES_DIR)
    store.root.mkdir()
    store.folder("v").symlink_to(elsewhere, target_is_directory=True)
    folder = store.open_video("v", {"size": 1})
    assert folder.is_dir() and not folder.is_symlink() and not any(elsewhere.iterdir())
    xy, conf = np.zeros((3, 1, 5, 2), np.float32), np.ones((3, 1, 5), np.float32)
    features = {"boxes": np.zeros((3, 1, 4)), "present": np.ones((3, 1), bool),
                "act_xy": np.zeros((3, 1, 2, 2), np.float32), "act_valid": np.ones((3, 1, 2), bool)}
    store.save(folder, 0, 3, [(xy, conf)], np.arange(3) / 24.0, features, {"layout": "x"})
    assert store.load(folder, 0, 3).meta == {"layout": "x"}
    assert store.load(folder, 0, 4) is None                       # other frames: not this range
    (folder / "r0-3" / "extra.npy").write_bytes(b"x")             # unlisted files are harmless
    assert store.load(folder, 0, 3) is not None
    marker = folder / "r0-3" / "part.json"
    doc = json.loads(marker.read_text())
    doc["files"]["../../escape.npy"] = doc["files"].pop("times.npy")   # a marker naming other files
    marker.write_text(json.dumps(doc))
    assert store.load(folder, 0, 3) is None and not (folder / "r0-3").exists()

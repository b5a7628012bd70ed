"""``signverse extract`` as real processes: two runs on one ``--release-shards`` folder (the second is
refused naming the folder and the holder, nothing is lost), and a run with worker processes killed
with ``kill -9`` in the middle of a split video (the rerun processes only the unfinished ranges and
stores the clips of an uninterrupted run).

The backend is the tests' blob estimator (real decoded frames, deterministic), slowed to 15 ms a
frame like a model and registered the way third-party backends are: an entry point of an installed
distribution, so that worker processes find it too.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("av")
pytest.importorskip("scipy")
pytest.importorskip("pyarrow")

BACKEND = "test-slow-blobs"


@pytest.fixture
def plugin_env(tmp_path):
    """Environment for ``python -m signverse`` with the slow blob backend installed as a plugin."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sv_test_slow_blobs.py").write_text(textwrap.dedent('''
        import time
        from blob_estimator import BlobEstimator

        class SlowBlobs(BlobEstimator):
            """Bright blobs are people, at 15 ms a frame (a model's pace; the time is slept)."""
            name = "test-slow-blobs"

            def __call__(self, frames):
                time.sleep(0.015 * len(frames))
                return super().__call__(frames)
    '''))
    dist = site / "sv_test_slow_blobs-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sv-test-slow-blobs\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[signverse.estimators]\n{BACKEND} = sv_test_slow_blobs:SlowBlobs\n")
    path = os.pathsep.join([str(REPO), str(REPO / "tests"), str(site)])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def _video(path: Path, seconds: int) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from blob_estimator import blob_video
    return blob_video(path, frames=seconds * 24, fps=24, blocks=((8, 24), (60, 30)))


def _extract(env, video, out, *extra) -> list[str]:
    return [sys.executable, "-m", "signverse", "extract", str(video), "--out", str(out), "--backend", BACKEND,
            "--no-progress", "--json", *extra]


def _run(env, argv, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _clips(out: Path) -> dict:
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(out)
    return {cid: corpus[cid] for cid in corpus.ids()}


def test_a_second_extract_on_the_same_release_folder_is_refused_and_nothing_is_lost(tmp_path, plugin_env):
    from signverse.io.corpus.lock import CorpusLock
    from signverse.io.signverse2m import open_release
    release = tmp_path / "release"
    first_video, second_video = _video(tmp_path / "first.mp4", 10), _video(tmp_path / "second.mp4", 2)
    first = subprocess.Popen(_extract(plugin_env, first_video, tmp_path / "c1", "--workers", "0",
                                      "--release-shards", str(release)),
                             cwd=REPO, env=plugin_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    label = release / ".release-writer.lock"
    try:
        deadline = time.monotonic() + 120
        while not (label.is_file() and f'"pid": {first.pid}' in label.read_text()):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)   # hold it there, its lock taken, while the second starts
        probe = CorpusLock(release, ".release-writer.lock")
        assert not probe.try_acquire(), "the first run ended before it could be held"
        second = _run(plugin_env, _extract(plugin_env, second_video, tmp_path / "c2", "--workers", "0",
                                           "--release-shards", str(release)))
        assert second.returncode == 2, (second.stdout, second.stderr)
        err = second.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert f"{release}: release shards folder in use by another writer: pid {first.pid} on " in err
        assert not (tmp_path / "c2").exists()   # refused before it touched its corpus
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    again = _run(plugin_env, _extract(plugin_env, second_video, tmp_path / "c2", "--workers", "0",
                                      "--release-shards", str(release)))
    assert again.returncode == 0, again.stderr
    videos = [v.video_id for v in open_release(release)]
    assert sorted(videos) == ["first", "second"]          # both, each exactly once
    assert sorted(p.name for p in release.glob("*.tar")) == ["Sign_DWPose_NPZ_000001.tar",
                                                             "Sign_DWPose_NPZ_000002.tar"]


def _markers(out: Path) -> list[Path]:
    return sorted((out / ".ranges").glob("*/r*/part.json"))


def test_extract_killed_mid_video_resumes_only_the_unfinished_ranges(tmp_path, plugin_env):
    """A 40 s video in 4 ranges of 10 s on 2 worker processes (3.6 s of model time a range)."""
    video = _video(tmp_path / "long.mp4", 40)
    args = ("--workers", "2", "--split-seconds", "10", "--window", "4")
    reference = _run(plugin_env, _extract(plugin_env, video, tmp_path / "ref", *args))
    assert reference.returncode == 0, reference.stderr
    assert json.loads(reference.stdout)["ranges_resumed"] == 0

    out = tmp_path / "out"
    killed = subprocess.Popen(_extract(plugin_env, video, out, *args), cwd=REPO, env=plugin_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)   # its own group: the workers die with it
    try:
        deadline = time.monotonic() + 240
        while not _markers(out):
            assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
            time.sleep(0.02)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
    finished = len(_markers(out))
    assert 0 < finished < 4, finished          # killed with ranges done and ranges to do

    rerun = _run(plugin_env, _extract(plugin_env, video, out, *args))
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["succeeded"] == 1 and summary["ranges_resumed"] == finished
    assert not list((out / ".ranges").iterdir())      # committed: its ranges are removed
    print(f"killed with {finished} of 4 ranges finished; the rerun took {summary['ranges_resumed']} "
          f"from the store in {summary['wall_s']:.1f} s (uninterrupted: "
          f"{json.loads(reference.stdout)['wall_s']:.1f} s)")
    ref, got = _clips(tmp_path / "ref"), _clips(out)
    assert sorted(ref) == sorted(got) and len(ref) == 10
    for cid, clip in ref.items():
        assert (clip.start, clip.end, clip.qc) == (got[cid].start, got[cid].end, got[cid].qc), cid
        assert np.array_equal(clip.pose.xy, got[cid].pose.xy, equal_nan=True), cid
        assert np.array_equal(clip.pose.conf, got[cid].pose.conf), cid

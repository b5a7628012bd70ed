"""End to end with real MediaPipe inference: captions -> clips, failures, kill -9 + resume, Ray,
release shards and URL input. Kept bounded by 6 fps decoding and tiny generated videos."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from signverse.core.align import frame_range

REPO = Path(__file__).resolve().parents[2]
# Real MediaPipe inference (model_complexity=1, the model the wheel ships), at a low decode rate.
FAST = ["--fps", "6", "--no-progress"]

pytest.importorskip("mediapipe")
pytest.importorskip("av")


def _read_all_shards(corpus: Path) -> list[str]:
    """Every clip id in every shard, read straight from the Parquet files (all must be readable)."""
    import pyarrow.parquet as pq
    ids = []
    for shard in sorted((corpus / "clips").glob("shard-*.parquet")):
        ids += pq.read_table(shard).column("clip_id").to_pylist()
        (pose_file,) = list((corpus / "poses").glob(f"*/{shard.name}"))
        assert pq.read_table(pose_file).num_rows == pq.read_metadata(shard).num_rows
    assert not list(corpus.rglob("*.tmp"))
    return ids


@pytest.mark.slow
def test_captions_become_frame_precise_clips(real_video, cli, tmp_path):
    vtt = real_video.with_name("signing.en.vtt")
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:00.900\n<i>hello</i>\n\n"
                   "00:00:01.000 --> 00:00:01.900\nworld &amp; more\n\n"
                   "00:00:05.000 --> 00:00:06.000\nafter the video\n")
    out = tmp_path / "corpus"
    res = cli("extract", str(real_video), "--out", str(out), "--sign-language", "ase", "--workers", "1",
              *FAST)
    assert res.returncode == 0, res.stderr
    assert "1 videos done, 0 failed" in res.stdout

    from signverse.io.corpus import open_corpus
    from signverse.video import decode
    n = sum(1 for _ in decode(real_video, 6))
    corpus = open_corpus(out)
    assert sorted(corpus.ids()) == ["signing-0000", "signing-0001"]
    for cid, (start, end, text) in {"signing-0000": (0.0, 0.9, "hello"),
                                    "signing-0001": (1.0, 1.9, "world & more")}.items():
        clip = corpus[cid]
        first, stop = frame_range(start, end, 6, n)
        assert clip.pose.n_frames == stop - first and (clip.start, clip.end) == (start, end)
        assert (clip.text, clip.text_language, clip.sign_language) == (text, "en", "ase")
        assert clip.pose.n_persons == 1 and clip.pose.layout == "dwpose"   # the default stored layout
        assert clip.qc["signer_frac"] > 0.5 and clip.qc["face_frac"] > 0.5   # a real signer is seen
        assert 0 < clip.qc["mean_conf"] <= 1
        # MediaPipe sees one person: the multi-person fraction is unknown (stored as null).
        assert clip.qc.get("multi_person_frac") is None

    stats = json.loads(cli("stats", str(out), "--json").stdout)
    assert stats["clips"] == 2 and stats["languages"]["ase"]["videos"] == 1
    assert stats["qc"]["signer_frac"]["count"] == 2
    png = tmp_path / "stats.png"
    assert cli("stats", str(out), "--plot", str(png)).returncode == 0 and png.stat().st_size > 5000
    status = json.loads(cli("status", str(out), "--json").stdout)
    assert status["counts"]["done"] == 1 and status["totals"]["clips"] == 2

    # A rerun redoes nothing.
    again = cli("extract", str(real_video), "--out", str(out), "--workers", "1", *FAST)
    assert again.returncode == 0 and "0 videos done, 0 failed, 1 already done" in again.stdout


@pytest.mark.slow
def test_bad_inputs_are_recorded_and_the_rest_succeeds(make_video, cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "good.mp4", seconds=1.0)
    make_video(src / "good2.mp4", seconds=1.0, seed=1)
    (src / "good2.vtt").write_text("this is not WebVTT\n")
    (src / "empty.mp4").write_bytes(b"")
    (src / "text.mp4").write_text("just some text, not a video\n" * 20)
    whole = (src / "good.mp4").read_bytes()
    (src / "truncated.mp4").write_bytes(whole[: len(whole) // 3])
    manifest = tmp_path / "videos.csv"
    rows = ["video_id,path,sign_language,captions"]
    rows += [f"{p.stem},{p},gsg,{p.with_suffix('.vtt') if p.stem == 'good2' else ''}"
             for p in sorted(src.glob("*.mp4"))]
    rows.append(f"missing,{src / 'missing.mp4'},gsg,")
    manifest.write_text("\n".join(rows) + "\n")
    out = tmp_path / "corpus"
    res = cli("extract", str(manifest), "--out", str(out), "--workers", "2", "--retries", "1", *FAST)
    assert res.returncode == 1, res.stderr            # some failed, but the run finished
    assert "1 videos done, 5 failed" in res.stdout

    status = json.loads(cli("status", str(out), "--json").stdout)
    assert status["counts"] == {"pending": 0, "running": 0, "done": 1, "failed": 5}
    reasons = {f["video_id"]: f["reason"] for f in status["failed"]}
    assert set(reasons) == {"good2", "empty", "text", "truncated", "missing"}
    assert "empty file" in reasons["empty"] and "does not exist" in reasons["missing"]
    assert "unreadable captions" in reasons["good2"] and "good2.vtt" in reasons["good2"]
    assert "text.mp4" in reasons["text"] and "truncated.mp4" in reasons["truncated"]
    assert all(f["attempts"] == 2 for f in status["failed"])      # --retries 1
    assert all("\n" not in r for r in reasons.values())
    text = cli("status", str(out)).stdout
    assert "1 done, 5 failed, 0 pending" in text and "empty (attempts 2): " in text
    from signverse.io.corpus import open_corpus
    assert open_corpus(out).ids() == ["good-0000"]


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_stores_every_clip_once(make_video, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    names = [f"v{i}" for i in range(8)]
    for i, name in enumerate(names):
        make_video(src / f"{name}.mp4", seconds=1.5, seed=i)
        # Two cues each, so a video has several clips that must be committed together.
        (src / f"{name}.en.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:00.700\na\n\n00:00.700 --> 00:01.500\nb\n")
    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "signverse", "extract", str(src), "--out", str(out), "--workers", "1",
           "--commit-every", "1", *FAST]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    ledger = out / "ledger.sqlite"
    deadline = time.monotonic() + 90
    done = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ledger.exists():
                try:
                    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1) as db:
                        done = db.execute("SELECT COUNT(*) FROM videos WHERE state='done'").fetchone()[0]
                except sqlite3.Error:
                    done = 0
                if done >= 2:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)          # the parent, mid-run, no cleanup at all
        proc.wait(timeout=10)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)    # its orphaned workers
        except ProcessLookupError:
            pass
    assert 2 <= done < len(names)

    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = sorted(f"{n}-{k:04d}" for n in names for k in (0, 1))
    ids = _read_all_shards(out)
    assert sorted(ids) == expected                 # every clip, exactly once
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(out)
    assert sorted(corpus.ids()) == expected and all(corpus[c].pose.n_frames > 0 for c in expected)

    # The narrowest crash window: clips already in a closed shard, video not yet marked done.
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE videos SET state='running' WHERE video_id IN ('v0', 'v5')")
    from signverse.pipeline.inputs import load_inputs
    from signverse.pipeline.run import RunOptions, extract
    from signverse.pipeline.worker import ExtractConfig
    summary = extract(load_inputs(src).records, out,
                      ExtractConfig(fps=6),
                      RunOptions(workers=0, progress=False))
    assert (summary.succeeded, summary.skipped_done, summary.duplicate_clips) == (2, 6, 4)
    assert sorted(_read_all_shards(out)) == expected


@pytest.mark.slow
def test_ray_executor_gives_the_same_clips_as_local(make_video, tmp_path):
    ray = pytest.importorskip("ray")
    from signverse.io.corpus import open_corpus
    from signverse.pipeline.inputs import load_inputs
    from signverse.pipeline.run import RunOptions, extract
    from signverse.pipeline.worker import ExtractConfig
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        make_video(src / f"r{i}.mp4", seconds=1.0, seed=i)
    (src / "r1.vtt").write_text("WEBVTT\n\n00:00.200 --> 00:00.800\nmiddle\n")
    (src / "broken.mp4").write_bytes(b"\x00" * 100)
    records = load_inputs(src).records
    config = ExtractConfig(fps=6)
    local = extract(records, tmp_path / "local", config, RunOptions(workers=1, progress=False, retries=0))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = extract(records, tmp_path / "ray", config,
                         RunOptions(executor="ray", workers=2, progress=False, retries=0))
    finally:
        ray.shutdown()
    assert (remote.succeeded, remote.failed) == (local.succeeded, local.failed) == (3, 1)
    assert remote.failures.keys() == local.failures.keys() == {"broken"}
    a, b = open_corpus(tmp_path / "local"), open_corpus(tmp_path / "ray")
    assert sorted(a.ids()) == sorted(b.ids()) == ["r0-0000", "r1-0000", "r2-0000"]
    for cid in a.ids():
        ca, cb = a[cid], b[cid]
        assert (ca.start, ca.end, ca.text, ca.qc) == (cb.start, cb.end, cb.text, cb.qc)
        np.testing.assert_array_equal(ca.pose.conf, cb.pose.conf)
        np.testing.assert_array_equal(ca.pose.xy, cb.pose.xy)


@pytest.mark.slow
def test_urls_download_process_delete_and_release_shards(http_root, make_video, cli, tmp_path):
    pytest.importorskip("yt_dlp")
    root, base, _ = http_root
    for i in range(2):
        make_video(root / f"w{i}.mp4", seconds=1.0, seed=i)
        (root / f"w{i}.vtt").write_text(f"WEBVTT\n\n00:00.000 --> 00:00.500\ncue {i}\n")
        (root / f"w{i}.html").write_text(f'<video><source src="w{i}.mp4" type="video/mp4">'
                                         f'<track kind="subtitles" src="w{i}.vtt" srclang="de"></video>')
    manifest = tmp_path / "urls.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": f"w{i}", "url": f"{base}/w{i}.html",
                                            "sign_language": "gsg"}) + "\n" for i in range(2))
                        + json.dumps({"video_id": "nope", "url": f"{base}/nope.html"}) + "\n")
    out, release = tmp_path / "corpus", tmp_path / "release"
    res = cli("extract", str(manifest), "--out", str(out), "--workers", "1", "--max-cached", "1",
              "--retries", "0", "--release-shards", str(release), *FAST)
    assert res.returncode == 1 and "2 videos done, 1 failed" in res.stdout, res.stderr
    assert "download failed" in res.stdout
    cache = out / ".download-cache"
    assert not cache.exists() or not any(cache.iterdir())        # deleted after processing
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(out)
    assert sorted(corpus.ids()) == ["w0-0000", "w1-0000"]
    assert corpus["w1-0000"].text == "cue 1" and corpus["w1-0000"].text_language == "de"
    from signverse.io.signverse2m import open_release
    rel = open_release(release)
    tars = sorted(p.name for p in release.glob("*.tar"))
    assert tars and tars[0] == "Sign_DWPose_NPZ_000001.tar"
    ids = sorted(v.video_id for v in rel)
    assert ids == ["w0", "w1"]


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker")
def test_a_worker_killed_mid_video_is_retried_and_the_run_goes_on(make_video, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        make_video(src / f"k{i}.mp4", seconds=2.0, seed=i)
    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "signverse", "extract", str(src), "--out", str(out), "--workers", "1",
           "--retries", "1", "--json", *FAST]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        killed = False
        while time.monotonic() < deadline and not killed and proc.poll() is None:
            # The pool worker (a spawned child running the model): kill it once it has started work.
            for kid in _children(proc.pid):
                cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
                if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline and \
                        (out / "logs").is_dir() and any((out / "logs").iterdir()):
                    time.sleep(0.5)
                    os.kill(kid, signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.05)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert killed
    summary = json.loads(stdout)
    assert proc.returncode == 0 and (summary["succeeded"], summary["failed"]) == (4, 0)
    assert summary["processed"] == 5                     # one video was attempted twice
    assert sorted(_read_all_shards(out)) == [f"k{i}-0000" for i in range(4)]

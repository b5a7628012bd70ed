"""Ledger and download cache under misuse: corrupt ledger (one-line errors, ``signverse repair``),
a second extract on a locked corpus (real processes), a cache folder the program did not create."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from signverse.core import VideoRecord
from signverse.pipeline.ledger import LEDGER_NAME, Ledger, LedgerError, repair_ledger

REPO = Path(__file__).resolve().parents[2]
pytest.importorskip("pyarrow")


def _corpus_with_ledger(root: Path) -> list[str]:
    """A corpus of 3 videos (2 clips each) and its ledger: 3 done (one of them with no clips left
    in the shards), 1 failed, 1 pending."""
    sys.path.insert(0, str(REPO))
    from tests.io.test_corpus import make_clip
    from signverse.io.corpus import CorpusWriter
    clips = [make_clip(i, video=f"vid{i // 2}") for i in range(6)]
    with CorpusWriter(root, shard_clips=4) as writer:
        writer.add_many(clips)
    with Ledger(root) as led:
        led.register(["vid0", "vid1", "vid2", "lost", "bad", "todo"])
        for vid in ("vid0", "vid1", "vid2", "lost"):
            led.start(vid)
            led.done(vid, clips=2, frames=40, seconds=2.0)
        led.start("bad")
        led.fail("bad", "decode error")
    return [c.clip_id for c in clips]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "signverse", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _one_line(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    for needle in needles:
        assert needle in res.stderr, res.stderr


@pytest.mark.parametrize("damage", ["header", "zeros"])
def test_corrupt_ledger_is_a_one_line_error_for_status_and_extract(tmp_path, make_video, damage):
    root = tmp_path / "corpus"
    _corpus_with_ledger(root)
    path = root / LEDGER_NAME
    data = bytearray(path.read_bytes())
    if damage == "header":
        data[:100] = b"garbage!" * 12 + b"1234"
    else:
        data[len(data) // 2:] = bytes(len(data) - len(data) // 2)   # same size, pages zeroed
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match="signverse repair"):
        Ledger(root)
    _one_line(_cli("status", str(root)), "corrupt", f"signverse repair {root}")
    video = make_video(tmp_path / "v.mp4", seconds=0.3)
    _one_line(_cli("extract", str(video), "--out", str(root), "--no-progress", "--workers", "0"),
              "corrupt", "signverse repair")


def test_repair_rebuilds_ledger_and_index_from_the_shards(tmp_path):
    root = tmp_path / "corpus"
    ids = _corpus_with_ledger(root)
    (root / LEDGER_NAME).write_bytes(b"this is not a database" * 50)
    (root / "index" / "ids.npy").write_bytes(b"broken")
    res = _cli("repair", str(root))
    assert res.returncode == 0, res.stderr
    assert "index: rebuilt from 2 shard(s), 6 clip(s)" in res.stdout
    assert "ledger: damaged" in res.stdout and "3 video(s) with stored clips marked done" in res.stdout
    assert list(root.glob(f"{LEDGER_NAME}.corrupt-*"))     # the damaged file is kept, not deleted
    with Ledger(root, create=False) as led:
        assert led.done_ids() == {"vid0", "vid1", "vid2"}
        assert {r.video_id: r.clips for r in led.rows("done")} == {"vid0": 2, "vid1": 2, "vid2": 2}
    res = _cli("status", str(root))
    assert res.returncode == 0 and "3 done" in res.stdout, res.stderr
    from signverse.io.corpus import open_corpus
    assert sorted(open_corpus(root).ids()) == sorted(ids)     # no clip lost


def test_repair_reconciles_a_healthy_ledger_with_the_shards(tmp_path):
    root = tmp_path / "corpus"
    _corpus_with_ledger(root)
    with Ledger(root) as led:   # a crash between closing a shard and marking its video done
        led._tx("UPDATE videos SET state='running' WHERE video_id='vid2'")
    from signverse.io.corpus.repair import repair_corpus
    report = repair_corpus(root, also=[repair_ledger])
    text = "\n".join(report.actions)
    assert "1 video(s) with stored clips marked done" in text
    assert "1 video(s) marked done but without stored clips set to pending" in text and "lost" in text
    with Ledger(root, create=False) as led:
        assert led.state("vid2") == "done" and led.state("lost") == "pending"
        assert led.state("bad") == "failed" and led.state("todo") == "pending"   # kept as they were
    assert repair_ledger(root, {}) != []  # idempotent call still reports


def test_salvage_keeps_readable_rows_of_a_damaged_ledger(tmp_path):
    root = tmp_path / "corpus"
    _corpus_with_ledger(root)
    path = root / LEDGER_NAME
    with sqlite3.connect(path) as db:   # fold the WAL in, so the damage below hits real pages
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    index_page = 4096 * 2   # damage a later page (an index); the table's rows stay readable
    data[index_page: index_page + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    actions = repair_ledger(root, {"vid0": {"clips": 2, "frames": 40}})
    assert any("ledger: damaged" in a for a in actions), actions
    with Ledger(root, create=False) as led:
        assert led.state("vid0") == "done"


def test_extract_on_a_corpus_held_by_another_writer_is_refused(tmp_path, make_video):
    root = tmp_path / "corpus"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from signverse.io.corpus import CorpusWriter
        w = CorpusWriter({str(root)!r})
        print("holding", flush=True)
        time.sleep(120)
    """)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        video = make_video(tmp_path / "v.mp4", seconds=0.3)
        res = _cli("extract", str(video), "--out", str(root), "--no-progress", "--workers", "0")
        _one_line(res, "in use by another writer", f"pid {holder.pid} on ")
        assert not (root / LEDGER_NAME).exists()   # the refused run touched nothing
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def test_cache_dir_never_deletes_a_folder_it_did_not_create(tmp_path):
    pytest.importorskip("yt_dlp")
    from signverse.core import InputError
    from signverse.pipeline.acquire import Downloader, Prefetcher
    cache = tmp_path / "cache"
    users = cache / "holiday"          # the user's own folder; a manifest id happens to match
    users.mkdir(parents=True)
    (users / "holiday.mp4").write_bytes(b"the user's own video")
    (users / "notes.txt").write_text("keep me")
    downloader = Downloader(cache)
    with pytest.raises(InputError, match="not created by signverse"):
        downloader.fetch(VideoRecord("holiday", url="http://127.0.0.1:9/unreachable"))
    downloader.remove("holiday")
    pre = Prefetcher([VideoRecord("holiday", url="http://127.0.0.1:9/x")], downloader).start()
    fetched = pre.get(timeout=30)
    assert fetched.error and "not created by signverse" in fetched.error
    pre.release("holiday")
    pre.close()
    assert (users / "notes.txt").read_text() == "keep me" and (users / "holiday.mp4").is_file()
    # A folder it did create (a failed download) is its own to remove.
    with pytest.raises(InputError, match="download failed"):
        downloader.fetch(VideoRecord("fresh", url="http://127.0.0.1:9/unreachable"))
    assert not (cache / "fresh").exists()




@pytest.mark.slow
@pytest.mark.parametrize("free_kib", [40, 120])   # the ledger, then the first shard, runs out of space
def test_extract_on_a_full_disk_is_one_line_and_the_rerun_completes(tmp_path, make_video, tiny_tmpfs,
                                                                    free_kib):
    pytest.importorskip("mediapipe")
    video = make_video(tmp_path / "v.mp4", seconds=0.5)
    filler = tiny_tmpfs / "filler"
    filler.write_bytes(bytes((1024 - free_kib) * 1024))
    out = tiny_tmpfs / "corpus"
    args = ("extract", str(video), "--out", str(out), "--no-progress", "--workers", "0", "--fps", "6")
    res = _cli(*args)
    errors = [line for line in res.stderr.splitlines() if line.startswith("signverse extract: error:")]
    assert res.returncode == 2 and len(errors) == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert any(s in errors[0] for s in ("no space left on device", "disk is full", "disk I/O error"))
    assert not list(out.rglob("*.tmp")) and not list(out.glob("clips/shard-*"))   # nothing partial
    filler.unlink()
    res = _cli(*args)
    assert res.returncode == 0, res.stderr
    from signverse.io.corpus import open_corpus
    assert open_corpus(out).ids() == ["v-0000"]
    assert "1 done" in _cli("status", str(out)).stdout


@pytest.mark.slow
def test_two_extracts_into_one_corpus_at_once_lose_nothing(tmp_path, make_video):
    """The reported attack: ``extract A --out C &`` and ``extract B --out C`` at the same time."""
    pytest.importorskip("mediapipe")
    a = make_video(tmp_path / "a.mp4", seconds=0.5, seed=1)
    b = make_video(tmp_path / "b.mp4", seconds=0.5, seed=2)
    out = tmp_path / "corpus"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = {name: subprocess.Popen([sys.executable, "-m", "signverse", "extract", str(video), "--out", str(out),
                                    "--no-progress", "--workers", "0", "--fps", "6"],
                                   cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, video in (("a", a), ("b", b))}
    results = {name: (proc.wait(timeout=300), proc.stderr.read()) for name, proc in runs.items()}
    codes = sorted(code for code, _ in results.values())
    # Either the runs overlapped and the second was refused naming the holder, or (on a loaded
    # machine) the first finished before the second started; never both 0 with a clip lost.
    assert codes in ([0, 2], [0, 0]), results
    for name, (code, err) in results.items():
        if code == 2:
            assert "in use by another writer: pid" in err
            rerun = _cli("extract", str(a if name == "a" else b), "--out", str(out), "--no-progress",
                         "--workers", "0", "--fps", "6")
            assert rerun.returncode == 0, rerun.stderr
    from signverse.io.corpus import open_corpus
    assert sorted(open_corpus(out).ids()) == ["a-0000", "b-0000"]   # both, each exactly once
    assert "2 done" in _cli("status", str(out)).stdout

"""Corpus store under misuse: two writers, corrupt index, disk full, hostile names, huge claims,
stale temporary folders of a killed convert. Every test builds its own (hostile) fixtures."""
from __future__ import annotations

import errno
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

from signverse.core import InputError
from signverse.io.corpus import (CorpusLocked, CorpusWriter, DuplicateClip, ReadLimits, StoreWriteError,
                                 open_corpus)
from signverse.io.corpus.index import IdIndex
from tests.io.test_corpus import make_clip, write

REPO = Path(__file__).resolve().parents[2]
pytest.importorskip("pyarrow")


def _python(code: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "signverse", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _holder(corpus: Path) -> subprocess.Popen:
    """A real second process that opens a writer on ``corpus``, lands one shard, and waits."""
    proc = _python(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from tests.io.test_corpus import make_clip
        from signverse.io.corpus import CorpusWriter
        w = CorpusWriter({str(corpus)!r}, shard_clips=2)
        w.add_many([make_clip(i) for i in range(100, 104)])   # two shards land
        print("holding", flush=True)
        time.sleep(120)
    """)
    line = proc.stdout.readline()
    assert line.strip() == "holding", proc.stderr.read()
    return proc


def test_second_writer_process_is_refused_naming_the_holder_and_nothing_is_lost(tmp_path):
    corpus = tmp_path / "corpus"
    source = tmp_path / "source"
    write(source, [make_clip(i) for i in range(6)], shard_clips=2)
    holder = _holder(corpus)
    try:
        # The library: refused with the holder's pid, host and command.
        with pytest.raises(CorpusLocked) as err:
            CorpusWriter(corpus)
        assert f"pid {holder.pid} on " in str(err.value) and "-c" in str(err.value)
        # The command line (convert into the same corpus): one line, exit 2, nothing written.
        res = _cli("convert", str(source), str(corpus), "--append")
        assert res.returncode == 2, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "in use by another writer" in res.stderr
        assert f"pid {holder.pid}" in res.stderr
    finally:
        holder.send_signal(signal.SIGKILL)   # a crash: the kernel releases the lock
        holder.wait()
    res = _cli("convert", str(source), str(corpus), "--append")
    assert res.returncode == 0, res.stderr
    ids = open_corpus(corpus).ids()
    want = {make_clip(i).clip_id for i in [*range(100, 104), *range(6)]}
    assert sorted(ids) == sorted(want) and len(ids) == len(set(ids))   # every clip exactly once


def test_two_writers_in_one_process_and_add_pose_field_are_locked_out(tmp_path):
    from signverse.io.corpus import add_pose_field
    write(tmp_path / "c", [make_clip(i) for i in range(3)])
    with CorpusWriter(tmp_path / "c"):
        with pytest.raises(CorpusLocked):
            CorpusWriter(tmp_path / "c")
        with pytest.raises(CorpusLocked):
            add_pose_field(tmp_path / "c", "second", lambda clip: clip.pose)
    assert add_pose_field(tmp_path / "c", "second", lambda clip: clip.pose) == 1   # free again


def test_a_finished_shard_is_never_replaced(tmp_path):
    from signverse.io.corpus.lock import publish
    from signverse.io.corpus.writer import write_table_file
    write(tmp_path / "c", [make_clip(i) for i in range(3)])
    shard = tmp_path / "c" / "clips" / "shard-00000.parquet"
    before = shard.read_bytes()
    import pyarrow as pa
    with pytest.raises(StoreWriteError, match="refusing to replace"):
        write_table_file(pa.table({"x": [1]}), shard, {})
    tmp = shard.with_name(".other.tmp")
    tmp.write_bytes(b"not a shard")
    with pytest.raises(StoreWriteError, match="already exists"):
        publish(tmp, shard)
    assert shard.read_bytes() == before and not tmp.exists()


def test_same_length_corrupt_index_is_detected_and_never_trusted(tmp_path, caplog):
    root = tmp_path / "c"
    write(root, [make_clip(i) for i in range(10)], shard_clips=4)
    ids_file = root / "index" / "ids.npy"
    size = ids_file.stat().st_size
    data = bytearray(ids_file.read_bytes())
    data[128:] = bytes(len(data) - 128)   # every hash zeroed, same length
    ids_file.write_bytes(bytes(data))
    assert ids_file.stat().st_size == size
    assert IdIndex.load(root / "index", [0, 1, 2]) is None     # fails the checksum
    with pytest.raises(DuplicateClip):
        with CorpusWriter(root, on_duplicate="error") as writer:
            writer.add(make_clip(3))
    corpus = open_corpus(root)
    assert len(corpus.ids()) == 10 and make_clip(3).clip_id in corpus
    assert "checksum" in caplog.text


def test_repair_rebuilds_a_corrupt_index_and_removes_crash_leftovers(tmp_path):
    from signverse.io.corpus.repair import repair_corpus
    root = tmp_path / "c"
    write(root, [make_clip(i) for i in range(7)], shard_clips=3)
    (root / "index" / "loc.npy").write_bytes(b"garbage")
    (root / "clips" / ".shard-00003.parquet.tmp").write_bytes(b"half")
    orphan = root / "poses" / "dwpose" / "shard-00009.parquet"
    orphan.write_bytes(b"pose file whose clips file never landed")
    report = repair_corpus(root)
    assert report.ok and report.clips == 7 and report.shards == 3 and len(report.videos) == 3
    assert any("index: rebuilt" in a for a in report.actions)
    assert not orphan.exists() and not (root / "clips" / ".shard-00003.parquet.tmp").exists()
    assert IdIndex.load(root / "index", [0, 1, 2]) is not None
    assert sorted(open_corpus(root).ids()) == sorted(make_clip(i).clip_id for i in range(7))


def _fail_second_write(monkeypatch):
    """Fault injection at the real write: the 2nd Parquet file runs out of space half-written."""
    import pyarrow.parquet as pq
    real = pq.write_table
    calls = []

    def write_table(table, where, **options):
        calls.append(where)
        if len(calls) == 2:
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **options)

    monkeypatch.setattr(pq, "write_table", write_table)
    return calls


def test_disk_full_leaves_nothing_partial_and_a_rerun_completes(tmp_path, monkeypatch):
    root = tmp_path / "c"
    clips = [make_clip(i) for i in range(6)]
    calls = _fail_second_write(monkeypatch)
    with pytest.raises(StoreWriteError, match="no space left on device") as err:
        write(root, clips, shard_clips=3)
    assert "\n" not in str(err.value) and len(calls) == 2
    monkeypatch.undo()
    leftovers = [p for p in root.rglob("*") if p.is_file() and (p.name.endswith(".tmp")
                                                              or "shard-" in p.name)]
    assert leftovers == [], leftovers       # the pose file of the failed shard went too
    write(root, clips, shard_clips=3)       # the rerun
    assert sorted(open_corpus(root).ids()) == sorted(c.clip_id for c in clips)




def test_disk_full_on_a_real_small_file_system_through_convert(tmp_path, tiny_tmpfs):
    source = tmp_path / "source"
    write(source, [make_clip(i, n_frames=60) for i in range(150)], shard_clips=25)
    target = tiny_tmpfs / "corpus"
    res = _cli("convert", str(source), str(target))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert len(res.stderr.strip().splitlines()) == 1 and "no space left on device" in res.stderr
    assert not [p for p in target.rglob("*.tmp")]
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_tmpfs)], check=True)
    res = _cli("convert", str(source), str(target), "--append")   # continue the corpus begun above
    assert res.returncode == 0, res.stderr
    assert sorted(open_corpus(target).ids()) == sorted(open_corpus(source).ids())


def test_stale_convert_folders_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / ".convert-mine"          # the user's, not ours: must survive
    mine.mkdir()
    (mine / "keep.txt").write_text("user data")
    code = f"""
        import sys, time
        from pathlib import Path
        from signverse.io.transcode import _temp_folder
        folder, owner = _temp_folder(Path({str(out)!r}))
        (folder / "big.bin").write_bytes(bytes(1 << 20))
        print(folder, flush=True)
        time.sleep(120)
    """
    killed, alive = _python(code), _python(code)
    dead_folder = Path(killed.stdout.readline().strip())
    live_folder = Path(alive.stdout.readline().strip())
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert dead_folder.is_dir()
        # one clip per video: a release holds one folder per video
        write(tmp_path / "source", [make_clip(i, video=f"v{i}") for i in range(2)])
        res = _cli("convert", str(tmp_path / "source"), str(out / "shard.tar"))
        assert res.returncode == 0, res.stderr
        assert not dead_folder.exists()                      # ours, owner dead: cleaned
        assert live_folder.is_dir()                          # ours, owner alive: kept
        assert (mine / "keep.txt").read_text() == "user data"   # not ours: kept
        assert (out / "shard.tar").is_file()
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("name", ["../../OUTSIDE", "/tmp/abs", ".hidden", "a/b", ""])
def test_corpus_json_names_are_plain_identifiers(tmp_path, name):
    root = tmp_path / "deep" / "c"
    write(root, [make_clip(0)])
    manifest = json.loads((root / "corpus.json").read_text())
    manifest["default_pose_field"] = name
    (root / "corpus.json").write_text(json.dumps(manifest))
    before = sorted(p for p in tmp_path.rglob("*"))
    for action in (lambda: CorpusWriter(root).close(), lambda: open_corpus(root)):
        with pytest.raises(InputError, match="unsafe default pose field name") as err:
            action()
        assert "\n" not in str(err.value)
    assert sorted(p for p in tmp_path.rglob("*")) == before   # nothing written anywhere
    manifest["default_pose_field"] = "dwpose"
    manifest["pose_fields"] = {name: {"layouts": []}}
    (root / "corpus.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="unsafe pose field name"):
        open_corpus(root)


def test_writer_refuses_an_unsafe_field_argument(tmp_path):
    with pytest.raises(InputError, match="unsafe pose field"):
        CorpusWriter(tmp_path / "c", field="../escape")
    assert not (tmp_path / "escape").exists()


def _zeros_corpus(root: Path, frames: int, points: int = 134) -> str:
    """A corpus whose one pose row claims ``frames`` frames of all-zero deltas (valid bytes)."""
    import pyarrow.parquet as pq
    from signverse.io.corpus import schema
    from signverse.io.corpus.writer import _pose_table
    clip = make_clip(0, n_frames=2)
    write(root, [clip])
    n = frames * points
    row = schema.pose_row(clip.clip_id, clip.pose)
    row.update(n_frames=frames, n_persons=1, n_points=points, xy=bytes(4 * n), conf=bytes(n),
               persons=np.zeros(frames, np.uint8), xy_escapes=b"")
    table = _pose_table([row])
    path = root / "poses" / "dwpose" / "shard-00000.parquet"
    path.unlink()
    # zstd: a hostile file picks the codec that inflates most (LZ4 tops out near 255x)
    pq.write_table(table, path, **schema.parquet_options("poses", table.column_names, pose_compression="zstd"))
    return clip.clip_id


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS read from /proc (Linux)")
def test_a_pose_row_claiming_far_more_than_it_stores_is_refused_within_bounds(tmp_path):
    root = tmp_path / "c"
    clip_id = _zeros_corpus(root, 250_000)   # 134 MB of payload from a few KB on disk
    assert sum(p.stat().st_size for p in (root / "poses").rglob("*.parquet")) < 1 << 20
    proc = _python(f"""
        import time
        t = time.perf_counter()
        from signverse.io.corpus import open_corpus
        from signverse.core import InputError
        corpus = open_corpus({str(root)!r})
        for read in (lambda: corpus[{clip_id!r}], lambda: list(corpus), lambda: list(corpus.iter_arrays())):
            try:
                read()
                print("READ")
            except InputError as exc:
                print("ERROR", exc)
        # VmHWM: this program's peak (ru_maxrss would also count the forking pytest process)
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
        print("RSS_MB", int(hwm) / 1024)
        print("SECONDS", time.perf_counter() - t)
    """)
    out, err = proc.communicate(timeout=60)
    lines = out.splitlines()
    assert [l.split()[0] for l in lines[:3]] == ["ERROR"] * 3, (out, err)
    assert "more than 1000x" in lines[0] and "ReadLimits.max_ratio" in lines[0]
    rss = float(lines[3].split()[1])
    seconds = float(lines[4].split()[1])
    assert rss < 400 and seconds < 30, (rss, seconds)


def test_clip_size_limit_is_stated_and_overridable(tmp_path):
    root = tmp_path / "c"
    clip = make_clip(0, n_frames=50)
    write(root, [clip])
    small = ReadLimits(max_clip_values=49 * 128)
    with pytest.raises(InputError, match=r"claims 50 frames x 1 persons x 128 points .*max_clip_values"):
        open_corpus(root, limits=small)[clip.clip_id]
    assert open_corpus(root, limits=ReadLimits(max_clip_values=50 * 128))[clip.clip_id].pose.n_frames == 50


def test_kill_9_during_convert_to_tar_then_the_next_convert_cleans_up(tmp_path):
    source = tmp_path / "source"
    write(source, [make_clip(i, n_frames=48, video=f"v{i}") for i in range(120)], shard_clips=40)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "signverse", "convert", str(source), str(out / "a.tar")],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    temp = []
    while not temp and proc.poll() is None and time.monotonic() < deadline:
        # wait until the run is under way: its temporary folder holds a tar being written
        temp = [p for p in out.glob(".convert-*")
                if any(f.stat().st_size > 0 for f in p.glob("*.tar.tmp"))]
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert temp, "convert finished before it could be killed; make the source larger"
    assert temp[0].is_dir() and not (out / "a.tar").exists()
    small = tmp_path / "small"
    write(small, [make_clip(i, video=f"v{i}") for i in range(2)])
    res = _cli("convert", str(small), str(out / "b.tar"))
    assert res.returncode == 0, res.stderr
    assert not list(out.glob(".convert-*")) and (out / "b.tar").is_file()


def test_repair_reports_a_damaged_shard_and_changes_nothing_of_it(tmp_path):
    from signverse.io.corpus.repair import repair_corpus
    root = tmp_path / "c"
    write(root, [make_clip(i) for i in range(6)], shard_clips=3)
    shard = root / "clips" / "shard-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:50])   # truncated
    damaged = shard.read_bytes()
    report = repair_corpus(root)
    assert not report.ok and report.clips == 3
    assert any("DAMAGED clips/shard-00001.parquet: unreadable" in a for a in report.actions)
    assert shard.read_bytes() == damaged and (root / "poses" / "dwpose" / "shard-00001.parquet").is_file()
    res = _cli("repair", str(root))
    assert res.returncode == 1 and "DAMAGED" in res.stdout and "ledger: none" in res.stdout

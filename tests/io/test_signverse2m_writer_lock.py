"""Release shards have one writer per folder: a second ``ShardWriter`` (another process, or the
same one) is refused naming the folder and the holder; a writer killed with ``kill -9`` leaves no
stale lock, and its unfinished shard is removed by the next writer; a shard is never replaced."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from signverse.core.pose import PoseSeq
from signverse.io.corpus import CorpusLocked, StoreWriteError
from signverse.io.signverse2m import ShardWriter, open_release

REPO = Path(__file__).resolve().parents[2]


def _pose(seed: int, t: int = 20) -> PoseSeq:
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.35, 1, (t, 1, 128)).astype(np.float32)
    return PoseSeq(rng.uniform(0, 500, (t, 1, 128, 2)).astype(np.float32), conf, fps=24,
                   width=512, height=512, layout="dwpose")


def _holder(folder: Path) -> subprocess.Popen:
    """A real second process: a ShardWriter on ``folder`` that publishes one shard of two videos,
    leaves a third in its open (``.tmp``) shard, and waits."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO / "tests" / "io")!r})
        from test_signverse2m_writer_lock import _pose
        from signverse.io.signverse2m import ShardWriter
        w = ShardWriter({str(folder)!r}, max_videos=2)
        for i in range(3):
            w.add_video(f"held{{i}}", _pose(i))
        print("holding", flush=True)
        time.sleep(120)
    """)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "holding", proc.stderr.read()
    return proc


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_writer_is_refused_naming_folder_and_holder_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "release"
    holder = _holder(out)
    first = out / "Sign_DWPose_NPZ_000001.tar"
    try:
        published = _digest(first)
        assert (out / "Sign_DWPose_NPZ_000002.tar.tmp").is_file()
        with pytest.raises(CorpusLocked) as err:
            ShardWriter(out)
        message = str(err.value)
        assert message.startswith(f"{out}: release shards folder in use by another writer: ")
        assert f"pid {holder.pid} on {socket.gethostname()} (" in message and "\n" not in message
        # The refused writer removed nothing: the holder's open shard is still being written.
        assert (out / "Sign_DWPose_NPZ_000002.tar.tmp").is_file() and _digest(first) == published
    finally:
        holder.send_signal(signal.SIGKILL)   # a crash: the kernel drops the lock
        holder.wait()
    # The lock file still names the dead pid; it is only a label, so the next writer goes ahead.
    assert f'"pid": {holder.pid}' in (out / ".release-writer.lock").read_text()
    with ShardWriter(out, max_videos=2) as shards:
        assert shards.published == {"held0", "held1"}                # held2 was never published
        assert not (out / "Sign_DWPose_NPZ_000002.tar.tmp").exists()  # the crash's leftover is gone
        assert shards.add_video("held2", _pose(2)) and shards.add_video("new", _pose(9))
    assert _digest(first) == published                                # never rewritten
    assert sorted(v.video_id for v in open_release(out)) == ["held0", "held1", "held2", "new"]


def test_two_writers_in_one_process_and_a_closed_writer_cannot_add(tmp_path):
    out = tmp_path / "release"
    one = ShardWriter(out)
    with pytest.raises(CorpusLocked, match="release shards folder in use by another writer: pid"):
        ShardWriter(out)
    one.add_video("a", _pose(0))
    assert one.close() == [out / "Sign_DWPose_NPZ_000001.tar"]
    with pytest.raises(Exception, match="closed"):
        one.add_video("b", _pose(1))
    with ShardWriter(out) as two:          # released by close: the next writer continues
        assert two.add_video("b", _pose(1))
    assert sorted(p.name for p in out.glob("*.tar")) == ["Sign_DWPose_NPZ_000001.tar",
                                                         "Sign_DWPose_NPZ_000002.tar"]


def test_a_finished_shard_is_never_replaced(tmp_path):
    out = tmp_path / "release"
    shards = ShardWriter(out)
    shards.add_video("mine", _pose(0))
    # Something that bypassed the lock lands a shard under the same name first.
    foreign = out / "Sign_DWPose_NPZ_000001.tar"
    foreign.write_bytes(b"someone else's shard")
    with pytest.raises(StoreWriteError, match="already exists; refusing to replace"):
        shards.close()
    assert foreign.read_bytes() == b"someone else's shard"
    assert not list(out.glob("*.tmp"))


def test_convert_overwrite_of_a_release_folder_in_use_is_refused(tmp_path):
    source = tmp_path / "source"
    with ShardWriter(source) as shards:
        shards.add_video("src", _pose(5))
    out = tmp_path / "release"
    holder = _holder(out)
    try:
        before = {p.name: _digest(p) for p in out.iterdir() if p.is_file()}
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        res = subprocess.run([sys.executable, "-m", "signverse", "convert", str(source), str(out),
                              "--format", "signverse2m", "--overwrite"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, (res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert f"release shards folder in use by another writer: pid {holder.pid} on " in res.stderr
        assert {p.name: _digest(p) for p in out.iterdir() if p.is_file()} == before   # untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

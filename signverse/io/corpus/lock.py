"""One writer per corpus: an OS file lock (``fcntl.flock``) on ``<corpus>/.writer.lock``.

The kernel drops the lock when its holder exits, however it exits (``kill -9`` included), so a
crashed writer never leaves a stale lock behind. The file also records who holds it (pid, host,
command, start time) so that a refused second writer can name the holder in its one-line error;
that text is only a label, the lock itself is the ``flock``.

>>> import tempfile
>>> with CorpusLock(tempfile.mkdtemp()) as lock:
...     lock.held
True
"""
from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from signverse.core.errors import InputError, SignverseError
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

LOCK_NAME = ".writer.lock"


class CorpusLocked(InputError):
    """Another live process holds the writer lock of this corpus."""


class StoreWriteError(SignverseError):
    """Writing to the store failed (disk full, read-only, permissions); nothing partial is visible."""


def _fcntl():
    try:
        import fcntl
    except ImportError:  # Windows: no flock; refuse rather than risk two writers
        raise SignverseError("corpus writing needs POSIX file locks (fcntl), not available here") from None
    return fcntl


def holder_text(info: dict) -> str:
    """``pid 123 on host (signverse extract ...) since 2026-...`` from the lock file's record."""
    if not info:
        return "an unknown process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info["since"])) if info.get("since") else "?"
    return (f"pid {info.get('pid', '?')} on {info.get('host', '?')} ({info.get('command', '?')}) "
            f"since {since} UTC")


class CorpusLock:
    """Exclusive writer lock of a folder (a corpus, or a temporary folder of ours).

    ``acquire()`` raises :class:`CorpusLocked` naming the holder; ``try_acquire()`` returns False
    instead. Released by ``release()``, on exit of the ``with`` block, or when the process dies.
    """

    def __init__(self, folder: str | Path, name: str = LOCK_NAME, *, what: str = ""):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what   # names the folder's role in the refusal, e.g. "release shards folder"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fcntl = _fcntl()
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise StoreWriteError(f"{self.path}: cannot open the writer lock ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise StoreWriteError(f"{self.path}: cannot lock ({exc.strerror})") from None
        self._fd = fd
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "command": " ".join(os.path.basename(a) if i == 0 else a
                                      for i, a in enumerate(sys.argv))[:300] or "python",
                  "since": time.time()}
        try:   # the label; the lock is already ours whether or not this lands (e.g. disk full)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json_dumps(record) + "\n").encode(), 0)
        except OSError as exc:
            log.debug("cannot label the lock %s: %s", self.path, exc)
        return True

    def acquire(self, wait: float = 2.0) -> "CorpusLock":
        """Take the lock, waiting up to ``wait`` seconds (a reader saving a rebuilt index holds it
        for a moment); a writer still holding it then is refused with its name."""
        deadline = time.monotonic() + wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not self.held:
            role = f"{self.what} " if self.what else ""
            raise CorpusLocked(self.folder, f"{role}in use by another writer: {holder_text(self.holder())}; "
                                            "wait for it to finish (the lock is released when it exits)")
        return self

    def holder(self) -> dict:
        """The record the current holder wrote (empty if unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8")[:4096] or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _fcntl().flock(fd, _fcntl().LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "CorpusLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock is released with the object, not only at exit
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def publish(tmp: Path, final: Path) -> None:
    """Move a finished temporary file to its final name, never replacing an existing file.

    A hard link is an atomic create-if-absent: it fails with EEXIST when ``final`` exists, so a
    shard that has landed can never be overwritten (not even by a writer that bypassed the lock).
    """
    try:
        os.link(tmp, final)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise StoreWriteError(f"{final}: already exists; refusing to replace a finished shard "
                              "(another writer? run 'signverse repair')") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            tmp.unlink(missing_ok=True)
            raise StoreWriteError(f"{final}: cannot publish ({exc.strerror})") from None
        # A file system without hard links: check then rename, safe under the writer lock.
        if final.exists():
            tmp.unlink(missing_ok=True)
            raise StoreWriteError(f"{final}: already exists; refusing to replace a finished shard") from None
        os.rename(tmp, final)
        return
    tmp.unlink()


def write_error(path: Path, exc: OSError) -> StoreWriteError:
    """A one-line error for a failed write (``No space left on device`` and the like)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    return StoreWriteError(f"{path}: cannot write ({reason}); nothing partial was kept, "
                           "free space and rerun the same command to continue (a convert into a "
                           "corpus: add --append)")

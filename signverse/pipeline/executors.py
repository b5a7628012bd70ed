"""Where the per-video stages run: worker processes on this machine, or Ray actors.

Both executors offer the same small interface to the orchestrator (which alone writes the store
and the ledger): ``submit(record)``, ``next_result() -> (record, VideoResult)``, ``in_flight``,
``slots`` and ``close()``. A task is a video record or, for long videos split by
``signverse.pipeline.segments.SplitExecutor`` (which wraps these), one ``RangeTask``. Each worker
(process or actor) holds one model instance. A worker that
dies (a native crash in a decoder or model) turns its in-flight videos into failed results and is
replaced, so the run goes on.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from typing import Any, Protocol

from signverse.core.errors import SignverseError, require
from signverse.core.records import VideoRecord
from signverse.pipeline.worker import (ExtractConfig, VideoProcessor, VideoResult, init_worker,
                                       worker_process_context)

log = logging.getLogger(__name__)


class Executor(Protocol):
    """What the orchestrator needs from an executor."""

    slots: int

    def submit(self, record: VideoRecord) -> None: ...

    def next_result(self) -> tuple[VideoRecord, VideoResult]: ...

    @property
    def in_flight(self) -> int: ...

    def close(self) -> None: ...


def default_workers() -> int:
    """All usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class NativeStderrToFile:
    """Send native libraries' writes to file descriptor 2 (TFLite, absl and glog lines from
    MediaPipe) to ``path`` while Python's own ``sys.stderr`` (log messages, the progress bar)
    keeps reaching the terminal. Worker processes do the same in ``init_worker``; this is for
    ``--workers 0``, where the model runs in the command's own process."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self) -> "NativeStderrToFile":
        import sys
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        sys.stderr.flush()
        self._saved = os.dup(2)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
        self._old = sys.stderr
        sys.stderr = open(self._saved, "w", buffering=1, encoding=getattr(self._old, "encoding", None)
                          or "utf-8", errors="backslashreplace", closefd=False)
        self._handlers = [h for h in logging.root.handlers if getattr(h, "stream", None) is self._old]
        for handler in self._handlers:
            handler.setStream(sys.stderr)
        return self

    def __exit__(self, *exc) -> None:
        import sys
        sys.stderr.flush()
        for handler in self._handlers:
            handler.setStream(self._old)
        sys.stderr.close()
        sys.stderr = self._old
        os.dup2(self._saved, 2)
        os.close(self._saved)


class InlineExecutor:
    """Runs videos one at a time in this process (``--workers 0``; debugging and tiny inputs).

    With ``native_log``, native stderr goes to that file while videos are processed."""

    def __init__(self, config: ExtractConfig, native_log: str | None = None):
        self.processor = VideoProcessor(config)
        self.slots = 1
        self._queue: deque[VideoRecord] = deque()
        self._native_log = native_log

    def submit(self, record: VideoRecord) -> None:
        self._queue.append(record)

    @property
    def in_flight(self) -> int:
        return len(self._queue)

    def next_result(self) -> tuple[VideoRecord, VideoResult]:
        from signverse.pipeline.segments import run_task
        record = self._queue.popleft()
        if self._native_log is None:
            return record, run_task(self.processor, record)
        with NativeStderrToFile(self._native_log):
            return record, run_task(self.processor, record)

    def close(self) -> None:
        if self._native_log is None:
            self.processor.close()
            return
        with NativeStderrToFile(self._native_log):
            self.processor.close()


class LocalExecutor:
    """A pool of spawned worker processes, one model each; the parent gets results as they finish."""

    def __init__(self, config: ExtractConfig, workers: int | None = None, *, log_dir: str | None = None):
        self.config = config
        self.log_dir = log_dir
        self.slots = workers or default_workers()
        self._pool = None
        self._context = worker_process_context(config)   # starts the fork server's imports now
        self._futures: dict[Any, VideoRecord] = {}
        self._ready: deque[tuple[VideoRecord, VideoResult]] = deque()

    def _ensure_pool(self):
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor
            # Never a fork of this parent: forking a process that holds threads (progress bar,
            # prefetcher, SQLite) is unsafe, and MediaPipe graphs must not be inherited. Workers
            # fork from a clean fork server with the heavy imports done (else spawn).
            self._pool = ProcessPoolExecutor(max_workers=self.slots, mp_context=self._context,
                                             initializer=init_worker, initargs=(self.config, self.log_dir))
        return self._pool

    def submit(self, record: VideoRecord) -> None:
        future = self._ensure_pool().submit(run_task_in_worker, record)
        self._futures[future] = record

    @property
    def in_flight(self) -> int:
        return len(self._futures) + len(self._ready)

    def next_result(self) -> tuple[VideoRecord, VideoResult]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool
        if self._ready:
            return self._ready.popleft()
        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        broken = False
        for future in done:
            record = self._futures.pop(future)
            try:
                self._ready.append((record, future.result()))
            except BrokenProcessPool:
                broken = True
                self._ready.append((record, VideoResult(
                    record.video_id, error="worker process died while processing this video")))
            except Exception as exc:  # noqa: BLE001 - e.g. a result that failed to pickle
                self._ready.append((record, VideoResult(record.video_id,
                                                        error=f"worker error: {type(exc).__name__}: {exc}")))
        if broken:
            # Every other in-flight video died with the pool: report them and start a new pool.
            for future, record in list(self._futures.items()):
                self._ready.append((record, VideoResult(
                    record.video_id, error="worker process died while processing this video")))
            self._futures.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        return self._ready.popleft()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """The same stages on Ray: one actor per slot, each holding one model instance.

    ``address`` (or the ``RAY_ADDRESS`` environment variable) joins an existing cluster; without
    either a local Ray instance is started. Video files must be readable at the same path on every
    node (shared storage), results come back to this process, which writes the store.
    """

    def __init__(self, config: ExtractConfig, workers: int | None = None, *, address: str | None = None,
                 init_options: dict[str, Any] | None = None):
        ray = require("ray", "ray")
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS")
            try:
                if address:
                    # An existing cluster owns its resources and dashboard: pass nothing about them.
                    ray.init(address=address, **(init_options or {}))
                else:
                    with _normal_priority_ray_workers():
                        ray.init(**{"include_dashboard": False, "log_to_driver": False,
                                    "num_cpus": workers or default_workers(), **(init_options or {})})
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise SignverseError(f"cannot start or join Ray (address={address or 'local'}): {exc}") \
                    from None
            self._owns_ray = True
        if workers:
            self.slots = workers
        else:
            self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.config = config
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_RayWorker)
        self._idle = [self._actor_cls.remote(config) for _ in range(self.slots)]
        self._pending: dict[Any, tuple[VideoRecord, Any]] = {}

    def submit(self, record: VideoRecord) -> None:
        if not self._idle:
            raise SignverseError("RayExecutor.submit called with every actor busy")
        actor = self._idle.pop()
        self._pending[actor.run.remote(record)] = (record, actor)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def next_result(self) -> tuple[VideoRecord, VideoResult]:
        ray = self._ray
        (ref,), _ = ray.wait(list(self._pending), num_returns=1)
        record, actor = self._pending.pop(ref)
        try:
            result = ray.get(ref)
            self._idle.append(actor)
        except ray.exceptions.RayActorError as exc:
            log.warning("Ray actor died on %s: %s", record.video_id, exc)
            result = VideoResult(record.video_id, error="ray actor died while processing this video")
            self._idle.append(self._actor_cls.remote(self.config))
        except ray.exceptions.RayError as exc:
            result = VideoResult(record.video_id, error=f"ray error: {' '.join(str(exc).split())[:300]}")
            self._idle.append(actor)
        return record, result

    def close(self) -> None:
        for actor in self._idle:
            self._ray.kill(actor)
        self._idle = []
        if self._owns_ray:
            self._ray.shutdown()


class _normal_priority_ray_workers:
    """While a private local Ray starts: its actors run at normal priority, like local worker
    processes. Ray's default (``RAY_worker_niceness``: 15) makes every actor yield to any other
    process on the machine, which only suits a node that serves something else first. An explicit
    ``RAY_worker_niceness`` in the environment wins."""

    def __enter__(self):
        self._set = "RAY_worker_niceness" not in os.environ
        if self._set:
            os.environ["RAY_worker_niceness"] = "0"
        return self

    def __exit__(self, *exc) -> None:
        if self._set:
            os.environ.pop("RAY_worker_niceness", None)


class _RayWorker:
    """Body of a Ray actor: one VideoProcessor (one model) for its lifetime."""

    def __init__(self, config: ExtractConfig):
        self.processor = VideoProcessor(config)

    def run(self, record: VideoRecord):
        from signverse.pipeline.segments import run_task
        return run_task(self.processor, record)


def run_task_in_worker(task):
    """Process-pool task function: a whole video or one range of a split video."""
    from signverse.pipeline import worker
    from signverse.pipeline.segments import run_task
    if worker._PROCESSOR is None:
        raise RuntimeError("init_worker was not called in this process")
    return run_task(worker._PROCESSOR, task)


def make_executor(kind: str, config: ExtractConfig, workers: int | None = None, *,
                  ray_address: str | None = None, log_dir: str | None = None,
                  quiet_native: bool = False, split_seconds: float | None = None,
                  range_store=None) -> Executor:
    """``local`` (default; ``workers=0`` runs inline) or ``ray``; ``log_dir`` takes local workers'
    native stderr (and, with ``quiet_native``, the inline executor's). With ``split_seconds``,
    two or more workers and a fixed ``config.fps``, longer videos are split into ranges that run
    on several workers (``signverse.pipeline.segments``); finished ranges are kept in
    ``range_store`` (a ``RangeStore``) so that a rerun redoes only the others."""
    executor = _make_executor(kind, config, workers, ray_address=ray_address, log_dir=log_dir,
                              quiet_native=quiet_native)
    if split_seconds and executor.slots > 1 and config.fps is not None:
        from signverse.pipeline.segments import SplitExecutor
        return SplitExecutor(executor, config, split_seconds, store=range_store)
    return executor


def _make_executor(kind: str, config: ExtractConfig, workers: int | None, *, ray_address: str | None,
                   log_dir: str | None, quiet_native: bool) -> Executor:
    if kind == "local":
        if workers == 0:
            native_log = (os.path.join(log_dir, f"native-{os.getpid()}.log")
                          if quiet_native and log_dir else None)
            return InlineExecutor(config, native_log=native_log)
        return LocalExecutor(config, workers, log_dir=log_dir)
    if kind == "ray":
        return RayExecutor(config, workers, address=ray_address)
    raise SignverseError(f"unknown executor '{kind}' (known: local, ray)")

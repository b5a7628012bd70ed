"""Long videos across workers: split into frame ranges, estimate each anywhere, join, finish once.

One long video on one worker leaves the other workers idle. :class:`SplitExecutor` wraps any
executor (local processes, Ray actors) and turns a video longer than ``split_seconds`` into
``RangeTask`` s of output frames ``[first, stop)``. Each range is decoded exactly
(``signverse.video.ranges.decode_range``: seek to a keyframe before the range, resample as the
whole-video decode does, keep only the range's frames), so the joined ranges hold every frame
exactly once, with the same times and pixels as one pass. A worker runs the estimator over its
range (``VideoProcessor._estimate``, the same loop as a whole video) and returns the per-frame
poses plus the signer features. When all ranges of a video are back, the parent joins them in
order and runs what needs the whole video once (``VideoProcessor._assemble``): signer tracking and
choice, hand fixing, clip cutting and QC. So clips are those of an unsplit run (same ids, frames,
times), and a model that looks at each frame alone (DWPose) gives identical poses. MediaPipe
tracks landmarks from frame to frame and is reset at each range start; its tracker does not
converge back to the one-pass values, so poses after the first seam differ slightly (measured by
``benchmarks/long_video.py``: median 0.4 px per point at 1280x720).

The ledger is untouched: a split video is one unit there, ``done`` only when its joined clips are
committed. Each range that comes back is saved at once by the parent (``range_store``: the
estimator's output, frame times, signer features and stats, with a checksummed ``part.json``
written last) in ``CORPUS/.ranges`` when the run gives a store, else in a temporary folder. So a
rerun after a kill, or the run's retry of a video whose range failed, processes only the ranges
not yet finished; a stored range is reused only for the same frames of the same file under the
same settings, and one that is unfinished or fails its checksums is redone. The join reads stored
and fresh ranges alike, so the clips equal those of an uninterrupted run. The video's ranges are
removed once its clips are committed (``run.py``). Videos whose timestamps cannot be trusted
after a seek (``RangeUnsupported``) are quietly processed whole. Splitting needs a fixed output
rate (``--fps``, not ``native``) and two or more workers.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import tempfile
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.records import VideoRecord
from signverse.pipeline.range_store import RangeStore
from signverse.pipeline.worker import _DONE, ExtractConfig, VideoProcessor, VideoResult, _Decoder, _one_line

log = logging.getLogger(__name__)

DEFAULT_SPLIT_SECONDS = 60.0
MIN_RANGE_SECONDS = 10.0


@dataclass(frozen=True)
class RangeTask:
    """Output frames ``[first, stop)`` of one video (``stop=None``: to its end); ``token`` names the
    submission, so parts of an abandoned attempt are recognised and dropped."""

    record: VideoRecord
    index: int
    count: int
    first: int
    stop: int | None
    token: int
    width: int = 0    # the video's display size, probed once by the parent (0: probe in the worker)
    height: int = 0

    @property
    def video_id(self) -> str:
        return self.record.video_id

    def describe(self) -> str:
        return f"range {self.index + 1}/{self.count} (frames {self.first}-{'end' if self.stop is None else self.stop})"


@dataclass
class RangePart:
    """What a worker returns for one range: the estimator's per-frame output and signer features."""

    video_id: str
    index: int
    token: int
    chunks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)   # xy [n,P,K,2], conf [n,P,K]
    features: list[Any] = field(default_factory=list)     # SignerFeatures per batch
    times: np.ndarray | None = None
    stats: Any = None                                     # RangeStats
    layout: str = ""
    one_person: bool = False
    decode_s: float = 0.0
    infer_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0                                    # CPU seconds of the worker process on it
    worker: int = 0                                       # the worker's process id
    error: str | None = None
    unsplittable: bool = False                            # the video must be decoded whole

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def n_frames(self) -> int:
        return 0 if self.times is None else len(self.times)


class _RangeDecoder(_Decoder):
    """The worker's read-ahead decoder thread, over one range instead of the whole video."""

    def __init__(self, path: str, fps: float, first: int, stop: int | None, config: ExtractConfig):
        from signverse.video.ranges import RangeStats
        super().__init__(path, fps, config.read_ahead, config.read_ahead_bytes, max_side=config.max_side,
                         max_hold=config.max_hold)
        self.first, self.stop_at = first, stop
        self.range_stats = RangeStats()

    def run(self) -> None:
        from signverse.video.ranges import decode_range
        t0 = time.perf_counter()
        try:
            for item in decode_range(self.path, self.fps, self.first, self.stop_at, max_side=self.max_side,
                                     max_hold=self.max_hold, stats=self.range_stats):
                if self.stop.is_set():
                    break
                self._put(item, item[2].nbytes)
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)
        finally:
            self.seconds = time.perf_counter() - t0


def process_range(processor: VideoProcessor, task: RangeTask) -> RangePart:
    """Estimate poses over one range of a video (runs in a worker; never raises)."""
    from signverse.video import probe
    from signverse.video.ranges import RangeUnsupported
    import os
    t0, cpu0 = time.perf_counter(), time.process_time()
    part = RangePart(task.video_id, task.index, task.token, worker=os.getpid())
    try:
        cfg = processor.config
        path = processor._local_path(task.record)
        display = task if task.width and task.height else probe(path)
        est = processor.estimator()
        est.reset()   # a range starts like a video: trackers (MediaPipe) begin afresh here
        decoder = _RangeDecoder(path, cfg.fps, task.first, task.stop, cfg)
        with tempfile.TemporaryDirectory(prefix="signverse-range-") as spill_dir:
            spill, features, times, infer = processor._estimate(decoder, est, spill_dir, display)
            part.chunks = [(xy, conf) for _, xy, conf in spill.chunks()] if spill is not None else []
        part.features = features
        part.times = np.frombuffer(times, np.float64).copy()
        part.stats = decoder.range_stats
        part.layout = est.layout
        part.one_person = bool(getattr(est, "single_person", False))
        part.decode_s, part.infer_s = decoder.seconds, infer
    except RangeUnsupported as exc:
        part.error, part.unsplittable = _one_line(str(exc)), True
    except SignverseError as exc:
        part.error = _one_line(str(exc))
    except Exception as exc:  # noqa: BLE001 - estimator/native errors must not kill the worker
        log.debug("range %s of %s failed", task.index, task.video_id, exc_info=True)
        part.error = _one_line(f"{type(exc).__name__}: {exc}")
    part.wall_s = time.perf_counter() - t0
    part.cpu_s = time.process_time() - cpu0
    return part


def run_task(processor: VideoProcessor, task: RangeTask | VideoRecord) -> RangePart | VideoResult:
    """A worker's entry point for either kind of task."""
    if isinstance(task, RangeTask):
        return process_range(processor, task)
    return processor(task)


def plan_ranges(n_frames: int, fps: float, slots: int, split_seconds: float | None,
                min_range_seconds: float = MIN_RANGE_SECONDS) -> list[tuple[int, int | None]]:
    """Frame ranges for a video of about ``n_frames`` output frames, or ``[]`` to keep it whole.

    Videos longer than ``split_seconds`` become a multiple of ``slots`` equal ranges of at most
    ``split_seconds`` (so that the workers finish together), none shorter than
    ``min_range_seconds`` (each range start is a seek and a tracker reset). The last range runs to
    the video's real end, whatever the estimate said.
    """
    seconds = n_frames / fps
    if not split_seconds or slots < 2 or seconds <= split_seconds:
        return []
    count = slots * math.ceil(seconds / (slots * split_seconds))
    count = min(count, int(seconds // max(min_range_seconds, 1.0 / fps)))
    if count < 2:
        return []
    bounds = [round(i * n_frames / count) for i in range(count)]
    return list(zip(bounds, bounds[1:] + [None]))


class _JoinedSpill:
    """The ranges' estimator output, saved on arrival, read back in video order like a ``PoseSpill``."""

    def __init__(self):
        self.n_frames = 0
        self._files: list[tuple[Path, Path]] = []

    def extend(self, files: list[tuple[Path, Path]], n_frames: int) -> None:
        self._files += files
        self.n_frames += n_frames

    def chunks(self):
        first = 0
        for xy_path, conf_path in self._files:
            xy = np.load(xy_path, allow_pickle=False)
            yield first, xy, np.load(conf_path, allow_pickle=False)
            first += len(xy)


@dataclass
class _Assembly:
    """A split video in flight: its ranges' parts as they arrive (their arrays on disk in ``folder``:
    the run's range store, or ``temp`` when the run keeps none)."""

    record: VideoRecord
    count: int
    started: float
    folder: Path
    temp: tempfile.TemporaryDirectory | None
    width: int
    height: int
    parts: dict[int, RangePart] = field(default_factory=dict)     # arrays moved to disk
    files: dict[int, list] = field(default_factory=dict)

    def cleanup(self) -> None:
        if self.temp is not None:
            self.temp.cleanup()


_FEATURE_FIELDS = ("boxes", "present", "act_xy", "act_valid")


class SplitExecutor:
    """Wraps an executor so that long videos are split into ranges (see the module docstring).

    Offers the executor interface the orchestrator uses; ``in_flight`` counts units of work
    (queued or running ranges and whole videos), so the orchestrator feeds new videos as soon as a
    worker would otherwise idle at the tail of a long video.
    """

    def __init__(self, inner, config: ExtractConfig, split_seconds: float | None = DEFAULT_SPLIT_SECONDS,
                 *, min_range_seconds: float = MIN_RANGE_SECONDS, plan_slots: int | None = None,
                 store: RangeStore | None = None):
        if config.fps is None:
            raise SignverseError("splitting long videos needs a fixed output rate (--fps, not native)")
        self.inner = inner
        self.slots = inner.slots
        self.config = config
        self.split_seconds = split_seconds
        self.min_range_seconds = min_range_seconds
        self.plan_slots = plan_slots or inner.slots   # workers the ranges are planned for
        self.store = store                       # finished ranges kept across runs (None: temporary)
        self._merger = VideoProcessor(config)   # never loads a model: captions, signer, clips only
        self._queue: deque = deque()             # tasks waiting for a free worker
        self._assemblies: dict[int, _Assembly] = {}
        self._stale = 0                          # running ranges of abandoned videos
        self._ready: deque[tuple[VideoRecord, VideoResult]] = deque()
        self._tokens = itertools.count()
        self.split_videos = 0
        self.range_cpu: dict[int, float] = {}   # worker process id -> CPU seconds spent on ranges
        self.range_costs: list[list[float]] = []   # per joined video: CPU seconds of each range, in order
        self.join_s = 0.0                        # parent time spent joining ranges and finishing videos
        self.ranges_resumed = 0                  # ranges taken from the store instead of being redone

    def plan(self, record: VideoRecord) -> tuple[list[tuple[int, int | None]], tuple[int, int]]:
        """The ranges of ``record`` (``[]``: process it whole) and its display size (one probe,
        which the ranges and the join reuse)."""
        if not record.path or not self.split_seconds:
            return [], (0, 0)
        from signverse.video import probe
        try:
            info = probe(record.path)
        except SignverseError:
            return [], (0, 0)   # the whole-video path reports the problem
        seconds = info.duration or (info.n_frames / info.fps if info.fps else 0.0)
        ranges = plan_ranges(int(seconds * self.config.fps), self.config.fps, self.plan_slots,
                             self.split_seconds, self.min_range_seconds)
        return ranges, (info.width, info.height)

    def submit(self, record: VideoRecord) -> None:
        ranges, (width, height) = self.plan(record)
        if not ranges:
            self._queue.append(record)
            self._dispatch()
            return
        token = next(self._tokens)
        assembly = self._assembly(record, len(ranges), width, height)
        self._assemblies[token] = assembly
        for i, (first, stop) in enumerate(ranges):
            if not self._resume(assembly, i, first, stop, token):
                self._queue.append(RangeTask(record, i, len(ranges), first, stop, token, width, height))
        self.split_videos += 1
        log.debug("%s: split into %d ranges", record.video_id, len(ranges))
        if assembly.parts:
            log.info("%s: %d of %d ranges were finished by an earlier run; processing the other %d",
                     record.video_id, len(assembly.parts), len(ranges), len(ranges) - len(assembly.parts))
        if len(assembly.parts) == assembly.count:   # an earlier run finished every range
            self._complete(token, assembly)
        self._dispatch()

    def _fingerprint(self, record: VideoRecord) -> dict[str, Any]:
        """What a stored range of ``record`` depends on (see ``range_store``)."""
        st = os.stat(record.path)
        cfg = self.config
        return {"path": os.path.abspath(record.path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "fps": cfg.fps, "backend": cfg.backend, "backend_options": cfg.backend_options,
                "max_side": cfg.max_side, "max_hold": cfg.max_hold, "signer": cfg.signer}

    def _assembly(self, record: VideoRecord, count: int, width: int, height: int) -> _Assembly:
        if self.store is not None:
            try:
                folder = self.store.open_video(record.video_id, self._fingerprint(record))
                return _Assembly(record, count, time.perf_counter(), folder, None, width, height)
            except OSError as exc:
                log.warning("%s: cannot keep its ranges in %s (%s); they will not survive a kill",
                            record.video_id, self.store.root, exc)
        temp = tempfile.TemporaryDirectory(prefix="signverse-join-")
        return _Assembly(record, count, time.perf_counter(), Path(temp.name), temp, width, height)

    def _resume(self, assembly: _Assembly, index: int, first: int, stop: int | None, token: int) -> bool:
        """Take range ``index`` from the store if an earlier run finished it (and it checks out)."""
        if assembly.temp is not None:
            return False
        stored = self.store.load(assembly.folder, first, stop)
        if stored is None:
            return False
        from signverse.pipeline.signer import SignerFeatures
        from signverse.video.ranges import RangeStats
        try:
            meta = stored.meta
            stats = dict(meta["stats"])
            stats["gaps"] = [(float(at), float(missing)) for at, missing in stats["gaps"]]
            part = RangePart(assembly.record.video_id, index, token,
                             features=[SignerFeatures(**stored.features)], times=stored.times,
                             stats=RangeStats(**stats), layout=str(meta["layout"]),
                             one_person=bool(meta["one_person"]))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: unusable stored range %d (%s); redoing it", assembly.record.video_id,
                        index + 1, exc)
            return False
        assembly.parts[index] = part
        assembly.files[index] = stored.files
        self.ranges_resumed += 1
        return True

    def _save(self, assembly: _Assembly, task: RangeTask, part: RangePart) -> list:
        """Keep a range's arrays on disk until the whole video is back (memory stays per-range),
        ``part.json`` last, so that a rerun can take it instead of redoing it."""
        from signverse.pipeline.signer import SignerFeatures
        features = SignerFeatures.concat(part.features)   # one per range: padding is the join's
        meta = {"layout": part.layout, "one_person": part.one_person,
                "stats": dataclasses.asdict(part.stats), "decode_s": part.decode_s,
                "infer_s": part.infer_s, "cpu_s": part.cpu_s, "wall_s": part.wall_s}
        files = RangeStore.save(assembly.folder, task.first, task.stop, part.chunks, part.times,
                                {name: getattr(features, name) for name in _FEATURE_FIELDS}, meta)
        part.features = [features]
        return files

    @property
    def in_flight(self) -> int:
        return len(self._queue) + self.inner.in_flight - self._stale + len(self._ready)

    def _dispatch(self) -> None:
        while self._queue and self.inner.in_flight < self.inner.slots:
            self.inner.submit(self._queue.popleft())

    def next_result(self) -> tuple[VideoRecord, VideoResult]:
        while not self._ready:
            self._dispatch()
            if self.inner.in_flight == 0:
                raise SignverseError("SplitExecutor.next_result called with nothing in flight")
            task, result = self.inner.next_result()
            if isinstance(task, RangeTask):
                self._on_part(task, result)
            else:
                self._ready.append((task, result))
        self._dispatch()
        return self._ready.popleft()

    def _on_part(self, task: RangeTask, part) -> None:
        assembly = self._assemblies.get(task.token)
        if assembly is None:   # a range of a video that already failed
            self._stale -= 1
            return
        error = getattr(part, "error", None)
        if error is None:
            try:
                assembly.files[task.index] = self._save(assembly, task, part)
            except OSError as exc:   # disk full, permissions: this video fails, the run goes on
                error = f"cannot keep its result in {assembly.folder} ({exc.strerror or exc})"
        if error is not None:
            unsplittable = getattr(part, "unsplittable", False)
            self._abandon(task.token, assembly, discard=unsplittable)
            if unsplittable:
                log.info("%s: %s; processing it whole", task.video_id, error)
                self._queue.appendleft(assembly.record)
                self._dispatch()
                return
            result = VideoResult(task.video_id, error=_one_line(f"{task.describe()}: {error}"))
            result.wall_s = time.perf_counter() - assembly.started
            self._ready.append((assembly.record, result))
            return
        part.chunks = []
        assembly.parts[task.index] = part
        self.range_cpu[part.worker] = self.range_cpu.get(part.worker, 0.0) + part.cpu_s
        if len(assembly.parts) == assembly.count:
            self._complete(task.token, assembly)

    def _complete(self, token: int, assembly: _Assembly) -> None:
        """Every range is back (or was stored by an earlier run): join and finish the video."""
        del self._assemblies[token]
        video_id = assembly.record.video_id
        t0 = time.perf_counter()
        self.range_costs.append([assembly.parts[i].cpu_s for i in range(assembly.count)])
        try:
            result = self._join(assembly)
        except SignverseError as exc:
            result = VideoResult(video_id, error=_one_line(str(exc)))
        except Exception as exc:  # noqa: BLE001 - one bad video never stops the run
            log.debug("joining %s failed", video_id, exc_info=True)
            result = VideoResult(video_id, error=_one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            # Stored ranges stay until the run has committed the video's clips (then it discards them).
            assembly.cleanup()
            self.join_s += time.perf_counter() - t0
        result.wall_s = time.perf_counter() - assembly.started
        self._ready.append((assembly.record, result))

    def _abandon(self, token: int, assembly: _Assembly, *, discard: bool = False) -> None:
        """Drop a failed video's queued ranges; its running ones are ignored when they come back.
        Its stored ranges stay for the retry, unless ``discard`` (it will be processed whole)."""
        del self._assemblies[token]
        queued = [t for t in self._queue if isinstance(t, RangeTask) and t.token == token]
        self._queue = deque(t for t in self._queue if not (isinstance(t, RangeTask) and t.token == token))
        self._stale += assembly.count - len(assembly.parts) - len(queued) - 1
        assembly.cleanup()
        if discard and assembly.temp is None and self.store is not None:
            self.store.discard(assembly.record.video_id)

    def _join(self, assembly: _Assembly) -> VideoResult:
        """All ranges are back: join them in order and finish the video once."""
        from signverse.video import DecodeStats
        record = assembly.record
        spill = _JoinedSpill()
        features: list = []
        times = array("d")
        stats = DecodeStats()
        decode_s = infer_s = 0.0
        parts = [assembly.parts[i] for i in range(assembly.count)]
        for i, part in enumerate(parts):
            spill.extend(assembly.files[i], part.n_frames)
            features += part.features
            times.extend(part.times)
            rs = part.stats
            stats.source_frames += rs.source_frames
            stats.expected_frames = rs.expected_frames
            stats.emitted += rs.emitted
            stats.gaps += rs.gaps
            decode_s += part.decode_s
            infer_s += part.infer_s
            if rs.stopped is not None or not rs.reached_stop:
                # The video ended or broke inside this range: one pass would have stopped here too.
                stats.stopped = rs.stopped
                dropped = sum(p.n_frames for p in parts[i + 1:])
                if dropped:
                    log.info("%s: %d frames after the break in %s dropped", record.video_id, dropped,
                             f"range {i + 1}")
                break
        if not times:
            raise SignverseError(f"{record.path}: no video frame could be decoded")
        tracks, track, warnings = self._merger._tracks(record)
        first = parts[0]
        return self._merger._assemble(record, spill, features, times, stats, fps=self.config.fps,
                                      width=assembly.width, height=assembly.height, layout=first.layout,
                                      one_person=first.one_person, tracks=tracks, track=track,
                                      warnings=warnings + stats.warnings, decode_s=decode_s, infer_s=infer_s)

    def close(self) -> None:
        for assembly in self._assemblies.values():
            assembly.cleanup()   # stored ranges stay: the next run takes them
        self._assemblies.clear()
        self.inner.close()

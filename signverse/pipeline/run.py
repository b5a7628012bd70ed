"""The corpus construction run: inputs -> (download) -> workers -> corpus store, resumable.

The parent process is the only writer of the store and the ledger. Commit protocol (what makes a
``kill -9`` at any moment safe):

1. a finished video's clips are added to the corpus writer (ids already stored are skipped);
2. at a commit point (``commit_videos`` videos, ``shard_clips`` clips or ``commit_seconds``
   seconds since the last one, and at the end) the writer closes the pending clips as one shard
   (written to a temporary name, then renamed);
3. only then are those videos marked ``done`` in the ledger.

A crash before 3 leaves videos not ``done``: the next run redoes them and the writer skips any of
their clips that reached a closed shard, while unfinished temporary shards are removed when the
writer reopens. So every clip is stored exactly once and every shard is complete. Shards end on
video boundaries, so a video's clips are committed as a unit. A long video split into frame
ranges across workers (``segments.SplitExecutor``) is still one unit here: its result arrives only
once every range is back and joined, so it is never ``done`` with a range missing. Its finished
ranges are kept in ``CORPUS/.ranges`` (``range_store``) until its clips are committed, so a rerun
after a kill processes only the ranges that had not come back.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from signverse.core.errors import InputError, SignverseError
from signverse.core.records import VideoRecord
from signverse.pipeline.acquire import Downloader, Prefetcher
from signverse.pipeline.executors import default_workers, make_executor
from signverse.pipeline.ledger import Ledger
from signverse.pipeline.range_store import RANGES_DIR, RangeStore
from signverse.pipeline.worker import ExtractConfig, VideoResult

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """How a run is executed (as opposed to :class:`ExtractConfig`, what each video becomes)."""

    executor: str = "local"
    workers: int | None = None              # None: all cores; 0: inline (local only)
    ray_address: str | None = None
    retries: int = 1                        # extra attempts per failed video in this run
    limit: int | None = None                # only the first N input videos
    retry_failed: bool = True               # retry videos that failed in earlier runs
    shard_clips: int = 1000
    commit_videos: int = 40                 # the release's videos per tar shard
    commit_seconds: float = 120.0
    release_dir: str | None = None          # also write SignVerse-2M-compatible npz + tar shards
    cache_dir: str | None = None            # downloads (default: <out>/.download-cache)
    max_cached_videos: int = 4
    max_cached_bytes: int | None = None
    keep_downloads: bool = False
    progress: bool = True
    quiet_native: bool = False              # --workers 0: native stderr to <out>/logs (CLI without -v)
    split_seconds: float | None = 60.0      # longer videos run as ranges on several workers (None: never)


@dataclass
class RunSummary:
    """What a run did (the CLI prints it; ``--json`` dumps it)."""

    out: str
    inputs: int = 0
    skipped_done: int = 0
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    clips: int = 0
    duplicate_clips: int = 0
    rejected_clips: int = 0
    frames: int = 0
    wall_s: float = 0.0
    decode_s: float = 0.0
    infer_s: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)   # video -> what is missing from it
    ledger: dict[str, int] = field(default_factory=dict)
    download_peak_videos: int = 0
    ranges_resumed: int = 0     # ranges of split videos taken from an earlier, interrupted run

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["frames_per_s"] = self.frames_per_s
        return out


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        log.info("install signverse[progress] for progress bars")
        return None
    return tqdm(total=total, unit="video", file=sys.stderr, dynamic_ncols=True, smoothing=0.1,
                desc="extract")


class _ReleaseSink:
    """SignVerse-2M-compatible output: per-video npz folders packed into tar shards.

    The open tar is closed at every commit point, so a video marked ``done`` is always in a
    published shard (shards then hold at most ``commit_videos`` videos, 40 in the release).
    """

    def __init__(self, folder: str | Path):
        from signverse.io.signverse2m import ShardWriter
        self.writer = ShardWriter(folder)

    def add(self, record: VideoRecord, result: VideoResult) -> None:
        if result.video_pose is not None:
            self.writer.add_video(record.video_id, result.video_pose, captions=result.captions)

    def commit(self) -> None:
        self.writer.close_shard()

    def close(self) -> None:
        self.writer.close()


def _check_backend(name: str, options: dict[str, Any]) -> None:
    """Fail before any work when the backend is unknown or cannot run here (missing weights...).

    With explicit options (e.g. weight paths) the default-configuration check does not apply.
    """
    from signverse.estimators import describe_estimators
    infos = {i.name: i for i in describe_estimators()}
    if name not in infos:
        raise SignverseError(f"unknown pose estimator '{name}' (known: {', '.join(sorted(infos))})")
    if not infos[name].available and not options:
        raise SignverseError(f"pose estimator '{name}' is not available here: {infos[name].reason}")


def _check_config(config: ExtractConfig) -> None:
    """Refuse options the backend cannot honour, before any work."""
    from signverse.estimators import sees_one_person
    from signverse.pipeline.signer import SIGNER_CHOICES
    if config.signer not in SIGNER_CHOICES:
        raise SignverseError(f"unknown signer choice '{config.signer}' (known: {', '.join(SIGNER_CHOICES)})")
    if config.qc_filter.max_multi_person_frac is not None and sees_one_person(config.backend):
        raise SignverseError(f"--max-multi-person-frac needs a backend that detects several people: "
                             f"'{config.backend}' sees one person per frame, so its multi-person "
                             "fraction is unknown (use --backend dwpose)")


def _longest_first(records: list[VideoRecord], max_probe: int = 5000) -> list[VideoRecord]:
    """Local videos longest first (by container duration), so the last busy worker finishes soon
    after the others; URL records keep their order (their length is unknown until downloaded)."""
    local = [r for r in records if r.path]
    if not local or len(local) > max_probe:
        return records
    from signverse.video import probe

    def length(rec: VideoRecord) -> float:
        try:
            info = probe(rec.path)
            return info.duration or info.n_frames / (info.fps or 25.0)
        except Exception:  # noqa: BLE001 - unreadable files fail later, in a worker, with a reason
            return 0.0
    lengths = {r.video_id: length(r) for r in local}
    return sorted(local, key=lambda r: -lengths[r.video_id]) + [r for r in records if not r.path]


def extract(records: Sequence[VideoRecord], out: str | Path, config: ExtractConfig | None = None,
            options: RunOptions | None = None) -> RunSummary:
    """Build (or continue) a corpus in ``out`` from ``records``; see the module docstring.

    Videos already ``done`` in the ledger are skipped; failures are recorded with a one-line reason
    and retried ``options.retries`` times; nothing a single video does stops the run.
    """
    from signverse.io.corpus import CorpusWriter
    config = config or ExtractConfig()
    options = options or RunOptions()
    if options.release_dir:
        if config.fps is None or abs(config.fps - round(config.fps)) > 1e-9:
            raise SignverseError("release shards store an integer fps: use --fps 24 (not native) "
                                 "with --release-shards")
        if not config.keep_video_pose:
            import dataclasses
            config = dataclasses.replace(config, keep_video_pose=True)
    _check_backend(config.backend, config.backend_options)
    _check_config(config)
    out = Path(out)
    records = list(records)[:options.limit] if options.limit is not None else list(records)
    ids = [r.video_id for r in records]
    if len(set(ids)) != len(ids):
        raise InputError(None, "input has duplicate video ids")
    t_start = time.perf_counter()
    summary = RunSummary(str(out), inputs=len(records))

    # The locks first, before anything is written: the release folder's (when asked for), then the
    # corpus's, whose writer refuses a non-empty folder that is not a corpus; the ledger lives there.
    sink = _ReleaseSink(options.release_dir) if options.release_dir else None   # holds its lock
    try:
        writer = CorpusWriter(out, shard_clips=10 ** 9, on_duplicate="skip")   # holds the corpus lock
    except BaseException:
        if sink is not None:
            sink.close()
        raise
    try:
        ledger = Ledger(out)
    except BaseException:
        writer.close()
        if sink is not None:
            sink.close()
        raise
    ledger.register(ids, languages={r.video_id: r.sign_language for r in records},
                    sources={r.video_id: r.path or r.url for r in records})
    ledger.set_meta("config", {"fps": config.fps, "backend": config.backend,
                               "backend_options": config.backend_options, "window": config.window,
                               "layout": config.layout})
    done = ledger.done_ids()
    ranges = RangeStore(out / RANGES_DIR)
    ranges.prune(done)   # a run killed after a commit but before it discarded the ranges
    failed_before = {v.video_id for v in ledger.rows("failed")}
    todo = [r for r in records if r.video_id not in done
            and (options.retry_failed or r.video_id not in failed_before)]
    summary.skipped_done = len(records) - len(todo)
    todo = _longest_first(todo)
    ledger.reset_attempts(r.video_id for r in todo)

    downloader = None
    if any(r.path is None and r.url for r in todo):
        downloader = Downloader(options.cache_dir or out / ".download-cache")
    source = Prefetcher(todo, downloader, max_videos=options.max_cached_videos,
                        max_bytes=options.max_cached_bytes, keep=options.keep_downloads).start()
    executor = make_executor(options.executor, config,
                             options.workers if options.workers is not None else default_workers(),
                             ray_address=options.ray_address, log_dir=str(out / "logs"),
                             quiet_native=options.quiet_native, split_seconds=options.split_seconds,
                             range_store=ranges)
    bar = _progress(len(todo), options.progress)
    retry: list[VideoRecord] = []
    uncommitted: list[tuple[VideoRecord, VideoResult]] = []
    pending_clips = 0
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal pending_clips, last_commit
        if uncommitted:
            writer.flush()
            if sink is not None:
                sink.commit()
            for rec, res in uncommitted:
                ledger.done(rec.video_id, clips=len(res.clips), frames=res.n_frames, seconds=res.seconds,
                            rejected=len(res.rejected),
                            info={"fps": res.fps, "width": res.width, "height": res.height,
                                  "rejected": res.rejected, "caption_tracks": list(res.captions),
                                  "warnings": list(res.warnings)})
                ranges.discard(rec.video_id)   # its clips are durable: its ranges are no longer needed
            uncommitted.clear()
        pending_clips = 0
        last_commit = time.monotonic()

    def tick() -> None:
        if bar is not None:
            elapsed = time.perf_counter() - t_start
            bar.set_postfix(frames_s=f"{summary.frames / elapsed:.1f}", failed=summary.failed, refresh=False)
            bar.update(1)

    def finish(record: VideoRecord, result: VideoResult, *, retryable: bool = True) -> None:
        nonlocal pending_clips
        summary.processed += 1
        summary.decode_s += result.decode_s
        summary.infer_s += result.infer_s
        if not result.ok:
            attempts = attempts_of.get(record.video_id, 1)
            ledger.fail(record.video_id, result.error or "unknown error")
            if retryable and attempts <= options.retries:
                log.info("retrying %s (attempt %d failed: %s)", record.video_id, attempts, result.error)
                retry.append(record)
                return
            summary.failed += 1
            summary.failures[record.video_id] = result.error or "unknown error"
            source.release(record.video_id)
            tick()
            return
        added = writer.add_many(result.clips)
        summary.duplicate_clips += len(result.clips) - added
        if sink is not None:
            sink.add(record, result)
        summary.succeeded += 1
        summary.clips += len(result.clips)
        summary.rejected_clips += len(result.rejected)
        summary.frames += result.n_frames
        if result.warnings:
            summary.warnings[record.video_id] = list(result.warnings)
        result.video_pose = None   # the poses are in the writer now; free the memory early
        uncommitted.append((record, result))
        pending_clips += len(result.clips)
        source.release(record.video_id)
        tick()
        if (len(uncommitted) >= options.commit_videos or pending_clips >= options.shard_clips
                or time.monotonic() - last_commit >= options.commit_seconds):
            commit()

    attempts_of: dict[str, int] = {}
    try:
        while True:
            # Fill free slots: retries first, then new videos (without blocking while work is out).
            while executor.in_flight < executor.slots:
                if retry:
                    record = retry.pop(0)
                else:
                    fetched = source.get(timeout=None if executor.in_flight == 0 else 0.0)
                    if fetched is None:
                        break
                    record = fetched.record
                    if fetched.error is not None:
                        attempts_of[record.video_id] = ledger.start(record.video_id)
                        # yt-dlp already retried the download; a worker cannot do better.
                        finish(record, VideoResult(record.video_id, error=fetched.error), retryable=False)
                        continue
                attempts_of[record.video_id] = ledger.start(record.video_id)
                executor.submit(record)
            if executor.in_flight == 0 and not retry and source.exhausted:
                break
            if executor.in_flight == 0:
                continue
            record, result = executor.next_result()
            finish(record, result)
        commit()
    finally:
        source.close()
        executor.close()
        if bar is not None:
            bar.close()
        try:
            writer.close()
            if sink is not None:
                sink.close()
        finally:
            summary.ledger = ledger.counts()
            ledger.close()
    summary.wall_s = time.perf_counter() - t_start
    summary.download_peak_videos = source.peak_videos
    summary.ranges_resumed = getattr(executor, "ranges_resumed", 0)
    return summary

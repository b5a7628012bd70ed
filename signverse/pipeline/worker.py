"""The per-video stages, run inside a worker: decode -> estimate -> select signer -> clips + QC.

A :class:`VideoProcessor` owns one estimator (one model instance per worker process or Ray
actor). Decoding runs in a thread that fills a bounded frame queue while the estimator works on
the previous batch, so decode and inference overlap (PyAV and MediaPipe both release the GIL).

Memory does not grow with a video's resolution or length:

* frames are shrunk in the decoder to ``max_side`` pixels (the pose models work on far smaller
  crops; coordinates are scaled back to the video's own pixels) and the read-ahead queue is
  bounded in bytes (``read_ahead_bytes``) as well as frames;
* the estimator's per-frame output (every person, every native point) is spilled to a temporary
  folder in chunks of ``chunk_frames`` frames; only boxes and wrist/hand points stay in memory
  to choose the signer. The signer's points are then read back chunk by chunk, converted to the
  stored layout, and cut into clips. What a video keeps in memory is the signer's stored-layout
  pose (1.6 KB per frame for ``dwpose``), which its clips share; ``keep_video_pose`` (release
  shards) holds the whole multi-person pose as before.

Every failure becomes a :class:`VideoResult` with a one-line ``error`` instead of an exception,
so that results cross process boundaries safely and one bad file never stops the rest.
"""
from __future__ import annotations

import logging
import queue
from array import array
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip, Segment, VideoRecord
from signverse.layouts import convert
from signverse.core.align import ClipSpan, caption_spans, window_spans
from signverse.pipeline.qc import QCFilter, clip_qc

log = logging.getLogger(__name__)

_DONE = object()


@dataclass(frozen=True)
class ExtractConfig:
    """How each video is turned into clips (shared by every worker; must be picklable)."""

    fps: float | None = 24.0                 # None: the video's native frame rate
    backend: str = "mediapipe"
    backend_options: dict[str, Any] = field(default_factory=dict)
    window: float | None = None              # caption-less videos: None = one whole-video clip
    min_clip_frames: int = 1
    caption_language: str | None = None      # which caption track defines clips (default: first)
    qc_filter: QCFilter = field(default_factory=QCFilter)
    batch_frames: int = 8                    # frames per estimator call
    read_ahead: int = 64                     # decoded frames buffered ahead of inference (at most)
    read_ahead_bytes: int = 64 << 20         # ... and at most this many bytes of them
    max_side: int | None = 1280              # frames shrink to this longer side first (None: as is)
    max_hold: float = 1.0                    # a timestamp jump longer than this is a gap (missing)
    chunk_frames: int = 256                  # estimator output spilled to disk per this many frames
    keep_video_pose: bool = False            # also return the whole video's pose (release shards)
    select_signer: bool = True
    signer: str = "auto"                     # auto | largest | left | right | center
    layout: str = "dwpose"                   # stored layout; "native" keeps the estimator's own


@dataclass
class VideoResult:
    """What a worker sends back for one video (clips carry their poses)."""

    video_id: str
    clips: list[Clip] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)   # clip_id -> reason
    n_frames: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    decode_s: float = 0.0
    infer_s: float = 0.0
    wall_s: float = 0.0
    captions: dict[str, list[Segment]] = field(default_factory=dict)   # language -> cues
    video_pose: PoseSeq | None = None
    warnings: list[str] = field(default_factory=list)   # one line each: truncation, gaps, bad cues
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def caption_language(path: str | Path, video_id: str | None = None) -> str | None:
    """Language code from a caption file name: ``<id>.<lang>.vtt`` -> ``lang`` (else ``None``)."""
    name = Path(path).name
    stem = name.rsplit(".", 1)[0]
    if video_id and stem.startswith(video_id + "."):
        return stem[len(video_id) + 1:] or None
    parts = stem.split(".")
    return parts[-1] if len(parts) > 1 and 1 < len(parts[-1]) <= 12 else None


def read_captions(path: str | Path, video_id: str | None = None) -> dict[str, list[Segment]]:
    """Caption tracks of one file, language -> cues (parsed and cleaned by ``signverse.io.captions``).

    ``.vtt`` / ``.srt`` hold one track (language from ``<id>.<lang>.vtt``, else ``""``: unknown);
    the release's ``<id>.captions.json`` holds one per language.
    """
    return read_caption_file(path, video_id)[0]


def read_caption_file(path: str | Path, video_id: str | None = None
                      ) -> tuple[dict[str, list[Segment]], list[str]]:
    """``read_captions`` plus one line per cue the file's reader rejected."""
    from signverse.io import captions as cap
    path = Path(path)
    if path.name.endswith(".json"):
        found = cap.read_captions_json(path)
        return dict(found.segments), list(found.problems)
    language = caption_language(path, video_id)
    return {language or "": cap.read_captions(path, language=language)}, []


@dataclass
class _Track:
    """One caption track of a video: ``label`` is unique per video, ``language`` None if unknown."""

    label: str
    language: str | None
    segments: list[Segment]


def _pick_track(tracks: list[_Track], preferred: str | None, video_id: str) -> _Track | None:
    """The track that defines clips: ``preferred`` (``de`` also matches ``de-CH``), else the first.

    A video that has tracks but not the preferred language fails with the list of what it has,
    rather than silently using another language.
    """
    if not tracks:
        return None
    if preferred is None:
        return tracks[0]
    for track in tracks:
        if track.language and (track.language == preferred or track.language.split("-")[0] == preferred):
            return track
    have = ", ".join(t.language or f"{t.label} (language unknown)" for t in tracks)
    raise SignverseError(f"{video_id}: no '{preferred}' caption track (available: {have})")


class _Decoder(threading.Thread):
    """Decode into a queue bounded in frames and in bytes; errors travel through the queue."""

    def __init__(self, path: str, fps: float | None, read_ahead: int, read_ahead_bytes: int | None = None,
                 *, max_side: int | None = None, max_hold: float = 1.0, stats=None):
        from signverse.video import DecodeStats
        super().__init__(name="signverse-decode", daemon=True)
        self.path, self.fps = path, fps
        self.max_side, self.max_hold = max_side, max_hold
        self.stats = stats if stats is not None else DecodeStats()
        self.frames: queue.Queue = queue.Queue(maxsize=max(2, read_ahead))
        self.max_bytes = read_ahead_bytes
        self.queued_bytes = 0
        self.peak_bytes = 0
        self._room = threading.Condition()
        self.stop = threading.Event()
        self.seconds = 0.0

    def _put(self, item, nbytes: int = 0) -> None:
        with self._room:
            # Wait for room in bytes; one frame always fits (else a huge frame would block forever).
            while (self.max_bytes is not None and self.queued_bytes
                   and self.queued_bytes + nbytes > self.max_bytes and not self.stop.is_set()):
                self._room.wait(0.1)
            self.queued_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.queued_bytes)
        self.frames.put((item, nbytes))

    def _get(self, timeout: float | None = None):
        item, nbytes = self.frames.get(timeout=timeout)
        with self._room:
            self.queued_bytes -= nbytes
            self._room.notify_all()
        return item

    def run(self) -> None:
        from signverse.video import decode
        t0 = time.perf_counter()
        try:
            for index, t, rgb in decode(self.path, self.fps, max_side=self.max_side,
                                        max_hold=self.max_hold, stats=self.stats):
                if self.stop.is_set():
                    break
                self._put((index, t, rgb), rgb.nbytes)
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)
        finally:
            self.seconds = time.perf_counter() - t0

    def batches(self, size: int):
        while True:
            batch = []
            while len(batch) < size:
                item = self._get()
                if item is _DONE:
                    if batch:
                        yield batch
                    return
                if isinstance(item, BaseException):
                    raise item
                batch.append(item)
            yield batch

    def finish(self) -> None:
        """Stop decoding and drain the queue so the thread ends."""
        self.stop.set()
        while self.is_alive():
            try:
                self._get(timeout=0.05)
            except queue.Empty:
                pass


class PoseSpill:
    """A video's per-frame estimator output (all people, native points) in chunk files on disk.

    Chunks of ``chunk_frames`` frames are padded to their own most people and written as
    ``.npy`` pairs in ``folder`` (which the caller creates and removes); :meth:`chunks` reads
    them back one at a time. Only plain arrays are written and read (no pickles).
    """

    def __init__(self, folder: str | Path, n_points: int, chunk_frames: int = 256):
        self.folder = Path(folder)
        self.n_points = n_points
        self.chunk_frames = max(1, int(chunk_frames))
        self.n_frames = 0
        self._pending: list = []
        self._files: list[tuple[int, int, Path, Path]] = []   # (first frame, frames, xy, conf)

    def add(self, poses) -> None:
        self._pending.extend(poses)
        while len(self._pending) >= self.chunk_frames:
            self._write(self._pending[:self.chunk_frames])
            self._pending = self._pending[self.chunk_frames:]

    def close(self) -> None:
        if self._pending:
            self._write(self._pending)
            self._pending = []

    def _write(self, poses) -> None:
        from signverse.estimators.base import stack_frames
        seq = stack_frames(poses, fps=1.0, width=1, height=1, layout="custom", n_points=self.n_points)
        n = len(self._files)
        xy_path, conf_path = self.folder / f"xy-{n:06d}.npy", self.folder / f"conf-{n:06d}.npy"
        np.save(xy_path, seq.xy, allow_pickle=False)
        np.save(conf_path, seq.conf, allow_pickle=False)
        self._files.append((self.n_frames, len(poses), xy_path, conf_path))
        self.n_frames += len(poses)

    def chunks(self):
        """``(first frame, xy [n, P, K, 2], conf [n, P, K])`` per chunk, in order."""
        for first, _n, xy_path, conf_path in self._files:
            yield first, np.load(xy_path, allow_pickle=False), np.load(conf_path, allow_pickle=False)


def _crop_box(width: int, signer: str) -> tuple[int, int]:
    """Columns ``[x0, x1)`` a one-person estimator sees for ``--signer left|right|center``."""
    if signer == "left":
        return 0, width // 2
    if signer == "right":
        return width // 2, width
    if signer == "center":
        return width // 4, width - width // 4
    return 0, width


def _to_display(poses, x0: int, sx: float, sy: float):
    """Estimator output on a (cropped, shrunk) frame -> pixels of the full display frame."""
    if x0 == 0 and sx == 1.0 and sy == 1.0:
        return poses
    scale = np.array([sx, sy], np.float32)
    shift = np.array([x0 * sx, 0.0], np.float32)
    return [(xy * scale + shift, conf) for xy, conf in poses]


def gap_seconds_within(gaps, start: float, end: float) -> float:
    """Seconds of timestamp gaps (``(time, missing)`` pairs) inside ``[start, end)``."""
    total = 0.0
    for at, missing in gaps:
        total += max(0.0, min(end, at + missing) - max(start, at))
    return total


class VideoProcessor:
    """Turns one local video (plus caption files) into QC'd, caption-aligned clips.

    >>> proc = VideoProcessor(ExtractConfig(fps=24))   # the model loads on the first video
    >>> proc(VideoRecord("missing", path="/nonexistent.mp4")).error
    '/nonexistent.mp4: file does not exist'
    """

    def __init__(self, config: ExtractConfig):
        self.config = config
        self._estimator = None

    def estimator(self):
        if self._estimator is None:
            from signverse.estimators import get_estimator
            self._estimator = get_estimator(self.config.backend, **self.config.backend_options)
        return self._estimator

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    def __call__(self, record: VideoRecord) -> VideoResult:
        t0 = time.perf_counter()
        try:
            result = self._process(record)
        except SignverseError as exc:
            result = VideoResult(record.video_id, error=_one_line(str(exc)))
        except Exception as exc:  # noqa: BLE001 - estimator/native errors must not kill the worker
            log.debug("video %s failed", record.video_id, exc_info=True)
            result = VideoResult(record.video_id, error=_one_line(f"{type(exc).__name__}: {exc}"))
        result.wall_s = time.perf_counter() - t0
        return result

    def _process(self, record: VideoRecord) -> VideoResult:
        import tempfile
        from signverse.video import DecodeStats
        cfg = self.config
        path = self._local_path(record)
        tracks, track, warnings = self._tracks(record)

        est = self.estimator()
        est.reset()
        stats = DecodeStats()
        decoder = _Decoder(path, cfg.fps, cfg.read_ahead, cfg.read_ahead_bytes, max_side=cfg.max_side,
                           max_hold=cfg.max_hold, stats=stats)
        # The decoder reports the video's rate and display size with its first frame (``stats``):
        # no separate probe pass that opens the file and decodes its first frame once more.
        with tempfile.TemporaryDirectory(prefix="signverse-pose-") as spill_dir:
            spill, features, times, infer = self._estimate(decoder, est, spill_dir, stats)
            if spill is None or not times:
                raise SignverseError(f"{path}: no video frame could be decoded")
            return self._assemble(record, spill, features, times, stats, fps=cfg.fps or stats.fps or 25.0,
                                  width=stats.width, height=stats.height, layout=est.layout,
                                  one_person=bool(getattr(est, "single_person", False)),
                                  tracks=tracks, track=track, warnings=warnings + stats.warnings,
                                  decode_s=decoder.seconds, infer_s=infer)

    @staticmethod
    def _local_path(record: VideoRecord) -> str:
        if not record.path:
            raise SignverseError(f"{record.video_id}: no local file (no path, and no url was fetched)")
        return str(record.path)

    def _tracks(self, record: VideoRecord) -> tuple[list[_Track], _Track | None, list[str]]:
        """The video's caption tracks, the one that defines clips, and one line per rejected cue."""
        warnings: list[str] = []
        tracks: list[_Track] = []
        for cap in record.captions:
            try:
                found, problems = read_caption_file(cap, record.video_id)
            except SignverseError as exc:
                raise SignverseError(f"unreadable captions: {exc}") from None
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise SignverseError(f"{cap}: unreadable captions ({exc})") from None
            warnings += problems
            for lang, segs in found.items():
                label = lang or f"track{len(tracks)}"
                if all(t.label != label for t in tracks):
                    tracks.append(_Track(label, lang or None, segs))
        return tracks, _pick_track(tracks, self.config.caption_language, record.video_id), warnings

    def _estimate(self, decoder: "_Decoder", est, spill_dir: str, display):
        """Run ``est`` over the frames ``decoder`` yields (it is started here and always finished):
        ``(spill or None, signer features per batch, frame times, inference seconds)``.
        ``display`` has the video's display ``width``/``height``, read at each batch: the decoder's
        ``DecodeStats`` (filled with the first frame) or a ``probe`` result. Also the body of one
        range of a split video (``signverse.pipeline.segments``)."""
        cfg = self.config
        one_person = bool(getattr(est, "single_person", False))
        spill = None
        features = []
        times = array("d")   # 8 bytes a frame (a list of floats costs 32)
        infer = 0.0
        decoder.start()
        load = getattr(est, "load", None)
        if load is not None:   # build the model while the decoder reads the first frames
            load()
        try:
            for batch in decoder.batches(cfg.batch_frames):
                width, height = display.width, display.height
                rgbs = [rgb for _, _, rgb in batch]
                h, w = rgbs[0].shape[:2]
                x0, x1 = _crop_box(w, cfg.signer) if one_person else (0, w)
                if (x0, x1) != (0, w):
                    # A one-person model follows whoever it finds: show it only that part.
                    rgbs = [rgb[:, x0:x1] for rgb in rgbs]
                t1 = time.perf_counter()
                poses = est(rgbs)
                infer += time.perf_counter() - t1
                poses = _to_display(poses, x0, width / w, height / h)
                if spill is None:
                    spill = PoseSpill(spill_dir, poses[0][0].shape[1], cfg.chunk_frames)
                spill.add(poses)
                features.append(self._features(poses, est.layout))
                times.extend(t for _, t, _ in batch)
        finally:
            decoder.finish()
        if spill is not None:
            spill.close()
        return spill, features, times, infer

    def _assemble(self, record: VideoRecord, spill, features, times, stats, *, fps: float, width: int,
                  height: int, layout: str, one_person: bool, tracks: list[_Track], track: _Track | None,
                  warnings: list[str], decode_s: float, infer_s: float) -> VideoResult:
        """Signer choice over the whole video, its pose, clips and QC: once per video, also for a
        video whose frames were estimated in ranges (``spill`` then joins the ranges' chunks)."""
        cfg = self.config
        n_frames = spill.n_frames
        choice = self._choose(features, width, height)
        del features
        signer, video_pose = self._signer_pose(spill, choice, fps, width, height, layout)
        persons = None if one_person else np.asarray(choice.persons_per_frame)
        # Frame times: k / fps unless frames were skipped (gaps) or kept at their own rate.
        times_arr = np.frombuffer(times, np.float64) if (cfg.fps is None or stats.gaps) else None
        video_end = (float(times[-1]) + 1.0 / fps) if times_arr is not None else n_frames / fps
        if track is not None and track.segments:
            spans = caption_spans(record.video_id, track.segments, n_frames=n_frames, fps=fps,
                                  min_frames=cfg.min_clip_frames, times=times_arr, video_end=video_end)
        else:
            spans = window_spans(record.video_id, n_frames=n_frames, fps=fps, window=cfg.window,
                                 min_frames=cfg.min_clip_frames, times=times_arr)
        result = VideoResult(record.video_id, n_frames=n_frames, fps=fps, width=width,
                             height=height, seconds=n_frames / fps, decode_s=decode_s,
                             infer_s=infer_s, captions={t.label: t.segments for t in tracks},
                             warnings=warnings)
        for span in spans:
            self._add_clip(result, record, span, signer, persons, track, stats.gaps)
        if cfg.keep_video_pose:
            result.video_pose = video_pose
        for warning in warnings:   # the run prints them once at the end and keeps them in the ledger
            log.info("%s: %s", record.video_id, warning)
        return result

    def _features(self, poses, layout: str):
        from signverse.estimators.base import stack_frames
        from signverse.pipeline.signer import SignerFeatures
        batch = stack_frames(poses, fps=1.0, width=1, height=1, layout=layout)
        return SignerFeatures.of(batch.xy, batch.conf, layout)

    def _choose(self, features, width: int, height: int):
        from signverse.pipeline.signer import SignerChoice, SignerConfig, SignerFeatures, choose_signer
        feats = SignerFeatures.concat(features)
        if self.config.select_signer:
            return choose_signer(feats, width=width, height=height,
                                 config=SignerConfig(prefer=self.config.signer))
        # No selection: the estimator's first person in every frame.
        persons = feats.present.sum(-1).astype(np.int64)
        return SignerChoice(np.zeros(feats.n_frames, np.int64), persons,
                            np.zeros(feats.present.shape, np.int64), {"tracks": 0})

    def _signer_pose(self, spill: PoseSpill, choice, fps: float, width: int, height: int,
                     layout: str) -> tuple[PoseSeq, PoseSeq | None]:
        """The signer's pose in the stored layout, read back chunk by chunk (hands fixed on the way);
        plus the whole multi-person pose when ``keep_video_pose``."""
        from signverse.pipeline.signer import HandFixer, gather_signer
        cfg = self.config
        fixer = HandFixer(layout) if cfg.select_signer else None
        pieces_xy, pieces_conf, whole = [], [], []
        for first, xy, conf in spill.chunks():
            sxy, sconf = gather_signer(xy, conf, choice.signer_index[first:first + len(xy)])
            if fixer is not None:
                fixed_xy, fixed_conf, _, _ = fixer(sxy[:, 0], sconf[:, 0])
                sxy[:, 0], sconf[:, 0] = fixed_xy, fixed_conf
            piece = PoseSeq(sxy, sconf, fps=fps, width=width, height=height, layout=layout)
            if cfg.layout != "native":
                # Signer selection used every native point; the corpus stores the requested layout.
                piece = convert(piece, cfg.layout)
            pieces_xy.append(piece.xy)
            pieces_conf.append(piece.conf)
            if cfg.keep_video_pose:
                whole.append((xy, conf))
        signer = piece.replace(xy=np.concatenate(pieces_xy), conf=np.concatenate(pieces_conf))
        video_pose = None
        if whole:
            people = max(x.shape[1] for x, _ in whole)
            n_points = whole[0][1].shape[2]
            all_xy = np.full((spill.n_frames, people, n_points, 2), np.nan, np.float32)
            all_conf = np.zeros((spill.n_frames, people, n_points), np.float32)
            at = 0
            for x, c in whole:
                all_xy[at:at + len(x), :x.shape[1]] = x
                all_conf[at:at + len(x), :x.shape[1]] = c
                at += len(x)
            video_pose = PoseSeq(all_xy, all_conf, fps=fps, width=width, height=height, layout=layout)
        if fixer is not None:
            choice.report["hand_swaps"] = fixer.swaps
        return signer, video_pose

    def _add_clip(self, result: VideoResult, record: VideoRecord, span: ClipSpan, signer: PoseSeq,
                  persons: np.ndarray | None, track: _Track | None, gaps) -> None:
        piece = signer.frames(span.first, span.stop)
        qc = clip_qc(piece, None if persons is None else persons[span.first:span.stop],
                     multi_person_known=persons is not None)
        if gaps:
            qc["gap_s"] = round(gap_seconds_within(gaps, span.start, span.end), 3)
        reason = self.config.qc_filter.reject_reason(qc, piece.n_frames)
        if reason is not None:
            result.rejected[span.clip_id] = reason
            return
        language = track.language if (track is not None and span.text is not None) else None
        result.clips.append(Clip(
            clip_id=span.clip_id, video_id=record.video_id, start=span.start, end=span.end,
            sign_language=record.sign_language, signer=record.signer, text=span.text,
            text_language=span.text_language or language,
            split=record.split, qc=qc, pose=piece))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


# -- process-global processor, so each worker process loads its model once ----------------------
_PROCESSOR: VideoProcessor | None = None


# What every worker imports to process its first video, whatever the backend (scipy.optimize is
# the signer tracker's assignment: ~0.6 s of CPU to import).
_WORKER_PRELOAD = ("signverse.pipeline.worker", "signverse.pipeline.signer", "signverse.video.decode",
                   "signverse.estimators.base", "scipy.optimize")


def worker_process_context(config: ExtractConfig):
    """The ``multiprocessing`` context local worker processes start from.

    Where the platform has it, a fork server: one clean process (no threads, no model, started
    from a fresh interpreter like ``spawn``) that imports the pipeline and the backend's heavy
    modules once (the estimator's ``preload_modules``, e.g. ``mediapipe``: ~1 s of CPU) and forks
    every worker from there, so workers start with those imports done instead of repeating them.
    Models are still built in each worker, never inherited. Elsewhere: ``spawn``.
    The server starts here, so its imports overlap with whatever the caller does next.
    """
    import multiprocessing
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    modules = list(_WORKER_PRELOAD)
    try:
        from signverse.estimators import _factory
        modules += list(getattr(_factory(config.backend), "preload_modules", ()))
    except SignverseError:   # an unknown backend fails later, in the worker, with its reason
        pass
    # Only the first call in a process decides what the server preloads (it then keeps running).
    ctx.set_forkserver_preload(modules)
    from multiprocessing import forkserver
    forkserver.ensure_running()
    return ctx


def init_worker(config: ExtractConfig, log_dir: str | None = None) -> None:
    """Process-pool initializer: build this process's processor (the model loads lazily).

    With ``log_dir``, the process's native stderr (MediaPipe/TFLite print several lines per graph)
    goes to ``<log_dir>/worker-<pid>.log`` so the terminal keeps a clean progress bar; failures
    still come back as results with their reason.
    """
    global _PROCESSOR
    if log_dir is not None:
        import os
        os.makedirs(log_dir, exist_ok=True)
        fd = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    _PROCESSOR = VideoProcessor(config)

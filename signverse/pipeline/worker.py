"""The per-video stages, run inside a worker: decode -> estimate -> select signer -> clips + QC.

A :class:`VideoProcessor` owns one estimator (one model instance per worker process or Ray
actor). Decoding runs in a thread that fills a bounded frame queue while the estimator works on
the previous batch, so decode and inference overlap (PyAV and MediaPipe both release the GIL).

Every failure becomes a :class:`VideoResult` with a one-line ``error`` instead of an exception,
so that results cross process boundaries safely and one bad file never stops the rest.
"""
from __future__ import annotations

import logging
import queue
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
from signverse.pipeline.align import ClipSpan, caption_spans, window_spans
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
    read_ahead: int = 64                     # decoded frames buffered ahead of inference
    keep_video_pose: bool = False            # also return the whole video's pose (release shards)
    select_signer: bool = True
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

    ``.vtt`` / ``.srt`` hold one track (language from ``<id>.<lang>.vtt``); the release's
    ``<id>.captions.json`` holds one per language.
    """
    from signverse.io import captions as cap
    path = Path(path)
    if path.name.endswith(".json"):
        return dict(cap.read_captions_json(path).segments)
    language = caption_language(path, video_id)
    return {language or "": cap.read_captions(path, language=language)}


def _pick_track(tracks: dict[str, list[Segment]], preferred: str | None) -> tuple[str | None, list[Segment]]:
    if not tracks:
        return None, []
    if preferred is not None:
        for lang, segs in tracks.items():
            if lang == preferred or (lang or "").split("-")[0] == preferred:
                return lang, segs
    return next(iter(tracks.items()))


class _Decoder(threading.Thread):
    """Decode into a bounded queue; errors travel through the queue to the consumer."""

    def __init__(self, path: str, fps: float | None, read_ahead: int):
        super().__init__(name="signverse-decode", daemon=True)
        self.path, self.fps = path, fps
        self.frames: queue.Queue = queue.Queue(maxsize=max(2, read_ahead))
        self.stop = threading.Event()
        self.seconds = 0.0

    def run(self) -> None:
        from signverse.video import decode
        t0 = time.perf_counter()
        try:
            for index, t, rgb in decode(self.path, self.fps):
                if self.stop.is_set():
                    break
                self.frames.put((index, t, rgb))
            self.frames.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self.frames.put(exc)
        finally:
            self.seconds = time.perf_counter() - t0

    def batches(self, size: int):
        while True:
            batch = []
            while len(batch) < size:
                item = self.frames.get()
                if item is _DONE:
                    if batch:
                        yield batch
                    return
                if isinstance(item, BaseException):
                    raise item
                batch.append(item)
            yield batch


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
        from signverse.estimators.base import stack_frames
        from signverse.video import probe
        cfg = self.config
        if not record.path:
            raise SignverseError(f"{record.video_id}: no local file (no path, and no url was fetched)")
        path = str(record.path)
        info = probe(path)
        tracks: dict[str, list[Segment]] = {}
        for cap in record.captions:
            try:
                found = read_captions(cap, record.video_id)
            except SignverseError as exc:
                raise SignverseError(f"unreadable captions: {exc}") from None
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise SignverseError(f"{cap}: unreadable captions ({exc})") from None
            for lang, segs in found.items():
                tracks.setdefault(lang or f"track{len(tracks)}", segs)

        est = self.estimator()
        est.reset()
        decoder = _Decoder(path, cfg.fps, cfg.read_ahead)
        decoder.start()
        frames, times = [], []
        width = height = 0
        infer = 0.0
        try:
            for batch in decoder.batches(cfg.batch_frames):
                rgbs = [rgb for _, _, rgb in batch]
                height, width = rgbs[0].shape[:2]
                t1 = time.perf_counter()
                frames.extend(est(rgbs))
                infer += time.perf_counter() - t1
                times.extend(t for _, t, _ in batch)
        finally:
            decoder.stop.set()
            # Unblock a decoder waiting on a full queue so the thread ends.
            while decoder.is_alive():
                try:
                    decoder.frames.get(timeout=0.05)
                except queue.Empty:
                    pass
        if not frames:
            raise SignverseError(f"{path}: no video frame could be decoded")
        fps = cfg.fps or info.fps or 25.0
        pose = stack_frames(frames, fps=fps, width=width, height=height, layout=est.layout)
        persons = np.array([xy.shape[0] for xy, _ in frames])
        if cfg.select_signer:
            from signverse.pipeline.signer import select_signer_pose
            signer, selection = select_signer_pose(pose)
            persons = np.asarray(selection.persons_per_frame)
        else:
            signer = pose.persons(0)
        if cfg.layout != "native":
            # Signer selection used every native point; the corpus stores the requested layout.
            signer = convert(signer, cfg.layout)
        times_arr = np.asarray(times, np.float64) if cfg.fps is None else None

        lang, segments = _pick_track(tracks, cfg.caption_language)
        if segments:
            spans = caption_spans(record.video_id, segments, n_frames=signer.n_frames, fps=fps,
                                  min_frames=cfg.min_clip_frames, times=times_arr)
        else:
            spans = window_spans(record.video_id, n_frames=signer.n_frames, fps=fps, window=cfg.window,
                                 min_frames=cfg.min_clip_frames, times=times_arr)
        result = VideoResult(record.video_id, n_frames=signer.n_frames, fps=fps, width=width,
                             height=height, seconds=signer.n_frames / fps, decode_s=decoder.seconds,
                             infer_s=infer, captions=tracks)
        for span in spans:
            self._add_clip(result, record, span, signer, persons, lang)
        if cfg.keep_video_pose:
            result.video_pose = pose
        return result

    def _add_clip(self, result: VideoResult, record: VideoRecord, span: ClipSpan, signer: PoseSeq,
                  persons: np.ndarray, lang: str | None) -> None:
        piece = signer.frames(span.first, span.stop)
        qc = clip_qc(piece, persons[span.first:span.stop])
        reason = self.config.qc_filter.reject_reason(qc, piece.n_frames)
        if reason is not None:
            result.rejected[span.clip_id] = reason
            return
        result.clips.append(Clip(
            clip_id=span.clip_id, video_id=record.video_id, start=span.start, end=span.end,
            sign_language=record.sign_language, signer=record.signer, text=span.text,
            text_language=span.text_language or (lang if span.text is not None else None),
            split=record.split, qc=qc, pose=piece))


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


# -- process-global processor, so each worker process loads its model once ----------------------
_PROCESSOR: VideoProcessor | None = None


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


def run_in_worker(record: VideoRecord) -> VideoResult:
    """Process-pool task function."""
    if _PROCESSOR is None:
        raise RuntimeError("init_worker was not called in this process")
    return _PROCESSOR(record)

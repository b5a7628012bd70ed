"""Probe and decode videos with PyAV: streaming, resampled to a fixed fps by timestamps, upright.

Design decisions (documented for the pipeline):

* Frames are decoded one at a time and converted to RGB only when they are emitted, so memory stays
  bounded (one decoded frame plus the last emitted one) whatever the video length. Nothing is
  written to disk.
* Resampling is by presentation time, not by frame counting: output frame ``k`` has time ``k / fps``
  (seconds from the first decoded frame) and shows the source frame that is on screen at that time,
  i.e. the last source frame whose timestamp is ``<= k / fps``. This is correct for variable frame
  rate input; a source frame may be repeated (upsampling) or skipped (downsampling). The last source
  frame stays on screen for its own duration (or one nominal frame period when unknown).
  Skipped frames are decoded (later frames reference them) but never converted to RGB, so at 24 fps
  from a 30 fps source one frame in five costs the decoder only and the pipeline's model never sees
  it. The on-screen frame rather than the nearest one keeps poses in step with what a player
  shows beside them (the viewer, overlays); it lags the output time by less than one source frame
  period (33 ms at 30 fps), while output times stay exactly ``k / fps``.
* Rotation metadata (the display matrix, which ffmpeg also builds from an old ``rotate`` tag) is
  applied, so frames come out as a player would show them; horizontal/vertical flips in the matrix
  are ignored (they do not occur in phone recordings).
* Files that cannot be opened, have no video stream or decode no frame at all raise ``InputError``
  naming the file. A file that breaks after some frames (truncated download, corrupt packet) yields
  the frames that decoded and then stops with a logged warning; pass ``strict=True`` to raise
  ``InputError`` instead. Fewer decoded frames than the container says it holds (a cut mp4 often
  ends without any decoder error) count as truncation too. Pass a :class:`DecodeStats` to learn
  what happened: the pipeline records its ``warnings`` with the video.
* Output is bounded by the frames the stream really holds, not by its timestamps: a source frame
  is repeated for at most ``max_hold`` seconds (default 1 s; raise it for slide-show-like videos
  whose pictures really stay longer). A longer jump between two timestamps is a *gap*: missing
  data, not a frozen picture. No frames are made up for it; the output frame indices (and times ``k / fps``) skip it, and
  ``DecodeStats.gaps`` records it. A one-hour jump in a 3-second file therefore yields ~3 s of
  frames, not 86,000.
* ``max_side`` scales frames down (keeping the aspect ratio) inside the decoder's converter
  before any full-size RGB array exists, so a 4K or 8K video costs no more memory per buffered
  frame than the model needs.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from signverse.core.errors import InputError, require

log = logging.getLogger(__name__)

# Source timestamps are rounded to the container's time base (1 ms in Matroska/WebM): a frame stamped
# up to half a tick after k / fps still belongs to output frame k.
_TIME_EPS = 1e-6
_DECODER_THREAD_BYTES = 128 << 20
_IMAGE_FORMATS = {"image2", "image2pipe", "webp_pipe", "png_pipe", "jpeg_pipe"}


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns about a video without decoding it.

    ``width``/``height`` are the DISPLAY size (after rotation), i.e. the size of the arrays that
    ``decode`` yields. ``fps`` is the container's average frame rate; ``n_frames`` is the
    container's frame count when stored, else ``duration * fps`` rounded (an estimate).
    ``rotation`` is the counter-clockwise angle in degrees (0, 90, 180, 270) that ``decode``
    applies to stored frames. ``codec`` is the decoder name (``h264``, ``vp9``...).
    """

    path: str
    width: int
    height: int
    fps: float
    n_frames: int
    duration: float
    rotation: int
    codec: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DecodeStats:
    """What one ``decode`` pass found, filled in while it runs (pass an instance to ``decode``).

    ``source_frames``: frames the decoder produced; ``expected_frames``: the container's frame
    count (0 when it does not store one); ``emitted``: frames ``decode`` yielded; ``gaps``:
    ``(time_s, missing_s)`` per timestamp jump longer than ``max_hold``; ``stopped``: the
    decoder error that ended decoding early, if any. ``fps`` (the container's average rate, 0 when
    unknown), ``width`` and ``height`` (the display size, as ``probe`` reports it) are set once
    the first frame is decoded, so a caller that decodes anyway needs no ``probe`` pass.
    """

    source_frames: int = 0
    expected_frames: int = 0
    emitted: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    stopped: str | None = None
    fps: float = 0.0
    width: int = 0
    height: int = 0

    @property
    def truncated(self) -> bool:
        """Decoding ended early: a decoder error, or clearly fewer frames than the container holds."""
        missing = self.expected_frames - self.source_frames
        return self.stopped is not None or missing > max(1, self.expected_frames // 100)

    @property
    def gap_seconds(self) -> float:
        return float(sum(missing for _, missing in self.gaps))

    @property
    def warnings(self) -> list[str]:
        """One-line descriptions of what is missing from the output (empty: nothing)."""
        out = []
        if self.truncated:
            what = (f"{self.source_frames} of {self.expected_frames} frames decodable"
                    if self.expected_frames else f"decoding stopped after {self.source_frames} frames")
            out.append(f"truncated or corrupt video: {what}"
                       + (f" ({self.stopped})" if self.stopped else "") + "; clips keep the decodable part")
        if self.gaps:
            first_at, first_len = self.gaps[0]
            out.append(f"{len(self.gaps)} timestamp gap(s), {self.gap_seconds:.1f} s without frames "
                       f"(first {first_len:.1f} s at {first_at:.2f} s); not filled")
        return out


def _open(path: str | Path):
    """Open ``path`` with PyAV and return (container, video stream) or raise ``InputError``."""
    av = require("av", "video")
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file does not exist")
    if path.is_dir():
        raise InputError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        container = av.open(os.fspath(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a readable video file ({exc.__class__.__name__}: {exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(path, "has no video stream")
    fmt = container.format.name or ""
    if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
        # ffmpeg opens still images (png_pipe, jpeg_pipe, image2) as one-frame "videos".
        container.close()
        raise InputError(path, f"is a still image ({fmt}), not a video")
    return container, container.streams.video[0]


def _normalise_rotation(ccw_degrees: float | int | None) -> int:
    if ccw_degrees is None or not np.isfinite(ccw_degrees):
        return 0
    return int(round(float(ccw_degrees) / 90.0)) % 4 * 90


def _stream_rotation(stream) -> int:
    """Counter-clockwise display rotation from stream metadata (legacy ``rotate`` tag is clockwise)."""
    tag = stream.metadata.get("rotate")
    if tag is not None:
        try:
            return _normalise_rotation(-float(tag))
        except ValueError:
            pass
    return 0


def _frame_rotation(frame, fallback: int) -> int:
    try:
        rot = frame.rotation
    except (AttributeError, ValueError):  # older PyAV, or no display matrix
        return fallback
    rot = _normalise_rotation(rot)
    return rot if rot or not fallback else fallback


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` shrunk so the longer side is at most ``max_side`` (even sizes, >= 2)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def _to_rgb(frame, rotation: int, max_side: int | None = None) -> np.ndarray:
    width, height = scaled_size(frame.width, frame.height, max_side)
    if (width, height) != (frame.width, frame.height):
        # swscale converts and shrinks in one step: no full-size RGB copy is ever made.
        rgb = frame.reformat(width=width, height=height, format="rgb24",
                             interpolation="AREA").to_ndarray()
    else:
        rgb = frame.to_ndarray(format="rgb24")
    if rotation:
        # np.rot90 with positive k turns counter-clockwise, the display-matrix convention.
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


def probe(path: str | Path) -> VideoInfo:
    """Read a video's size, frame rate, frame count (estimate), duration, rotation and codec.

    Decodes only the first frame (to read the display matrix). Raises ``InputError`` naming the file
    when it is missing, empty, not a video, or no frame decodes.

    >>> probe("missing.mp4")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    signverse.core.errors.InputError: missing.mp4: file does not exist
    """
    av = require("av", "video")
    container, stream = _open(path)
    try:
        rotation = _stream_rotation(stream)
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.FFmpegError as exc:
            raise InputError(path, f"cannot decode video ({exc})") from None
        if first is None:
            raise InputError(path, "no video frame could be decoded")
        rotation = _frame_rotation(first, rotation)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        else:
            duration = 0.0
        n_frames = int(stream.frames or 0)
        if n_frames <= 0 and fps > 0:
            n_frames = int(round(duration * fps))
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        return VideoInfo(str(path), int(width), int(height), fps, n_frames, duration, rotation, codec)
    finally:
        container.close()


def _frame_time(frame, stream) -> float | None:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    if frame.time is not None:
        return float(frame.time)
    return None


def _iter_source(path: str | Path, strict: bool, stats: DecodeStats, *, quiet: bool = False
                 ) -> Iterator[tuple[float, float | None, object, int, float]]:
    """Yield (time, duration, av frame, rotation, tick) per decoded source frame in display order.

    ``quiet``: the caller reads ``stats`` and reports problems itself (logged at debug level)."""
    warn = log.debug if quiet else log.warning
    av = require("av", "video")
    container, stream = _open(path)
    stats.expected_frames = max(0, int(stream.frames or 0))
    configure_threads(stream)
    rotation = _stream_rotation(stream)
    rate = stream.average_rate or stream.guessed_rate
    nominal = 1.0 / float(rate) if rate else None
    stats.fps = float(stream.average_rate or stream.guessed_rate or stream.base_rate or 0.0)
    n_ok = 0
    last_time = -np.inf
    try:
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.FFmpegError, OSError) as exc:
                if n_ok == 0 or strict:
                    raise InputError(path, f"corrupt or truncated video after {n_ok} frames ({exc})") \
                        from None
                warn("%s: decoding stopped after %d frames: %s", path, n_ok, exc)
                stats.stopped = " ".join(str(exc).split())[:200]
                break
            time = _frame_time(frame, stream)
            if time is None:  # no timestamps at all: count frames at the nominal rate
                time = n_ok * (nominal or 1 / 25)
            if time <= last_time:  # broken/duplicate stamps: keep order, nudge forward
                time = last_time + 1e-6
            last_time = time
            duration = None
            if frame.duration and frame.time_base is not None:
                duration = float(frame.duration * frame.time_base)
            tick = float(frame.time_base) if frame.time_base is not None else 0.0
            frame_rotation = _frame_rotation(frame, rotation)
            if n_ok == 0:
                turned = frame_rotation in (90, 270)
                stats.width, stats.height = ((frame.height, frame.width) if turned
                                             else (frame.width, frame.height))
            n_ok += 1
            stats.source_frames = n_ok
            yield time, duration or nominal, frame, frame_rotation, tick
    finally:
        container.close()
    if n_ok == 0:
        raise InputError(path, "no video frame could be decoded")
    if stats.truncated and stats.stopped is None:
        if strict:
            raise InputError(path, f"truncated video: {n_ok} of {stats.expected_frames} frames decodable")
        warn("%s: only %d of %d frames decodable (truncated file?)", path, n_ok,
                    stats.expected_frames)


def configure_threads(stream) -> None:
    """Frame threading: decode is the bottleneck, not memory ... except for huge frames: each frame
    thread holds its own frames (50 MB each at 8K), so their number is capped by a byte budget
    (8K: 2 threads, 4K and smaller: the default)."""
    stream.thread_type = "AUTO"
    coded = stream.codec_context
    frame_bytes = int((coded.width or 0) * (coded.height or 0) * 1.5)
    if frame_bytes:
        threads = max(1, _DECODER_THREAD_BYTES // frame_bytes)
        if threads < (os.cpu_count() or 1) + 1:
            stream.thread_count = threads


def decode(path: str | Path, fps: float | None = 24.0, *, strict: bool = False,
           max_side: int | None = None, max_hold: float = 1.0, stats: DecodeStats | None = None
           ) -> Iterator[tuple[int, float, np.ndarray]]:
    """Stream ``(frame_index, time_s, rgb)`` from a video, ``rgb`` an upright ``HxWx3`` uint8 array.

    ``fps=None`` yields every source frame at its own timestamp (``time_s`` from the first frame).
    Otherwise frame ``k`` is at ``time_s = k / fps`` and shows the source frame on screen at that
    time (see the module docstring); indices skip timestamp gaps longer than ``max_hold`` seconds,
    so they may jump. When upsampling, the same array object is yielded for repeats: copy it
    before changing it in place. ``max_side`` shrinks larger frames (aspect kept). ``stats``
    (a :class:`DecodeStats`) is filled in as decoding goes; a caller that passes one reports
    what it holds, so truncation is then logged at debug level only. This is a generator: ``InputError``
    for unusable files is raised when iteration starts (call ``probe`` first to fail early); a
    file that breaks mid-way stops early with a logged warning (``strict=True``: raises). Times
    count from the first decoded frame, which players also show at time 0.
    """
    if fps is not None and not (fps > 0 and np.isfinite(fps)):
        raise ValueError(f"fps must be positive or None, got {fps}")
    if not max_hold > 0:
        raise ValueError(f"max_hold must be positive, got {max_hold}")
    quiet = stats is not None   # a caller that asks for stats reports them itself
    stats = stats if stats is not None else DecodeStats()
    source = _iter_source(path, strict, stats, quiet=quiet)
    if fps is None:
        origin = previous = None
        for i, (time, dur, frame, rotation, _tick) in enumerate(source):
            origin = time if origin is None else origin
            if previous is not None and time - previous > max_hold:
                stats.gaps.append((previous - origin, time - previous))
            previous = time
            stats.emitted += 1
            yield i, time - origin, _to_rgb(frame, rotation, max_side)
        return

    origin = None
    k = 0
    held = None  # (relative time, duration, frame, rotation) of the frame on screen
    held_rgb: np.ndarray | None = None
    eps = _TIME_EPS

    def shown_until(held_time: float, next_time: float) -> float:
        """When the held frame leaves the screen; beyond that there is a gap. Not its stored
        duration: a muxer derives that from the next timestamp, gap included."""
        return min(next_time, held_time + max_hold)

    for time, duration, frame, rotation, tick in source:
        if origin is None:
            origin = time
            eps = max(_TIME_EPS, min(tick / 2, 0.25 / fps))  # rounding error <= half a tick
        rel = time - origin
        if held is not None:
            until = shown_until(held[0], rel)
            # Every output time before this frame's time shows the held frame (up to max_hold).
            while k / fps < until - eps:
                if held_rgb is None:
                    held_rgb = _to_rgb(held[2], held[3], max_side)
                stats.emitted += 1
                yield k, k / fps, held_rgb
                k += 1
            if until < rel:
                stats.gaps.append((until, rel - until))
                k = max(k, math.ceil((rel - eps) * fps))
        held, held_rgb = (rel, duration, frame, rotation), None
    if held is None:
        return
    end = shown_until(held[0], held[0] + (held[1] or 1.0 / fps))
    while k / fps < end - _TIME_EPS:
        if held_rgb is None:
            held_rgb = _to_rgb(held[2], held[3], max_side)
        stats.emitted += 1
        yield k, k / fps, held_rgb
        k += 1

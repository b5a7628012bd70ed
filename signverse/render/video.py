"""Video in and out through PyAV: background frames for overlays, MP4 encoding."""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from signverse.core.errors import InputError, require

log = logging.getLogger(__name__)
# Preferred encoders, best first; the first one this PyAV build has is used.
MP4_CODECS = ("libx264", "h264", "mpeg4")
# Video timestamps are rounded (e.g. 1001/30000 steps); this absorbs that when matching times.
_TIME_EPS = 1e-3


def _av():
    return require("av", "render")


def sample_video(path: str | Path, times: Iterable[float]) -> Iterator[np.ndarray]:
    """RGB frames shown at each of ``times`` (seconds from the first frame, ascending).

    Each time gets the last decoded frame that starts at or before it, so decoding a 30 fps video
    for a 24 fps pose resamples it the way a player would; after the end the last frame repeats.
    """
    av = _av()
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    try:
        container = av.open(str(path))
    except Exception as exc:   # PyAV raises its own FFmpeg error types
        raise InputError(path, f"not a readable video ({type(exc).__name__}: {exc})") from None
    with container:
        if not container.streams.video:
            raise InputError(path, "has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        decoded = _timed_frames(container, stream, rate, path)
        current, upcoming, start = None, None, None
        for t in times:
            while True:
                if upcoming is None:
                    upcoming = next(decoded, None)
                    if upcoming is None:
                        break
                    if start is None:
                        start = upcoming[0]
                if upcoming[0] - start <= t + _TIME_EPS or current is None:
                    current, upcoming = upcoming, None
                else:
                    break
            if current is None:
                raise InputError(path, "contains no decodable video frame")
            yield current[1]


def _timed_frames(container, stream, rate: float, path: Path) -> Iterator[tuple[float, np.ndarray]]:
    count = 0
    try:
        for frame in container.decode(stream):
            time = frame.time if frame.time is not None else count / rate
            count += 1
            yield float(time), frame.to_ndarray(format="rgb24")
    except _av().error.FFmpegError as exc:
        # A truncated or damaged video: keep what decoded (the last frame then repeats, as after
        # the end); a traceback mid-render would lose the whole output.
        log.warning("%s: truncated or corrupt video: decoding stopped after %d frames (%s); the "
                    "last decoded frame repeats", path, count, exc)


def video_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of the first video stream."""
    av = _av()
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.width), int(stream.codec_context.height)
    except (IndexError, OSError, av.error.FFmpegError) as exc:
        raise InputError(path, f"not a readable video ({type(exc).__name__}: {exc})") from None


def mp4_codec() -> str:
    """The first of ``MP4_CODECS`` this PyAV build can encode with."""
    av = _av()
    for name in MP4_CODECS:
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:   # listed but not an encoder in this build
                continue
    raise InputError(None, f"this PyAV build has none of the encoders {', '.join(MP4_CODECS)}")


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float) -> int:
    """Encode RGB frames to an MP4 (H.264 when available, else MPEG-4 part 2); returns the count.

    yuv420p needs even sizes, so an odd width/height gets one black pixel column/row.
    """
    av = _av()
    path = Path(path)
    from signverse.core.limits import check_fps
    check_fps(fps, path)   # 1e30 fps overflowed the encoder's rate (OverflowError traceback)
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = mp4_codec()
    count = 0
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    with av.open(str(tmp), "w") as container:
        stream = None
        for image in frames:
            h, w = image.shape[:2]
            if stream is None:
                stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(100000))
                stream.width, stream.height = w + w % 2, h + h % 2
                stream.pix_fmt = "yuv420p"
                if codec == "mpeg4":
                    stream.bit_rate = 8_000_000   # the default (~200 kb/s) smears thin lines
                else:
                    stream.options = {"crf": "18"}
            if (w + w % 2, h + h % 2) != (stream.width, stream.height):
                raise InputError(path, f"frame {count} is {w}x{h}, earlier frames were "
                                       f"{stream.width}x{stream.height}")
            if w % 2 or h % 2:
                image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    if count == 0:
        tmp.unlink(missing_ok=True)
        raise InputError(path, "nothing to write (no frames)")
    tmp.replace(path)
    log.info("wrote %s: %d frames, %s", path, count, codec)
    return count

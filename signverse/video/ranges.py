"""Decode one range of output frames ``[first, stop)`` of a video, exactly as ``decode`` yields them.

Long videos are split into frame ranges that different workers process (``signverse.pipeline.
segments``). For the joined ranges to equal one whole-video pass, a range must yield the very
frames ``decode(path, fps)`` yields for those indices, with the same times, pixels and gap records.
That holds because ``decode``'s resampling has no hidden state: output frame ``k`` (time ``k/fps``)
shows the last source frame stamped at or before ``k/fps`` (within half a time-base tick), held at
most ``max_hold`` seconds. So a range needs only the video's origin (the first frame's stamp), the
source frame on screen at ``first/fps`` and everything after it:

* the origin and the rounding tolerance come from the first decoded frame;
* the container seeks backward to a keyframe before ``first/fps``; frames decoded before the first
  keyframe, and "leading" frames stamped before it (open GOPs reference the previous GOP), are
  discarded unconverted; if the keyframe found is too late, the seek goes further back (at worst
  to the start);
* from there the same resampling runs, converting to RGB only frames with an index in the range,
  and stops at the first frame past ``stop``.

Every source frame belongs to exactly one range (the one whose time span holds its stamp), so
``RangeStats.source_frames`` summed over ranges is the whole video's decoded-frame count; a timestamp
gap belongs to the range holding its first missing index.

Videos whose stamps cannot be trusted after a seek (frames without timestamps, or stamps that go
backwards, which ``decode`` repairs by counting from the start) raise :class:`RangeUnsupported`: the
caller then processes the video in one piece.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from signverse.core.errors import InputError, SignverseError, require
from signverse.video.decode import (_TIME_EPS, configure_threads, _frame_rotation, _frame_time, _open,
                                    _stream_rotation, _to_rgb)


class RangeUnsupported(SignverseError):
    """This video cannot be decoded by ranges (no or non-monotonic timestamps); decode it whole."""


@dataclass
class RangeStats:
    """What decoding one range found (the range's share of ``DecodeStats``).

    ``source_frames``: source frames this range owns; ``expected_frames``: the container's frame
    count (whole video); ``emitted``: frames yielded; ``gaps``: ``(time_s, missing_s)`` gaps that
    start inside the range; ``stopped``: the decoder error that ended decoding early; ``reached_stop``:
    the range was decoded up to ``stop`` (False: the video ended, or broke, before it).
    """

    source_frames: int = 0
    expected_frames: int = 0
    emitted: int = 0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    stopped: str | None = None
    reached_stop: bool = False
    seek_discarded: int = 0   # frames dropped after a seek before its keyframe (not resampled)
    lead_in: int = 0          # source frames decoded before the range's first frame (not converted)


def _stamped(frame, stream, path) -> float:
    time = _frame_time(frame, stream)
    if time is None:
        raise RangeUnsupported(f"{path}: frames without timestamps cannot be decoded by ranges")
    return time


def _first_index(rel: float, fps: float, eps: float) -> int:
    """The first output index at or after ``rel`` (``decode``'s ``ceil((rel - eps) * fps)``)."""
    return max(0, math.ceil((rel - eps) * fps))


def decode_range(path: str | Path, fps: float, first: int, stop: int | None = None, *,
                 max_side: int | None = None, max_hold: float = 1.0, stats: RangeStats | None = None,
                 max_seek_tries: int = 4) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(k, k / fps, rgb)`` for output frames ``first <= k < stop`` (``stop=None``: to the end),
    identical to what ``decode(path, fps, max_side=..., max_hold=...)`` yields for those ``k``.

    Raises ``InputError`` for unusable files, :class:`RangeUnsupported` for videos without reliable
    timestamps. A decoder error inside the range ends it early (``stats.stopped``), like ``decode``.
    """
    if not (fps and fps > 0 and np.isfinite(fps)):
        raise ValueError(f"fps must be positive, got {fps}")
    if first < 0 or (stop is not None and stop < first):
        raise ValueError(f"bad frame range [{first}, {stop})")
    stats = stats if stats is not None else RangeStats()
    av = require("av", "video")
    container, stream = _open(path)
    try:
        stats.expected_frames = max(0, int(stream.frames or 0))
        configure_threads(stream)
        fallback_rotation = _stream_rotation(stream)
        rate = stream.average_rate or stream.guessed_rate
        nominal = 1.0 / float(rate) if rate else None
        try:
            head = next(iter(container.decode(stream)), None)
        except (av.FFmpegError, OSError) as exc:
            raise InputError(path, f"corrupt or truncated video after 0 frames ({exc})") from None
        if head is None:
            raise InputError(path, "no video frame could be decoded")
        origin = _stamped(head, stream, path)
        tick = float(head.time_base) if head.time_base is not None else 0.0
        eps = max(_TIME_EPS, min(tick / 2, 0.25 / fps))
        target = first / fps   # the frame on screen then is the last one stamped <= target + eps
        back = 0.0
        for attempt in range(max_seek_tries + 1):
            from_start = first == 0 or target - back <= 0 or attempt == max_seek_tries
            if from_start:
                container.seek(0, backward=True, any_frame=False, stream=stream)
            else:
                container.seek(int((origin + target - back) / stream.time_base), backward=True,
                               any_frame=False, stream=stream)
            # From the start every frame counts (as in ``decode``); after a seek, from a keyframe.
            source = _source_frames(container, stream, path, origin, stats, av, need_key=not from_start)
            start = next(source, None)
            if start is None:
                return
            if from_start or start[0] <= target + eps:
                break
            source.close()
            back = max(2.0, 2 * back)   # the keyframe found was too late: look further back
        yield from _resample(_chain(start, source), fps, first, stop, eps, max_side, max_hold, nominal,
                             fallback_rotation, stats)
    finally:
        container.close()


def _chain(head, rest):
    yield head
    yield from rest


def _source_frames(container, stream, path, origin: float, stats: RangeStats, av, *, need_key: bool):
    """``(rel time, duration, frame)`` per decoded frame; with ``need_key`` (after a seek) from the
    first keyframe on, leading frames dropped."""
    key_rel = None if need_key else -np.inf
    last = -np.inf
    n_ok = 0
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (av.FFmpegError, OSError) as exc:
            if n_ok == 0 and key_rel is None:
                raise InputError(path, f"corrupt or truncated video after seeking ({exc})") from None
            stats.stopped = " ".join(str(exc).split())[:200]
            return
        rel = _stamped(frame, stream, path) - origin
        if key_rel is None:
            if not frame.key_frame:
                stats.seek_discarded += 1
                continue
            key_rel = rel
        if rel < key_rel:   # a leading frame of an open GOP: its references were not decoded
            stats.seek_discarded += 1
            continue
        if rel <= last:
            raise RangeUnsupported(f"{path}: timestamps go backwards; this video cannot be decoded by ranges")
        last = rel
        duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else None
        n_ok += 1
        yield rel, duration, frame


def _resample(source, fps: float, first: int, stop: int | None, eps: float, max_side: int | None,
              max_hold: float, nominal: float | None, fallback_rotation: int, stats: RangeStats):
    """``decode``'s fixed-rate resampling restricted to ``[first, stop)`` (see the module docstring)."""
    end_k = math.inf if stop is None else stop
    held = None          # (rel, duration, frame)
    held_rgb = None
    k = None

    def emit(k_: int):
        nonlocal held_rgb
        if held_rgb is None:
            held_rgb = _to_rgb(held[2], _frame_rotation(held[2], fallback_rotation), max_side)
        stats.emitted += 1
        return k_, k_ / fps, held_rgb

    def hold_until(until: float, tolerance: float):
        """Yield the held frame for every output index before ``until`` (only those inside the
        range); returns True when the range's end was reached on the way."""
        nonlocal k
        while k / fps < until - tolerance:
            if k >= end_k:
                stats.reached_stop = True
                return True
            if k >= first:
                yield emit(k)
            k += 1
        return False

    # A source frame belongs to the range whose span of time holds its stamp; the boundary is the
    # same expression in both neighbours, so every frame is counted once (frames that are never on
    # screen when downsampling included).
    owned_from = -math.inf if first == 0 else first / fps + eps
    owned_to = math.inf if stop is None else stop / fps + eps

    for rel, duration, frame in source:
        if k is None:
            k = min(first, _first_index(rel, fps, eps))
        if held is not None:
            until = min(rel, held[0] + max_hold)
            if (yield from hold_until(until, eps)):
                return
            if until < rel:
                if first <= k < end_k:
                    stats.gaps.append((until, rel - until))
                k = max(k, _first_index(rel, fps, eps))
        if rel > owned_to:   # this frame and all later ones belong to the next ranges
            stats.reached_stop = True
            return
        if rel > owned_from:
            stats.source_frames += 1
        else:
            stats.lead_in += 1
        held, held_rgb = (rel, duration or nominal, frame), None
    if held is None:
        return
    end = min(held[0] + (held[1] or 1.0 / fps), held[0] + max_hold)
    if (yield from hold_until(end, _TIME_EPS)):
        return
    stats.reached_stop = stop is None

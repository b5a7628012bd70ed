"""Caption cues -> clip spans at frame precision.

Frame ``k`` of a video decoded at ``fps`` is at time ``k / fps``; a clip covering ``[start, end)``
holds the frames whose time lies in that interval. Clip ids are ``<video_id>-<4-digit index>`` where
the index is the cue's position in the caption track, so they never change between runs.

>>> from signverse.core import Segment
>>> spans = caption_spans("v", [Segment(0.5, 1.0, "hi", "en")], n_frames=48, fps=24)
>>> [(s.clip_id, s.first, s.stop, s.text) for s in spans]
[('v-0000', 12, 24, 'hi')]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.records import Segment

# Caption times are written with millisecond precision, so anything closer than this to a frame
# boundary is that boundary (0.1 * 30 is 3.0000000000000004 in floating point, not "after frame 3").
_EPS = 1e-6


@dataclass(frozen=True)
class ClipSpan:
    """Frames ``first:stop`` of a video that make one clip, with the cue that defined it."""

    clip_id: str
    index: int
    first: int
    stop: int
    start: float
    end: float
    text: str | None = None
    text_language: str | None = None

    @property
    def n_frames(self) -> int:
        return self.stop - self.first


def clip_id(video_id: str, index: int) -> str:
    """The deterministic id of cue ``index`` of ``video_id``."""
    return f"{video_id}-{index:04d}"


def frame_range(start: float, end: float, fps: float, n_frames: int,
                times: np.ndarray | None = None) -> tuple[int, int]:
    """Frames ``[first, stop)`` whose time ``k / fps`` lies in ``[start, end)``, within the video.

    ``times`` (seconds per frame, increasing) replaces ``k / fps`` for videos kept at their native,
    possibly variable, frame rate.
    """
    if times is not None:
        times = np.asarray(times, np.float64)[:n_frames]
        first = int(np.searchsorted(times, start - _EPS, side="left"))
        stop = int(np.searchsorted(times, end - _EPS, side="left"))
        return first, max(first, stop)
    if fps <= 0:
        raise SignverseError(f"fps must be positive, got {fps}")
    first = min(n_frames, max(0, math.ceil(start * fps - _EPS)))
    stop = min(n_frames, max(0, math.ceil(end * fps - _EPS)))
    return first, max(first, stop)


def caption_spans(video_id: str, segments: Sequence[Segment], *, n_frames: int, fps: float,
                  min_frames: int = 1, times: np.ndarray | None = None,
                  video_end: float | None = None) -> list[ClipSpan]:
    """One span per cue that covers at least ``min_frames`` frames (cues past the end are dropped).

    A cue that runs past the last frame ends where the frames end (``video_end``, default
    ``n_frames / fps``) and one that starts before the video starts at 0: a clip's
    ``end - start`` is never longer than the video it came from.
    Cues whose times are not finite numbers are skipped.
    """
    if video_end is None:
        video_end = (float(times[n_frames - 1]) + 1.0 / fps) if times is not None and n_frames \
            else n_frames / fps
    spans = []
    for i, seg in enumerate(segments):
        if not (math.isfinite(seg.start) and math.isfinite(seg.end)):
            continue
        first, stop = frame_range(seg.start, seg.end, fps, n_frames, times)
        if stop - first < max(1, min_frames):
            continue
        end = min(float(seg.end), round(video_end, 6))
        start = max(float(seg.start), 0.0)   # a cue from -5 s must not claim 5 s before the video
        spans.append(ClipSpan(clip_id(video_id, i), i, first, stop, start, end,
                              seg.text, seg.language))
    return spans


def window_spans(video_id: str, *, n_frames: int, fps: float, window: float | None = None,
                 min_frames: int = 1, times: np.ndarray | None = None) -> list[ClipSpan]:
    """Spans for a video without captions: the whole video, or fixed windows of ``window`` seconds."""
    if n_frames <= 0:
        return []
    if not window:
        end = n_frames / fps if times is None else float(times[n_frames - 1]) + 1.0 / fps
        return [ClipSpan(clip_id(video_id, 0), 0, 0, n_frames, 0.0, end)]
    spans = []
    i = 0
    while True:
        start, end = i * window, (i + 1) * window
        first, stop = frame_range(start, end, fps, n_frames, times)
        if first >= n_frames:
            break
        if times is not None and times[first] >= end + _EPS:
            # A timestamp gap: jump to the window of the next frame (a hostile file may claim a
            # gap of years; stepping through every empty window would take that long).
            i = max(i + 1, int(math.floor(times[first] / window)))
            continue
        if stop - first >= max(1, min_frames):
            last = n_frames / fps if times is None else float(times[stop - 1]) + 1.0 / fps
            spans.append(ClipSpan(clip_id(video_id, i), i, first, stop, start, min(end, last)))
        i += 1
    return spans

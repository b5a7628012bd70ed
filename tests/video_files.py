"""Writing test videos with PyAV: RGB frames at exact timestamps (so a test knows what decode sees)."""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable

import numpy as np


def encode_frames(out, stream, frames: Iterable[tuple[np.ndarray, float]], time_base: Fraction) -> None:
    """Encode ``(rgb image, time in seconds)`` pairs into ``stream`` of the open container ``out``,
    each at its own pts, then flush the encoder."""
    import av
    for rgb, t in frames:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = int(round(t / time_base))
        frame.time_base = time_base
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)

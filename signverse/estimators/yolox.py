"""YOLOX person detection around an ONNX model: letterbox, grid decoding, score threshold, NMS.

Model contract (the ``yolox_l.onnx`` that DWPose ships): one input ``[1, 3, S, S]`` float32 (S = 640),
pixel values 0..255 in BGR channel order (YOLOX is trained on OpenCV-loaded images), no mean/std;
the image is resized keeping its aspect ratio into the top-left corner of an SxS canvas filled with
114. Two output forms are understood:

* raw head output ``[1, N, 5 + C]`` with N = sum over strides 8/16/32 of (S/stride)^2 (8400 for 640):
  per anchor ``(dx, dy, log w, log h, objectness, class scores...)``, objectness and class scores
  already sigmoid-ed (YOLOX's export), decoded here as ``cx = (dx + gx) * stride``,
  ``w = exp(log w) * stride``; score = objectness * class score;
* already-decoded boxes ``[1, M, 6]`` or ``[M, 6]``: ``(x1, y1, x2, y2, score, class)`` in letterbox
  pixels (end-to-end exports with NMS inside); these are only thresholded and filtered by class.

Boxes come back in original image pixels as ``[n, 5]`` = ``(x1, y1, x2, y2, score)``, best first.
"""
from __future__ import annotations

import numpy as np

STRIDES = (8, 16, 32)
PAD_VALUE = 114


def letterbox(rgb: np.ndarray, size: int = 640, *, bgr: bool = True) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a ``size``x``size`` canvas of 114.

    Returns the ``[3, size, size]`` float32 tensor and the scale ``ratio`` (letterbox = image * ratio).
    """
    import cv2
    height, width = rgb.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = max(1, int(width * ratio)), max(1, int(height * ratio))
    image = rgb[:, :, ::-1] if bgr else rgb
    resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:new_h, :new_w] = resized
    return np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32), ratio


def grids(size: int, strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Anchor cell offsets ``[N, 2]`` (gx, gy) and strides ``[N, 1]`` in the order YOLOX emits them."""
    cells, steps = [], []
    for stride in strides:
        n = size // stride
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], 1))
        steps.append(np.full((n * n, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(steps).astype(np.float32)


def decode_raw(raw: np.ndarray, size: int) -> np.ndarray:
    """Raw ``[N, 5 + C]`` head output -> ``[N, 5 + C]`` with boxes as (cx, cy, w, h) in letterbox pixels."""
    cells, steps = grids(size)
    if raw.shape[0] != cells.shape[0]:
        raise ValueError(f"raw YOLOX output has {raw.shape[0]} anchors, expected {cells.shape[0]} "
                         f"for input size {size}")
    out = raw.astype(np.float32, copy=True)
    out[:, :2] = (out[:, :2] + cells) * steps
    out[:, 2:4] = np.exp(np.minimum(out[:, 2:4], 20.0)) * steps   # clip: exp overflow on garbage
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first."""
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def postprocess(output: np.ndarray, ratio: float, size: int, *, score_threshold: float = 0.3,
                iou_threshold: float = 0.45, class_id: int = 0, image_shape: tuple[int, int] | None = None
                ) -> np.ndarray:
    """Model output for one image -> person boxes ``[n, 5]`` (x1, y1, x2, y2, score) in image pixels."""
    out = np.asarray(output, np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"unexpected detector output shape {np.shape(output)}")
    if out.shape[1] == 6 and out.shape[0] != grids(size)[0].shape[0]:
        boxes, scores, classes = out[:, :4], out[:, 4], out[:, 5].round().astype(int)
        keep = (classes == class_id) & (scores >= score_threshold)
        boxes, scores = boxes[keep], scores[keep]
    else:
        dec = decode_raw(out, size)
        if class_id + 5 >= dec.shape[1]:
            raise ValueError(f"detector output has {dec.shape[1] - 5} classes, no class {class_id}")
        scores = dec[:, 4] * dec[:, 5 + class_id]
        keep = scores >= score_threshold
        cxcywh, scores = dec[keep, :4], scores[keep]
        boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
    if boxes.shape[0] == 0:
        return np.zeros((0, 5), np.float32)
    kept = nms(boxes, scores, iou_threshold)
    boxes = boxes[kept] / ratio
    if image_shape is not None:
        height, width = image_shape
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return np.concatenate([boxes, scores[kept, None]], 1).astype(np.float32)

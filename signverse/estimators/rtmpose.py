"""Top-down RTMPose/DWPose pre- and post-processing around an ONNX whole-body model with SimCC heads.

Model contract (``dw-ll_ucoco_384.onnx``): input ``[N, 3, 384, 288]`` float32 (height 384, width 288),
RGB, ``(pixel - mean) / std`` with ImageNet mean ``[123.675, 116.28, 103.53]`` and std
``[58.395, 57.12, 57.375]``; outputs ``simcc_x [N, K, 288 * 2]`` and ``simcc_y [N, K, 384 * 2]``
(SimCC split ratio 2: bin ``b`` is input pixel ``b / 2``), K = 133 (COCO-WholeBody).

Crop: each person box is padded by 1.25, its aspect made 288:384 by growing the short side, and the
region is warped to the model input with one affine transform (no rotation). Keypoints are the argmax
bins of x and y, divided by the split ratio and mapped back through the inverse affine. The score of a
keypoint combines the two maxima: ``"min"`` (default; what MMPose's ``get_simcc_maximum`` and DWPose
use), or ``"max"`` / ``"mean"``.
"""
from __future__ import annotations

import numpy as np

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
INPUT_SIZE = (288, 384)     # (width, height)
SPLIT_RATIO = 2.0
BBOX_PADDING = 1.25


def box_to_center_scale(box: np.ndarray, padding: float = BBOX_PADDING,
                        input_size: tuple[int, int] = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(x1, y1, x2, y2)`` -> center ``[2]`` and region size ``[2]`` (w, h) padded, aspect fixed."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float64)
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    aspect = input_size[0] / input_size[1]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], np.float64)


def crop_matrix(center: np.ndarray, scale: np.ndarray,
                input_size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """2x3 affine taking image pixels to model-input pixels: the region's center to the input's."""
    s = input_size[0] / scale[0]   # == input_size[1] / scale[1] after the aspect fix
    return np.array([[s, 0.0, input_size[0] / 2 - s * center[0]],
                     [0.0, s, input_size[1] / 2 - s * center[1]]], np.float64)


def crop(rgb: np.ndarray, boxes: np.ndarray, *, padding: float = BBOX_PADDING,
         input_size: tuple[int, int] = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Person crops ``[n, 3, H, W]`` float32 (normalised) and their affines ``[n, 2, 3]``."""
    import cv2
    n = len(boxes)
    tensor = np.empty((n, 3, input_size[1], input_size[0]), np.float32)
    mats = np.empty((n, 2, 3), np.float64)
    for i, box in enumerate(boxes):
        center, scale = box_to_center_scale(np.asarray(box), padding, input_size)
        mats[i] = crop_matrix(center, scale, input_size)
        patch = cv2.warpAffine(rgb, mats[i], input_size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        tensor[i] = ((patch.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)
    return tensor, mats


def simcc_decode(simcc_x: np.ndarray, simcc_y: np.ndarray, *, split_ratio: float = SPLIT_RATIO,
                 score: str = "min") -> tuple[np.ndarray, np.ndarray]:
    """``[n, K, Wx]``, ``[n, K, Wy]`` -> locations ``[n, K, 2]`` in model-input pixels, scores ``[n, K]``."""
    ix = simcc_x.argmax(-1)
    iy = simcc_y.argmax(-1)
    vx = np.take_along_axis(simcc_x, ix[..., None], -1)[..., 0]
    vy = np.take_along_axis(simcc_y, iy[..., None], -1)[..., 0]
    if score == "min":
        vals = np.minimum(vx, vy)
    elif score == "max":
        vals = np.maximum(vx, vy)
    elif score == "mean":
        vals = (vx + vy) / 2
    else:
        raise ValueError(f"score must be min, max or mean, got {score!r}")
    locs = np.stack([ix, iy], -1).astype(np.float64) / split_ratio
    return locs, vals.astype(np.float32)


def to_image(locs: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """Model-input pixels ``[n, K, 2]`` -> image pixels through the inverse of each crop affine."""
    out = np.empty_like(locs, dtype=np.float64)
    for i, m in enumerate(mats):
        a, t = m[:, :2], m[:, 2]
        out[i] = (locs[i] - t) @ np.linalg.inv(a).T
    return out

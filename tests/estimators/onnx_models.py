"""Tiny ONNX models with DWPose's input/output names and shapes, built so the right answer is known."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def _save(graph, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=OPSET)
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def anchor_index(stride: int, gx: int, gy: int, size: int = 640) -> int:
    """Row of YOLOX's raw output for grid cell (gx, gy) of ``stride``."""
    offset = 0
    for s in (8, 16, 32):
        n = size // s
        if s == stride:
            return offset + gy * n + gx
        offset += n * n
    raise ValueError(stride)


def encode_box(raw: np.ndarray, stride: int, box_xyxy, obj: float, cls: list[float]) -> None:
    """Write the raw YOLOX prediction of a letterbox-pixel box into the anchor holding its center."""
    x1, y1, x2, y2 = box_xyxy
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    gx, gy = int(cx // stride), int(cy // stride)
    row = anchor_index(stride, gx, gy)
    raw[0, row, :4] = [cx / stride - gx, cy / stride - gy, np.log(w / stride), np.log(h / stride)]
    raw[0, row, 4] = obj
    raw[0, row, 5:5 + len(cls)] = cls


def constant_detector(path: Path, raw: np.ndarray) -> Path:
    """``images [1,3,640,640]`` -> ``output [1,8400,85]`` = ``raw`` (+ 0 * mean(images))."""
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, list(raw.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["raw", "z"], ["output"]),
    ]
    inits = [numpy_helper.from_array(raw.astype(np.float32), "raw"),
             numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    return _save(helper.make_graph(nodes, "det", [images], [output], inits), path)


def constant_pose(path: Path, simcc_x: np.ndarray, simcc_y: np.ndarray) -> Path:
    """``input [N,3,384,288]`` -> the given ``[1,K,576]``/``[1,K,768]`` maps repeated for each crop."""
    k = simcc_x.shape[1]
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 384, 288])
    outs = [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, ["N", k, 576]),
            helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, ["N", k, 768])]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m4"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Squeeze", ["m4", "ax3"], ["m3"]),          # [N, 1, 1]
        helper.make_node("Mul", ["m3", "zero"], ["z"]),
        helper.make_node("Add", ["cx", "z"], ["simcc_x"]),
        helper.make_node("Add", ["cy", "z"], ["simcc_y"]),
    ]
    inits = [numpy_helper.from_array(simcc_x.astype(np.float32), "cx"),
             numpy_helper.from_array(simcc_y.astype(np.float32), "cy"),
             numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
             numpy_helper.from_array(np.array([3], np.int64), "ax3")]
    return _save(helper.make_graph(nodes, "pose_const", [inp], outs, inits), path)


def dot_pose(path: Path, k: int = 133, batch: int | str = "N") -> Path:
    """A 'pose model' that puts every keypoint on the brightest column/row of the crop.

    simcc_x[n, k, 2c] = simcc_x[n, k, 2c+1] = sum of crop column c (rows likewise), so the decoded
    keypoint is the crop pixel of a single bright dot: it tests crop, affine and inverse affine.
    """
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 384, 288])
    outs = [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [batch, k, 576]),
            helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [batch, k, 768])]
    nodes = [helper.make_node("ReduceSum", ["input", "ax1"], ["gray"], keepdims=0)]  # [N,384,288]
    for name, axis, n in (("x", 1, 288), ("y", 2, 384)):
        nodes += [
            helper.make_node("ReduceSum", ["gray", f"ax{axis}"], [f"p{name}"], keepdims=1),
            helper.make_node("Reshape", [f"p{name}", f"s{name}"], [f"q{name}"]),       # [N,n,1]
            helper.make_node("Concat", [f"q{name}", f"q{name}"], [f"d{name}"], axis=2),  # [N,n,2]
            helper.make_node("Reshape", [f"d{name}", f"r{name}"], [f"e{name}"]),        # [N,1,2n]
            helper.make_node("Add", [f"e{name}", "bias"], [f"b{name}"]),   # positive scores
            helper.make_node("Expand", [f"b{name}", "kshape"], [f"simcc_{name}"]),     # [N,k,2n]
        ]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "ax1"),
             numpy_helper.from_array(np.array([2], np.int64), "ax2"),
             numpy_helper.from_array(np.array([-1, 288, 1], np.int64), "sx"),
             numpy_helper.from_array(np.array([-1, 384, 1], np.int64), "sy"),
             numpy_helper.from_array(np.array([-1, 1, 576], np.int64), "rx"),
             numpy_helper.from_array(np.array([-1, 1, 768], np.int64), "ry"),
             numpy_helper.from_array(np.array([1, k, 1], np.int64), "kshape"),
             numpy_helper.from_array(np.array([5000.0], np.float32), "bias")]
    return _save(helper.make_graph(nodes, "pose_dot", [inp], outs, inits), path)

"""DWPose backend on tiny ONNX models whose correct output is known (real weights are not available)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

sys.path.insert(0, str(Path(__file__).parent))
from onnx_models import constant_detector, constant_pose, dot_pose, encode_box  # noqa: E402

from signverse.core.errors import SignverseError  # noqa: E402
from signverse.estimators import get_estimator, rtmpose, yolox  # noqa: E402
from signverse.estimators.weights import (ENV_DET, ENV_DIR, ENV_POSE, hf_url,  # noqa: E402
                                          resolve_dwpose_weights)

W, H = 1280, 720          # letterbox ratio 0.5
PERSON_A = (100.0, 46.4, 200.0, 353.6)    # crop scale exactly 1: 307.2 * 1.25 = 384
PERSON_B = (950.0, 323.2, 1050.0, 476.8)  # crop scale exactly 2


def lb(box):
    return [v * 0.5 for v in box]


def raw_detections() -> np.ndarray:
    raw = np.zeros((1, 8400, 85), np.float32)
    raw[0, :, 2:4] = -5.0                       # tiny boxes with zero score everywhere else
    encode_box(raw, 8, lb(PERSON_A), 0.9, [0.95])
    dup = lb(PERSON_A)
    encode_box(raw, 16, [dup[0] + 1, dup[1], dup[2] + 1, dup[3] + 2], 0.9, [0.8])   # duplicate of A
    encode_box(raw, 16, lb(PERSON_B), 0.9, [0.7])
    encode_box(raw, 32, [300, 300, 500, 600], 0.99, [0.01, 0.99])     # a confident non-person
    encode_box(raw, 32, [20, 400, 100, 600], 0.9, [0.2])             # a person below the threshold
    return raw


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    det = constant_detector(folder / "yolox_l.onnx", raw_detections())
    dot = dot_pose(folder / "dot.onnx")
    dot1 = dot_pose(folder / "dot_b1.onnx", batch=1)
    return {"det": det, "dot": dot, "dot1": dot1, "folder": folder}


def dotted_image() -> tuple[np.ndarray, tuple, tuple]:
    img = np.zeros((H, W, 3), np.uint8)
    a, b = (163, 251), (1010, 420)
    img[a[1], a[0]] = 255
    img[b[1], b[0]] = 255
    return img, a, b


def test_letterbox_layout():
    rgb = np.zeros((100, 200, 3), np.uint8)
    rgb[..., 0] = 200                               # red
    tensor, ratio = yolox.letterbox(rgb, 640)
    assert ratio == 3.2 and tensor.shape == (3, 640, 640) and tensor.dtype == np.float32
    assert tensor[2, 0, 0] == 200 and tensor[0, 0, 0] == 0      # BGR: red is the last channel
    assert (tensor[:, 320:, :] == 114).all() and (tensor[:, :319, :] != 114).any()
    rgb_tensor, _ = yolox.letterbox(rgb, 640, bgr=False)
    assert rgb_tensor[0, 0, 0] == 200


def test_yolox_decode_threshold_nms_and_class_filter():
    boxes = yolox.postprocess(raw_detections(), 0.5, 640, score_threshold=0.3, iou_threshold=0.45)
    assert boxes.shape == (2, 5)                   # duplicate suppressed, non-person and weak dropped
    np.testing.assert_allclose(boxes[0, :4], PERSON_A, atol=1e-3)
    np.testing.assert_allclose(boxes[1, :4], PERSON_B, atol=1e-3)
    np.testing.assert_allclose(boxes[:, 4], [0.9 * 0.95, 0.9 * 0.7], rtol=1e-6)
    loose = yolox.postprocess(raw_detections(), 0.5, 640, score_threshold=0.3, iou_threshold=0.99)
    assert loose.shape[0] == 3                      # without NMS the duplicate survives
    # already-decoded (end-to-end) output form: x1, y1, x2, y2, score, class in letterbox pixels
    decoded = np.array([[*lb(PERSON_A), 0.9, 0], [*lb(PERSON_A), 0.8, 0], [0, 0, 10, 10, 0.9, 2]])
    out = yolox.postprocess(decoded[None], 0.5, 640)
    assert out.shape == (1, 5)
    np.testing.assert_allclose(out[0], [*PERSON_A, 0.9], atol=1e-5)


def test_nms_keeps_best_and_disjoint():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], float)
    keep = yolox.nms(boxes, np.array([0.5, 0.9, 0.8, 0.4]), 0.5)
    assert keep.tolist() == [1, 2]


def test_crop_padding_and_aspect():
    center, scale = rtmpose.box_to_center_scale(np.array([100, 50, 200, 350.0]))
    np.testing.assert_allclose(center, [150, 200])
    np.testing.assert_allclose(scale, [375 * 0.75, 375])          # tall box: width grows to 3:4
    center, scale = rtmpose.box_to_center_scale(np.array([0, 0, 400, 100.0]))
    np.testing.assert_allclose(scale, [500, 500 / 0.75])          # wide box: height grows


def test_constant_pose_model_decodes_known_bins(models):
    rng = np.random.default_rng(1)
    k = 133
    bx, by = rng.integers(0, 576, k), rng.integers(0, 768, k)
    sx = rng.uniform(0, 0.1, (1, k, 576)).astype(np.float32)
    sy = rng.uniform(0, 0.1, (1, k, 768)).astype(np.float32)
    vx, vy = rng.uniform(0.4, 0.9, k), rng.uniform(0.4, 0.9, k)
    sx[0, np.arange(k), bx] = vx
    sy[0, np.arange(k), by] = vy
    pose = constant_pose(models["folder"] / "const.onnx", sx, sy)
    for mode, expect in (("min", np.minimum(vx, vy)), ("max", np.maximum(vx, vy))):
        est = get_estimator("dwpose", det_model=str(models["det"]), pose_model=str(pose),
                            device="cpu", simcc_score=mode)
        (xy, conf), = est([np.zeros((H, W, 3), np.uint8)])
        assert xy.shape == (2, 133, 2) and conf.shape == (2, 133)
        np.testing.assert_allclose(conf[0], expect, rtol=1e-6)
    # person A: padded 125 x 384 -> region 288 x 384 at scale 1 around (150, 200)
    np.testing.assert_allclose(xy[0, :, 0], 150 + (bx / 2 - 144), atol=1e-3)
    np.testing.assert_allclose(xy[0, :, 1], 200 + (by / 2 - 192), atol=1e-3)
    # person B: region 144 x 192 at scale 2 around (1000, 400)
    np.testing.assert_allclose(xy[1, :, 0], 1000 + (bx / 2 - 144) / 2, atol=1e-3)
    np.testing.assert_allclose(xy[1, :, 1], 400 + (by / 2 - 192) / 2, atol=1e-3)


@pytest.mark.parametrize("which", ["dot", "dot1"])
def test_dot_model_end_to_end_recovers_image_coordinates(models, which):
    img, a, b = dotted_image()
    est = get_estimator("dwpose", det_model=str(models["det"]), pose_model=str(models[which]),
                        device="cpu", pose_batch_size=4)
    results = est([img, img[:, ::-1].copy(), np.zeros((H, W, 3), np.uint8)])
    assert len(results) == 3
    xy, conf = results[0]
    assert xy.shape == (2, 133, 2) and (conf > 0).all()
    np.testing.assert_allclose(xy[0], np.broadcast_to(a, (133, 2)), atol=1e-3)
    np.testing.assert_allclose(xy[1], np.broadcast_to(b, (133, 2)), atol=1e-3)
    # mirrored frame: same constant boxes, dots elsewhere -> crops see no dot (flat argmax at 0)
    assert not np.allclose(results[1][0][0], a)


def test_layout_option_converts_to_dwpose(models):
    img, a, _ = dotted_image()
    est = get_estimator("dwpose", det_model=str(models["det"]), pose_model=str(models["dot"]),
                        device="cpu", layout="dwpose", max_persons=1)
    assert est.layout == "dwpose"
    (xy, conf), = est([img])
    assert xy.shape == (1, 128, 2)
    np.testing.assert_allclose(np.nanmax(np.abs(xy[0] - a)), 0, atol=1e-3)


def test_weights_lookup_and_errors(tmp_path, monkeypatch, models):
    for env in (ENV_DET, ENV_POSE):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    with pytest.raises(SignverseError, match="yolox_l.onnx"):
        resolve_dwpose_weights()
    with pytest.raises(SignverseError, match="yolox_l.onnx"):
        get_estimator("dwpose")
    (tmp_path / "yolox_l.onnx").write_bytes(models["det"].read_bytes())
    monkeypatch.setenv(ENV_POSE, str(models["dot"]))
    det, pose = resolve_dwpose_weights()
    assert det == tmp_path / "yolox_l.onnx" and pose == models["dot"]
    est = get_estimator("dwpose", device="cpu")
    assert est.providers == ["CPUExecutionProvider"]
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(SignverseError, match="cannot load"):
        get_estimator("dwpose", det_model=str(bad), device="cpu")
    assert hf_url("yolox_l.onnx") == "https://huggingface.co/yzd-v/DWPose/resolve/main/yolox_l.onnx"


def test_estimate_video_batches_frames(models, tmp_path):
    av = pytest.importorskip("av")
    from signverse.estimators import estimate_video
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv444p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(dotted_image()[0], format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    est = get_estimator("dwpose", det_model=str(models["det"]), pose_model=str(models["dot"]),
                        device="cpu")
    seq = estimate_video(est, path, fps=10.0, batch_size=3)
    assert (seq.n_frames, seq.n_persons, seq.n_points) == (4, 2, 133)
    assert (seq.width, seq.height, seq.fps, seq.layout) == (W, H, 10.0, "coco-wholebody")
    np.testing.assert_allclose(seq.xy[:, 0], np.broadcast_to((163, 251), (4, 133, 2)), atol=0.6)

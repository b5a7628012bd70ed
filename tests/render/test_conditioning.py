"""Conditioning export: each fit puts known points where the resized image puts their pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest

import signverse
from signverse.core import PoseSeq
from signverse.core.errors import SignverseError
from signverse.layouts import get_layout
from signverse.render.conditioning import fit_geometry, fit_pose, parse_size
from tests.conftest import shared

pytest.importorskip("PIL")
pytest.importorskip("cv2")


def corners_pose(width=640, height=360, n_frames=3) -> PoseSeq:
    """A dwpose sequence whose first points sit on the frame's corners and centre."""
    dw = get_layout("dwpose")
    xy = np.full((n_frames, 1, dw.num_points, 2), np.nan, np.float32)
    xy[:, 0, :5] = [(0, 0), (width, 0), (0, height), (width, height), (width / 2, height / 2)]
    return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 30, width, height, "dwpose")


def test_pad_keeps_aspect_and_centres():
    out = fit_pose(corners_pose(), (512, 768), "pad")
    # 640x360 -> scale 0.8 -> 512x288, bars of (768 - 288) / 2 = 240 above and below
    assert out.xy[0, 0, :5].tolist() == [[0, 240], [512, 240], [0, 528], [512, 528], [256, 384]]
    assert (out.width, out.height) == (512, 768)


def test_crop_fills_and_cuts():
    out = fit_pose(corners_pose(), (512, 768), "crop")
    # scale 768 / 360 -> 1365x768 (rounded), (1365 - 512) // 2 = 426 cut on the left
    s = 1365 / 640
    assert out.xy[0, 0, 4].tolist() == pytest.approx([320 * s - 426, 384])
    assert not out.valid[0, 0, :4].any()          # the corners are cut away
    inner = corners_pose().xy.copy()
    inner[:, 0, 0] = (400, 100)
    out = fit_pose(corners_pose().replace(xy=inner), (512, 768), "crop")
    assert out.xy[0, 0, 0].tolist() == pytest.approx([400 * s - 426, 100 * 768 / 360])


def test_stretch_scales_each_axis():
    out = fit_pose(corners_pose(), (512, 768), "stretch")
    assert out.xy[0, 0, :5].tolist() == [[0, 0], [512, 0], [0, 768], [512, 768], [256, 384]]


def test_pad_on_odd_sizes_uses_whole_pixels():
    scale, offset = fit_geometry((641, 359), (100, 100), "pad")
    assert round(641 * scale[0]) == 100 and offset.tolist() == [0, (100 - round(359 * 100 / 641)) // 2]
    with pytest.raises(SignverseError, match="fit"):
        fit_geometry((10, 10), (5, 5), "squash")
    with pytest.raises(SignverseError, match="WIDTHxHEIGHT"):
        parse_size("512by768")
    with pytest.raises(SignverseError, match="out of range"):
        parse_size("0x768")


def test_render_to_folder_and_json_at_generator_size(tmp_path):
    from PIL import Image

    from signverse.cli.main import main
    src = tmp_path / "c.pose"
    signverse.write_pose(corners_pose(n_frames=30), src)
    folder = tmp_path / "frames"
    assert main(["render", str(src), str(folder), "--size", "512x768", "--fps", "10"]) == 0
    pngs = sorted(folder.glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 10
    image = np.asarray(Image.open(pngs[0]))
    assert image.shape == (768, 512, 3)
    assert image[384].any() and not image[100].any()       # the skeleton is inside the padded band
    out = tmp_path / "kp.json"
    assert main(["render", str(src), str(out), "--size", "512x768", "--fit", "pad", "--fps", "10"]) == 0
    frames = json.loads(out.read_text())
    assert len(frames) == 10 and frames[0]["canvas_width"] == 512 and frames[0]["canvas_height"] == 768
    body = np.asarray(frames[0]["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    assert body[4].tolist() == [256, 384, 1]                  # the centre point lands on the centre
    assert main(["render", str(src), str(out), "--size", "512x768", "--overlay", str(src)]) == 2


def test_real_video_pose_to_conditioning_folder(tmp_path):
    from signverse.cli.main import main
    src = shared("poses", "poses_mmposewholebody_SOUP.pose")
    assert main(["render", str(src), str(tmp_path / "c"), "--size", "256x384", "--fit", "crop",
                 "--fps", "12"]) == 0
    pose = signverse.read_pose(src)
    assert len(list((tmp_path / "c").glob("*.png"))) == round(pose.duration * 12)


def test_png_and_gif_outputs_take_the_fit_too(tmp_path):
    from PIL import Image

    from signverse.cli.main import main
    src = tmp_path / "c.pose"
    signverse.write_pose(corners_pose(), src)
    assert main(["render", str(src), str(tmp_path / "f.png"), "--frame", "0", "--size", "300x200",
                 "--fit", "stretch"]) == 0
    assert np.asarray(Image.open(tmp_path / "f.png")).shape == (200, 300, 3)

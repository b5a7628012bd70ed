"""Depth is kept where the source has it (.pose XYZC -> .pose XYZC, through layout conversion),
and a 2D-only target says once that it drops it."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from conftest import shared
from signverse.cli.main import main
from signverse.core.pose import PoseSeq
from signverse.io import read_pose, write_pose
from signverse.layouts import convert, get_layout

pytest.importorskip("pose_format")


def test_xyzc_pose_file_round_trips_its_depth(tmp_path):
    src = read_pose(shared("poses", "autsl_signer0_sample1000.pose"))
    assert src.z is not None and np.isfinite(src.z[src.valid]).all()
    assert np.nanstd(src.z) > 0.01                       # real relative depth, not zeros
    out = write_pose(src, tmp_path / "a.pose")
    from pose_format import Pose
    header = Pose.read(out.read_bytes()).header
    assert {c.format for c in header.components} == {"XYZC"}
    back = read_pose(out)
    assert np.array_equal(np.isnan(back.z), np.isnan(src.z))
    assert np.nanmax(np.abs(back.z - src.z)) < 1e-6


def test_cli_convert_pose_to_pose_keeps_depth(tmp_path):
    src = shared("poses", "poses_FOOTBALL.pose")          # Holistic with world landmarks, XYZC
    assert main(["convert", str(src), str(tmp_path / "f.pose")]) == 0
    a, b = read_pose(src), read_pose(tmp_path / "f.pose")
    world = get_layout(a.layout).slice("body_world")
    assert b.z is not None and np.nanmax(np.abs(b.z[:, :, world] - a.z[:, :, world])) < 1e-6


def test_layout_conversion_maps_depth_like_coordinates():
    pose = read_pose(shared("poses", "autsl_signer0_sample1000.pose"))
    dw = convert(pose, "dwpose")
    lay, src_lay = get_layout("dwpose"), get_layout(pose.layout)
    assert dw.z is not None and dw.z.shape == dw.conf.shape
    neck = dw.z[:, 0, lay.anchor("neck")]
    shoulders = (pose.z[:, 0, src_lay.anchor("left_shoulder")] + pose.z[:, 0, src_lay.anchor("right_shoulder")]) / 2
    ok = np.isfinite(neck)
    assert ok.any() and np.allclose(neck[ok], shoulders[ok], atol=1e-5)
    assert np.isnan(dw.z[~dw.valid]).all()


def test_slicing_keeps_depth_and_other_ops_drop_it_consistently():
    pose = read_pose(shared("poses", "autsl_signer0_sample1000.pose"))
    part = pose.frames(5, 10).persons(0)
    assert part.z.shape == (5, 1, pose.n_points) and np.array_equal(part.z, pose.z[5:10, [0]], equal_nan=True)
    from signverse.ops import resample
    slower = resample(pose, 15)                            # 30 -> 15 fps: every second frame
    assert slower.z.shape == slower.conf.shape
    assert np.array_equal(slower.z, pose.z[::2][:slower.n_frames], equal_nan=True)
    from signverse.ops.normalize import normalize
    assert normalize(pose)[0].z is None                    # xy moved without depth: none kept
    with pytest.raises(Exception, match="z must be"):
        PoseSeq(pose.xy, pose.conf, pose.fps, pose.width, pose.height, pose.layout, z=pose.z[:3])


def test_two_d_targets_warn_once(tmp_path, caplog):
    pytest.importorskip("pyarrow")
    import signverse.core.pose as core_pose
    core_pose._DEPTH_WARNED.clear()
    src = shared("poses", "autsl_signer0_sample1000.pose")
    with caplog.at_level(logging.WARNING):
        assert main(["convert", str(src), str(tmp_path / "c1"), "--layout", "dwpose"]) == 0
        assert main(["convert", str(src), str(tmp_path / "c2"), "--layout", "dwpose"]) == 0
        assert main(["convert", str(src), str(tmp_path / "a.tar")]) == 0
    depth = [r.getMessage() for r in caplog.records if "depth (z)" in r.getMessage()]
    assert len(depth) == 2 and "corpus store" in depth[0] and "release" in depth[1]

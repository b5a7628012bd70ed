"""`signverse info` reports the points a file really holds and visibility at a stated confidence."""
from __future__ import annotations

import numpy as np

from conftest import shared
from signverse.core.pose import PoseSeq
from signverse.io import read_pose
from signverse.io.describe import describe_pose, format_pose_info
from signverse.layouts import get_layout


def test_reduced_holistic_reports_its_own_points_not_the_layouts():
    info = describe_pose(read_pose(shared("poses", "mediapipe.pose")))
    # the file holds 178 points (8 body + 128 face + 21 + 21); its left hand is never detected
    assert info["layout"] == "mediapipe-holistic" and info["layout_points"] == 543
    assert info["points"] == 178 - 21
    line = format_pose_info("mediapipe", info)
    assert "(157 of 543 points detected)" in line and "543 points)" not in line


def test_full_file_says_just_its_point_count():
    info = describe_pose(read_pose(shared("poses", "poses_mmposewholebody_FOOTBALL.pose")))
    assert info["points"] == info["layout_points"] == 133
    assert "(133 points)" in format_pose_info("f", info)


def test_visibility_respects_confidence():
    """MMPose feet of a seated, cropped signer are "detected" at confidence < 0.2 in every frame."""
    pose = read_pose(shared("poses", "poses_mmposewholebody_FOOTBALL.pose"))
    feet = get_layout(pose.layout).slice("feet")
    assert pose.conf[:, 0, feet].max() < 0.2 and pose.valid[:, 0, feet].all()
    info = describe_pose(pose)
    assert info["visible"]["feet"] == 0.0 and info["visible"]["body"] == 1.0
    assert describe_pose(pose, min_conf=0.0001)["visible"]["feet"] == 1.0
    assert "confidence >= 0.5" in format_pose_info("f", info)


def test_empty_pose_describes_without_error():
    pose = PoseSeq.empty(0, 1, 128, fps=24, width=10, height=10, layout="dwpose")
    info = describe_pose(pose)
    assert info["points"] == 0 and info["frames"] == 0
    pose = PoseSeq(np.zeros((2, 1, 128, 2), np.float32), np.full((2, 1, 128), 0.2, np.float32),
                   fps=24, width=10, height=10, layout="dwpose")
    assert describe_pose(pose)["visible"]["body"] == 0.0


def test_info_names_the_files_own_point_count(capsys):
    from signverse.cli.main import main
    assert main(["info", str(shared("poses", "mediapipe.pose"))]) == 0
    out = capsys.readouterr().out
    assert "(157 of 543 points detected; 178 in the file)" in out and "(543 points)" not in out

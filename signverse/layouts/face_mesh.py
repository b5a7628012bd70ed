"""MediaPipe face-mesh vertices that correspond to the 68 iBUG / COCO-WholeBody face points.

Order follows FACE68_POINTS: jaw (17, subject's right to left), right brow, left brow, nose bridge,
lower nose, right eye, left eye, outer lips, inner lips. Checked on real data: converting
poses_FOOTBALL.pose lands within the stated median error of an MMPose whole-body run on the same
frames (see tests/layouts/test_convert_real.py).
"""
MESH_TO_FACE68 = (
    # jaw
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    # right brow, left brow
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
    # nose bridge, lower nose
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # right eye, left eye
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lips, inner lips
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
)
assert len(MESH_TO_FACE68) == 68

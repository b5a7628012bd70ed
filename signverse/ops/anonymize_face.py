"""Expression damping (used by ``canonical-quiet``, ``signverse.ops.anonymize``): each sequence's
facial expression, the face points' displacement from their own mean shape relative to the nose,
scaled by a factor. Expression (mouthing, eyebrows) carries language too, so this trades that
away for privacy (README privacy section: it is what brings re-identification under half).
"""
from __future__ import annotations

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.ops.retarget import kinematic_tree, nanmedian0


def damp_face(pose: PoseSeq, factor: float, *, person: int = 0) -> PoseSeq:
    """Facial expression scaled by ``factor`` (1: kept, 0: the sequence's mean face shape
    throughout, moving with the nose): each face point's offset from the nose, minus its median
    over the sequence, times ``factor``. Missing points stay missing; ``factor = 1`` returns
    ``pose``; layouts without a face or a nose are returned as they are."""
    if factor < 0:
        raise SignverseError(f"face expression factor must be >= 0, got {factor}")
    lay = get_layout(pose.layout)
    if factor == 1 or not lay.has("face"):
        return pose
    sk = kinematic_tree(lay.name)
    if sk.face_anchor < 0 or not len(sk.face):
        return pose
    xy = pose.xy.astype(np.float64)
    p = xy[:, person]
    rel = p[:, sk.face] - p[:, sk.face_anchor, None]
    if not np.isfinite(rel).any():
        return pose
    shape = nanmedian0(rel)
    placed = p[:, sk.face_anchor, None] + shape[None] + factor * (rel - shape[None])
    # where the nose is missing the face is left as it is (no anchor to damp about)
    p[:, sk.face] = np.where(np.isfinite(rel), placed, p[:, sk.face])
    return pose.replace(xy=xy.astype(np.float32))

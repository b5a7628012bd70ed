"""Pose tracks for SignX: the layouts a fusion model accepts and a shared per-frame normalisation.

A *track* is one pose estimator's view of the same frames, in that estimator's own layout. Every
track of a clip is normalised by the same per-frame frame of reference (shoulder midpoint, median
shoulder width over the clip), taken from whichever tracks have shoulders, so that points of
different tracks are directly comparable and a prediction can be mapped back to pixels.
numpy only: the torch side lives in :mod:`signverse.models.signx.fusion`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import Component, Layout, convert, get_layout, list_layouts, register_layout

SMPLX_LAYOUT = "smplx-55"

_SMPLX_BODY = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
               "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
               "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist")
_SMPLX_HAND = tuple(f"{f}{i}" for f in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3))


def _smplx_layout() -> Layout:
    """The 55 SMPL-X joints (22 body, jaw, 2 eyes, 2x15 hand joints) in SMPL-X joint order."""
    hand_limbs = tuple((3 * f + i, 3 * f + i + 1) for f in range(5) for i in range(2))
    body_limbs = ((0, 1), (0, 2), (0, 3), (1, 4), (2, 5), (3, 6), (4, 7), (5, 8), (6, 9), (7, 10),
                  (8, 11), (9, 12), (9, 13), (9, 14), (12, 15), (13, 16), (14, 17), (16, 18),
                  (17, 19), (18, 20), (19, 21))
    return Layout(
        name=SMPLX_LAYOUT,
        description="SMPL-X joints (55, 3D joints projected; xy used), as a custom SignX track",
        components=(Component("body", _SMPLX_BODY, body_limbs),
                    Component("head", ("jaw", "left_eye", "right_eye"), ()),
                    Component("left_hand", _SMPLX_HAND, hand_limbs),
                    Component("right_hand", _SMPLX_HAND, hand_limbs)),
        anchors=(("neck", "body.neck"), ("left_shoulder", "body.left_shoulder"),
                 ("right_shoulder", "body.right_shoulder"), ("left_elbow", "body.left_elbow"),
                 ("right_elbow", "body.right_elbow"), ("left_wrist", "body.left_wrist"),
                 ("right_wrist", "body.right_wrist"), ("left_hip", "body.left_hip"),
                 ("right_hip", "body.right_hip"), ("left_eye", "head.left_eye"),
                 ("right_eye", "head.right_eye")),
        aliases=("smplx",),
    )


if SMPLX_LAYOUT not in list_layouts():
    register_layout(_smplx_layout())

#: Tracks a default fusion model has an encoder for (layout names of signverse.layouts).
DEFAULT_TRACKS = ("dwpose", "coco-wholebody", "mediapipe-holistic", "openpose-137", SMPLX_LAYOUT)


def smplx_track(joints: np.ndarray, *, fps: float, width: int, height: int,
                conf: np.ndarray | None = None) -> PoseSeq:
    """A SMPL-X joint track from ``joints [T, 55, 2|3]`` already projected to pixels (z dropped)."""
    joints = np.asarray(joints, np.float32)
    if joints.ndim != 3 or joints.shape[1] != 55 or joints.shape[2] not in (2, 3):
        raise SignverseError(f"SMPL-X joints must be [T, 55, 2|3], got {joints.shape}")
    xy = joints[:, None, :, :2]
    c = np.ones(xy.shape[:3], np.float32) if conf is None else np.asarray(conf, np.float32)[:, None]
    return PoseSeq(xy, c, fps=fps, width=width, height=height, layout=SMPLX_LAYOUT)


def as_track(pose: PoseSeq, tracks: tuple[str, ...] = DEFAULT_TRACKS) -> tuple[str, PoseSeq]:
    """Name the track a pose feeds: its own layout if the model knows it, else the first known
    layout it converts to (same family first: Holistic 576 -> Holistic 543 before -> dwpose)."""
    from signverse.layouts import can_convert
    name = get_layout(pose.layout).name
    if name in tracks:
        return name, pose
    family = [t for t in tracks if t.split("-")[0] == name.split("-")[0]]
    for target in family + [t for t in tracks if t not in family]:
        if can_convert(name, target):
            return target, convert(pose, target)
    raise SignverseError(f"layout '{name}' cannot feed any SignX track ({', '.join(tracks)})")


def derive_tracks(pose: PoseSeq, targets: tuple[str, ...]) -> dict[str, PoseSeq]:
    """Other tracks derived from one pose by layout conversion (points without a source stay missing)."""
    return {t: convert(pose, t) for t in targets}


@dataclass(frozen=True)
class FrameRef:
    """Per-frame reference: pixels = normalised * scale + center."""

    center: np.ndarray   # [T, 2]
    scale: np.ndarray    # [T]

    def normalise(self, xy: np.ndarray) -> np.ndarray:
        return (xy - self.center[:, None]) / self.scale[:, None, None]

    def denormalise(self, xy: np.ndarray) -> np.ndarray:
        return xy * self.scale[:, None, None] + self.center[:, None]


def _person0(pose: PoseSeq) -> tuple[np.ndarray, np.ndarray]:
    if pose.n_persons == 0:
        return (np.full((pose.n_frames, pose.n_points, 2), np.nan, np.float32),
                np.zeros((pose.n_frames, pose.n_points), bool))
    return pose.xy[:, 0], pose.valid[:, 0]


def frame_reference(tracks: dict[str, PoseSeq]) -> FrameRef:
    """Shoulder midpoint per frame and median shoulder width, pooled over all given tracks.

    Frames where no track has both shoulders borrow the nearest frame that does; a clip with no
    shoulders at all falls back to the image centre and a quarter of the image width.
    """
    if not tracks:
        raise SignverseError("no pose track given")
    first = next(iter(tracks.values()))
    T = first.n_frames
    centers, widths = [], []
    for pose in tracks.values():
        if pose.n_frames != T:
            raise SignverseError(f"tracks disagree on frame count ({pose.n_frames} vs {T})")
        layout = get_layout(pose.layout)
        if not (layout.has_anchor("left_shoulder") and layout.has_anchor("right_shoulder")):
            continue
        xy, _ = _person0(pose)
        left, right = xy[:, layout.anchor("left_shoulder")], xy[:, layout.anchor("right_shoulder")]
        centers.append((left + right) / 2)
        widths.append(np.linalg.norm(left - right, axis=-1))
    if centers:
        with np.errstate(all="ignore"), _quiet():
            center = np.nanmean(np.stack(centers), 0)
            width = np.nanmean(np.stack(widths), 0)
    else:
        center = np.full((T, 2), np.nan)
        width = np.full(T, np.nan)
    ok = np.isfinite(center).all(-1) & np.isfinite(width) & (width > 1e-6)
    if not ok.any():
        center = np.tile(np.array([first.width / 2, first.height / 2], np.float32), (T, 1))
        scale = np.full(T, max(first.width, 1) / 4, np.float32)
        return FrameRef(center.astype(np.float32), scale)
    idx = np.arange(T)
    good = idx[ok]
    nearest = good[np.abs(idx[:, None] - good[None]).argmin(1)]
    center = center[nearest]
    scale = np.full(T, float(np.median(width[ok])), np.float32)
    return FrameRef(center.astype(np.float32), scale)


class _quiet:
    """Silence numpy's 'mean of empty slice' warnings (all-NaN frames are expected)."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def normalise_tracks(tracks: dict[str, PoseSeq], ref: FrameRef | None = None
                     ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], FrameRef]:
    """``{track: (points [T, K, 2] normalised, 0 where missing; valid [T, K])}`` and the reference."""
    ref = ref or frame_reference(tracks)
    out = {}
    for name, pose in tracks.items():
        xy, valid = _person0(pose)
        pts = ref.normalise(xy)
        valid = valid & np.isfinite(pts).all(-1)
        out[name] = (np.where(valid[..., None], pts, 0.0).astype(np.float32), valid)
    return out, ref

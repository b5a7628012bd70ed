"""pose-format ``.pose`` files, read and written through the ``pose-format`` package.

Coordinates follow pose-format's convention: pixels of the frame whose size is in the header.
Known header families (MediaPipe Holistic incl. reduced and refined variants, MMPose
COCO-WholeBody, OpenPose 137, and our own dwpose) map onto registered layouts by point name or
position; any other header becomes a custom layout built from the header itself.

A header that names a known family but whose components do not fit it (a LEFT_HAND of 22 points,
a face point called ``"abc"``) is refused with a one-line error instead of shifting the points
that follow. Non-finite coordinates or confidences (``inf``, ``NaN``) are read as missing points,
with one warning per file saying how many there were.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError, require
from signverse.core.limits import MAX_FRAME_SIDE, budget_hint, check_fps, decode_budget
from signverse.core.pose import PoseSeq
from signverse.layouts import Component, Layout, get_layout, register_layout, LAYOUTS

log = logging.getLogger(__name__)

_HOLISTIC = {"POSE_LANDMARKS": "body", "FACE_LANDMARKS": "face", "LEFT_HAND_LANDMARKS": "left_hand",
             "RIGHT_HAND_LANDMARKS": "right_hand", "POSE_WORLD_LANDMARKS": "body_world"}
_OPENPOSE = {"pose_keypoints_2d": "body", "face_keypoints_2d": "face",
             "hand_left_keypoints_2d": "left_hand", "hand_right_keypoints_2d": "right_hand"}
_WHOLEBODY = {"BODY": "body", "FACE": "face", "LEFT_HAND": "left_hand", "RIGHT_HAND": "right_hand"}
# How each registered layout's components are named when we write a .pose file.
_WRITE_NAMES = {
    "mediapipe-holistic": {v: k for k, v in _HOLISTIC.items()},
    "openpose-137": {v: k for k, v in _OPENPOSE.items()},
    "coco-wholebody": {"body": "BODY", "feet": "BODY", "face": "FACE", "left_hand": "LEFT_HAND",
                       "right_hand": "RIGHT_HAND"},
    "dwpose": {"body": "BODY", "face": "FACE", "left_hand": "LEFT_HAND", "right_hand": "RIGHT_HAND"},
}
_WRITE_NAMES["mediapipe-holistic-world"] = _WRITE_NAMES["mediapipe-holistic"]
_WRITE_NAMES["mediapipe-holistic-refined"] = _WRITE_NAMES["mediapipe-holistic"]


def _pose_format():
    require("pose_format", "pose")
    from pose_format import Pose
    return Pose


def _misfit(source, component: str, problem: str) -> InputError:
    return InputError(source, f"component {component}: {problem}; refused rather than shifting the "
                              "points that follow")


def _holistic_index(layout: Layout, c, target: str, source) -> np.ndarray:
    """Layout indices of a Holistic component's points (body and face by name, hands by position)."""
    size = len(layout.component(target).points)
    if len(c.points) > size:
        raise _misfit(source, c.name, f"{len(c.points)} points, but {layout.name} has {size} {target} points")
    if target in ("left_hand", "right_hand"):
        local = [f"{target}.{p}" for p in layout.component(target).points][:len(c.points)]
    elif target == "face":
        try:
            local = [f"face.{int(p)}" for p in c.points]
        except (TypeError, ValueError):
            bad = next(p for p in c.points if not str(p).strip().lstrip("+-").isdigit())
            raise _misfit(source, c.name, f"point name {str(bad)[:40]!r} is not a face point number") from None
    else:
        local = [f"{target}.{str(p).lower()}" for p in c.points]
    try:
        index = np.array([layout.index(n) for n in local], dtype=np.int64)
    except SignverseError:
        bad = next(n for n in local if not _has_point(layout, n))
        raise _misfit(source, c.name, f"point {bad.split('.', 1)[1][:40]!r} is not in {layout.name}") from None
    if len(np.unique(index)) != len(index):
        raise _misfit(source, c.name, "a point appears twice")
    return index


def _has_point(layout: Layout, name: str) -> bool:
    try:
        layout.index(name)
        return True
    except SignverseError:
        return False


def _placement(header, source: str | Path = "<pose>") -> tuple[Layout, list[np.ndarray]]:
    """The layout for a header and, per header component, the layout index of each point."""
    comps = {c.name: c for c in header.components}
    names = set(comps)
    if names <= set(_HOLISTIC) and "POSE_LANDMARKS" in names:
        face = comps.get("FACE_LANDMARKS")
        refined = face is not None and any(p == "477" for p in face.points)
        layout = get_layout("mediapipe-holistic-refined" if refined else
                            "mediapipe-holistic-world" if "POSE_WORLD_LANDMARKS" in names
                            else "mediapipe-holistic")
        return layout, [_holistic_index(layout, c, _HOLISTIC[c.name], source) for c in header.components]
    for table, layout_name, body_sizes in ((_OPENPOSE, "openpose-137", (25,)),
                                            (_WHOLEBODY, "coco-wholebody", (23, 17)),
                                            (_WHOLEBODY, "dwpose", (18,))):
        body = comps.get(next(iter(table)))
        if names == set(table) and body is not None and len(body.points) in body_sizes:
            layout = get_layout(layout_name)
            index = []
            for c in header.components:
                start = layout.slice(table[c.name]).start
                index.append(np.arange(start, start + len(c.points)))
            for i, c in zip(index, header.components):
                size = len(layout.component(table[c.name]).points)
                if table[c.name] != "body" and len(i) != size:
                    raise _misfit(source, c.name, f"{len(i)} points, but {layout.name} has {size} "
                                                  f"{table[c.name]} points")
            return layout, index
    return _custom_layout(header)


def _custom_layout(header) -> tuple[Layout, list[np.ndarray]]:
    signature = "|".join(f"{c.name}:{','.join(c.points)}" for c in header.components)
    name = "custom-" + hashlib.sha1(signature.encode()).hexdigest()[:10]
    if name not in LAYOUTS:
        register_layout(Layout(name, tuple(
            Component(c.name, tuple(c.points), tuple((int(a), int(b)) for a, b in c.limbs
                                                     if a < len(c.points) and b < len(c.points)))
            for c in header.components), description=f"from a .pose header ({len(header.components)} components)"))
    layout, index, at = get_layout(name), [], 0
    for c in header.components:
        index.append(np.arange(at, at + len(c.points)))
        at += len(c.points)
    return layout, index


def pose_from_pose_format(pose, source: str | Path = "<pose>", *, input_bytes: int | None = None) -> PoseSeq:
    """Convert a ``pose_format.Pose`` object into a PoseSeq. With ``input_bytes`` (the file's
    size), a pose whose layout would inflate it beyond the decode budget is refused."""
    layout, index = _placement(pose.header, source)
    raw = np.ma.getdata(pose.body.data)
    if input_bytes is not None and raw.ndim == 4:
        # One stored point of a Holistic header becomes all 543 (576) points of the layout.
        need = raw.shape[0] * raw.shape[1] * layout.num_points * (16 if raw.shape[-1] >= 3 else 12)
        if need > decode_budget(input_bytes):
            raise InputError(source, f"{raw.shape[0]} frames x {raw.shape[1]} persons x "
                                     f"{layout.num_points} points of {layout.name} would decode to "
                                     f"{need >> 20} MiB from a {input_bytes}-byte file ({budget_hint()})")
    data = raw[..., :2].astype(np.float32)
    depth = raw[..., 2].astype(np.float32) if raw.shape[-1] >= 3 else None   # XYZC: keep z
    mask = np.ma.getmaskarray(pose.body.data)[..., :2].any(-1)
    conf = np.asarray(pose.body.confidence, np.float32)
    if data.ndim != 4 or conf.shape != data.shape[:3]:
        raise InputError(source, f"body data {data.shape} and confidence {conf.shape} do not match")
    if data.shape[2] != sum(len(i) for i in index):
        raise InputError(source, f"the body has {data.shape[2]} points per frame but the header "
                                 f"describes {sum(len(i) for i in index)}")
    # One inf would otherwise spread (e.g. into every stored confidence of the clip): missing.
    broken = ~(np.isfinite(conf) & np.isfinite(data).all(-1)) & ~mask
    if broken.any():
        log.warning("%s: %d points with non-finite coordinates or confidence read as missing",
                    source, int(broken.sum()))
        mask = mask | broken
        data = np.where(broken[..., None], np.nan, data)
    conf = np.where(mask, 0.0, conf)
    if depth is not None:   # z of a missing point, or a non-finite z, is missing too
        depth = np.where(mask | ~np.isfinite(depth), np.nan, depth)
    n_frames, n_persons = data.shape[:2]
    xy = np.full((n_frames, n_persons, layout.num_points, 2), np.nan, np.float32)
    out_conf = np.zeros((n_frames, n_persons, layout.num_points), np.float32)
    z = None if depth is None else np.full((n_frames, n_persons, layout.num_points), np.nan, np.float32)
    at = 0
    for idx in index:
        xy[:, :, idx] = data[:, :, at:at + len(idx)]
        out_conf[:, :, idx] = conf[:, :, at:at + len(idx)]
        if z is not None:
            z[:, :, idx] = depth[:, :, at:at + len(idx)]
        at += len(idx)
    dims = pose.header.dimensions
    fps = float(pose.body.fps) if pose.body.fps else 0.0
    if not fps > 0:
        raise InputError(source, f"the .pose header has no usable fps ({pose.body.fps})")
    check_fps(fps, source)
    return PoseSeq(xy, out_conf, fps=fps, width=int(dims.width), height=int(dims.height),
                   layout=layout.name, z=z)


def read_pose_file(path: str | Path) -> PoseSeq:
    """Read a pose-format ``.pose`` file."""
    Pose = _pose_format()
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise InputError(path, "empty file")
    try:
        _check_v0_body(data, path)
        pose = Pose.read(data)
    except InputError:
        raise
    except Exception as exc:  # pose-format raises struct/value/index errors on damaged files
        raise InputError(path, f"not a readable .pose file ({type(exc).__name__}: {exc})") from None
    return pose_from_pose_format(pose, path, input_bytes=len(data))


def _check_v0_body(data: bytes, path: Path) -> None:
    """Version 0.0 files store frame by frame, and pose-format decodes a frame with no person as
    zeros for every point: two bytes per frame can claim megabytes. Refuse a claim beyond the
    decode budget before anything is decoded (later versions are bounded by the file's size)."""
    from pose_format.pose_header import PoseHeader
    from pose_format.utils.reader import BufferReader, ConstStructs
    reader = BufferReader(data)
    header = PoseHeader.read(reader)
    if header.version != 0:
        return
    _, frames = reader.unpack(ConstStructs.double_ushort)
    points = sum(len(c.points) for c in header.components)
    dims = max((len(c.format) for c in header.components), default=1)
    need = frames * points * dims * 8   # float64 zeros (coordinates and confidence) per frame
    if need > decode_budget(len(data)):
        raise InputError(path, f"version 0.0 body of {frames} frames x {points} points would decode "
                               f"to {need >> 20} MiB from a {len(data)}-byte file ({budget_hint()})")


def pose_to_pose_format(pose: PoseSeq):
    """Convert a PoseSeq into a ``pose_format.Pose`` (pixels; XYZC when the pose has depth, else XYC)."""
    _pose_format()
    from pose_format import Pose
    from pose_format.numpy.pose_body import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    layout = get_layout(pose.layout)
    if pose.xy.shape[2] != layout.num_points:   # else the header and body disagree: a corrupt file
        raise SignverseError(f"the pose has {pose.xy.shape[2]} points per person but layout "
                             f"{layout.name} has {layout.num_points}; not written")
    if not (0 <= pose.width <= MAX_FRAME_SIDE and 0 <= pose.height <= MAX_FRAME_SIDE):   # 16-bit header
        raise SignverseError(f"frame size {pose.width}x{pose.height} does not fit a .pose header "
                             f"(at most {MAX_FRAME_SIDE} per side); not written")
    names = _WRITE_NAMES.get(layout.name, {})
    components: list[PoseHeaderComponent] = []
    merged: dict[str, tuple[list[str], list[tuple[int, int]]]] = {}
    for comp in layout.components:
        out_name = names.get(comp.name, comp.name)
        points, limbs = merged.setdefault(out_name, ([], []))
        offset = len(points)
        if out_name.endswith("LANDMARKS") and comp.name in ("body", "body_world"):
            points += [p.upper() for p in comp.points]
        else:
            points += list(comp.points)
        limbs += [(a + offset, b + offset) for a, b in comp.limbs]
    for out_name, (points, limbs) in merged.items():
        colors = [(255, 255, 255)] * max(1, len(limbs))
        components.append(PoseHeaderComponent(out_name, points, limbs, colors,
                                              "XYZC" if pose.z is not None else "XYC"))
    header = PoseHeader(0.2, PoseHeaderDimensions(width=pose.width, height=pose.height, depth=0),
                        components)
    coords = pose.xy if pose.z is None else np.concatenate([pose.xy, pose.z[..., None]], -1)
    data = np.ma.masked_invalid(coords)
    data.mask = np.broadcast_to(~pose.valid[..., None], data.shape).copy()
    body = NumPyPoseBody(fps=pose.fps, data=data, confidence=pose.conf)
    return Pose(header, body)


def write_pose_file(pose: PoseSeq, path: str | Path) -> Path:
    """Write a pose-format ``.pose`` file (written to a temporary name, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    converted = pose_to_pose_format(pose)
    try:
        with open(tmp, "wb") as handle:
            converted.write(handle)
        tmp.replace(path)
    except BaseException:   # a failed write (disk full, a value pose-format refuses) leaves nothing
        tmp.unlink(missing_ok=True)
        raise
    return path

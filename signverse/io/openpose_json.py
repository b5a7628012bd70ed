"""OpenPose keypoint JSON and the POSE_KEYPOINT JSON of ControlNet preprocessors / ComfyUI nodes.

Two file shapes, one person record. A person is ``{"pose_keypoints_2d": [x, y, c] * N,
"face_keypoints_2d": ..., "hand_left_keypoints_2d": ..., "hand_right_keypoints_2d": ...}``.

* An OpenPose folder (OpenPose 1.7 ``--write_json``): one ``<name>_<frame:012d>_keypoints.json``
  per frame, each ``{"version": 1.3, "people": [person, ...]}``, coordinates in pixels. The folder
  is one video. The files carry no frame size or rate: pass ``width``/``height``/``fps``
  (when absent we read ``canvas_width``/``canvas_height``/``fps``, which signverse writes as extra
  keys that OpenPose readers ignore, else take the smallest frame that holds every point; 24 fps).
* POSE_KEYPOINT: one JSON file holding a list of frames ``{"people": [...], "canvas_width": W,
  "canvas_height": H}``, coordinates in pixels or normalised to [0, 1] (``normalized=None``
  detects it: every coordinate within [0, 1] on a canvas larger than 2x2 means normalised).

Bodies: 25 points = BODY_25 (layout ``openpose-137``), 18 = COCO-18 (the ``dwpose`` layout's body).
Faces of 70 (68 + pupils) or 68 points are both accepted. Missing points as producers write them
(``0, 0, 0``, ``-1, -1, ...``, confidence 0 or -1, an empty or absent array) are read as
missing; we write missing points as ``0, 0, 0`` (OpenPose's own convention).
"""
from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.limits import MAX_FPS, MAX_FRAME_SIDE, MAX_PERSONS, MIN_FPS, budget_hint, decode_budget
from signverse.core.pose import PoseSeq
from signverse.layouts import can_convert, convert, get_layout
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

KEYS = ("pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d")
COMPONENTS = ("body", "face", "left_hand", "right_hand")
BODY_LAYOUTS = {25: "openpose-137", 18: "dwpose"}
FRAME_FILE = re.compile(r"(?:^|\D)(\d+)_keypoints\.json$")
DEFAULT_FPS = 24.0
_MAX_FRAMES = 10_000_000
# Reading keeps xy (2 x float64) and a confidence (float64) per point of every person slot.
_BYTES_PER_POINT = 24
_MAX_SIDE = MAX_FRAME_SIDE   # the largest frame side every writer can hold


# -- reading -----------------------------------------------------------------------------------
def is_openpose_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and any(FRAME_FILE.search(p.name) for p in path.glob("*_keypoints.json"))


def looks_like_pose_json(path: str | Path) -> bool:
    """Cheap sniff for folder scans: the file's first 64 KB mention ``"people"``, so other JSON
    files lying beside pose files (metadata, configs) are not mistaken for poses."""
    try:
        with open(path, "rb") as fh:
            return b'"people"' in fh.read(65536)
    except OSError:
        return False


def _load_json(path: Path):
    try:
        with path.open("r", encoding="utf-8") as fh:
            return json.load(fh)
    # ValueError: also a number of more than 4300 digits; RecursionError: arrays nested
    # thousands deep. Both are damaged input, not a reason for a traceback.
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, f"not readable JSON ({exc})") from None
    except RecursionError:
        raise InputError(path, "not readable JSON (nested too deeply)") from None


def _check_size(where: Path, n_frames: int, n_persons: int, input_bytes: int, records: int) -> None:
    """Refuse a claim (frame numbers far apart, one frame of thousands of empty persons) that
    would decode to far more than the input holds. Every frame record present may honestly
    decode to one person slot; beyond that, the stated decode budget of the input's bytes."""
    if n_persons > MAX_PERSONS.value():
        raise InputError(where, f"a frame holds {n_persons} persons ({MAX_PERSONS.hint()})")
    per_slot = get_layout("openpose-137").num_points * _BYTES_PER_POINT
    need = n_frames * n_persons * per_slot
    if need > decode_budget(input_bytes) + records * per_slot:
        raise InputError(where, f"{n_frames} frames x {n_persons} persons would decode to "
                                f"{need >> 20} MiB from {input_bytes} bytes of JSON ({budget_hint()})")


def _points(values, where: Path, key: str) -> np.ndarray:
    """``[N, 3]`` from a flat ``[x, y, c] * N`` list (None/absent -> 0 points)."""
    if values is None:
        return np.zeros((0, 3))
    if not isinstance(values, list) or len(values) % 3:
        raise InputError(where, f"{key} must be a flat list of x, y, c triples")
    try:
        arr = np.asarray(values, np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        raise InputError(where, f"{key} holds non-numbers") from None
    return arr


def _people(frame, where: Path) -> list[dict]:
    if not isinstance(frame, dict):
        raise InputError(where, "a frame must be a JSON object with 'people'")
    people = frame.get("people", [])
    if people is None:
        return []
    if not isinstance(people, list) or not all(isinstance(p, dict) for p in people):
        raise InputError(where, "'people' must be a list of objects")
    return people


def _body_size(frames: list[list[dict]], where: Path) -> int:
    sizes = {len(p.get("pose_keypoints_2d") or []) // 3 for people in frames for p in people}
    sizes.discard(0)
    if not sizes:
        return 0
    if len(sizes) > 1 or next(iter(sizes)) not in BODY_LAYOUTS:
        raise InputError(where, f"pose_keypoints_2d has {sorted(sizes)} points; expected 25 "
                                f"(BODY_25) or 18 (COCO-18)")
    return next(iter(sizes))


def _to_pose(frames: list[list[dict]], where: Path, *, fps: float, width: int | None,
             height: int | None, normalized: bool | None, layout: str | None,
             canvas: tuple[int, int] | None, input_bytes: int, records: int) -> PoseSeq:
    n_body = _body_size(frames, where)
    lay = get_layout(layout or BODY_LAYOUTS.get(n_body, "openpose-137"))
    if lay.name not in BODY_LAYOUTS.values():
        raise InputError(where, f"OpenPose JSON is read as openpose-137 or dwpose, not {lay.name}")
    n_persons = max([len(p) for p in frames] + [1])
    _check_size(where, len(frames), n_persons, input_bytes, records)
    xy = np.full((len(frames), n_persons, lay.num_points, 2), np.nan)
    conf = np.zeros((len(frames), n_persons, lay.num_points))
    for t, people in enumerate(frames):
        for p, person in enumerate(people):
            for key, comp in zip(KEYS, COMPONENTS):
                pts = _points(person.get(key), where, key)
                sl = lay.slice(comp)
                n = min(len(pts), sl.stop - sl.start)   # 70-point faces into 68: pupils dropped
                if comp == "body" and len(pts) and len(pts) != sl.stop - sl.start:
                    raise InputError(where, f"frame {t}: {len(pts)} body points, layout "
                                            f"{lay.name} has {sl.stop - sl.start}")
                xy[t, p, sl.start:sl.start + n] = pts[:n, :2]
                conf[t, p, sl.start:sl.start + n] = pts[:n, 2]
    # Producers mark missing points with confidence 0 (OpenPose: 0, 0, 0) or with -1 entries;
    # other negative coordinates with a confidence are real points just outside the frame.
    # A non-finite confidence (JSON ``Infinity``/``NaN``) is a broken point, read as missing
    # (kept, one inf would become every stored confidence of the clip).
    broken = ~np.isfinite(conf) & np.isfinite(xy).all(-1)
    if broken.any():
        log.warning("%s: %d points with a non-finite confidence read as missing", where, int(broken.sum()))
    missing = (~(conf > 0) | ~np.isfinite(conf) | ((xy[..., 0] == -1) & (xy[..., 1] == -1))
               | ~np.isfinite(xy).all(-1) | (np.abs(xy) > np.finfo(np.float32).max).any(-1))
    xy[missing] = np.nan
    conf[missing] = 0.0
    if canvas is not None:
        width = width or canvas[0]
        height = height or canvas[1]
    present = xy[np.isfinite(xy[..., 0])]
    if normalized is None:
        normalized = bool(present.size and present.max() <= 1.0 and canvas is not None
                          and min(canvas) > 2)
    if normalized:
        if not (width and height):
            raise InputError(where, "normalised coordinates need the canvas size (width, height)")
        xy = xy * np.array([width, height])
    if not (width and height):
        top = np.nanmax(xy.reshape(-1, 2), 0) if present.size else np.array([1, 1])
        extent = [max(1, math.ceil(v) + 1) if v < _MAX_SIDE else _MAX_SIDE for v in top]
        if max(top) >= _MAX_SIDE:   # a point at x=1e300 must not make a frame no writer can hold
            log.warning("%s: points reach %.3g px and no frame size is given; the frame is capped "
                        "at %d px (pass width/height)", where, max(top), _MAX_SIDE)
        width = width or extent[0]
        height = height or extent[1]
        log.info("%s: no frame size given; using %dx%d (the extent of the points)", where, width, height)
    return PoseSeq(xy.astype(np.float32), conf.astype(np.float32), fps=fps, width=int(width),
                   height=int(height), layout=lay.name)


def read_openpose_folder(path: str | Path, *, fps: float | None = None, width: int | None = None,
                         height: int | None = None, layout: str | None = None,
                         num_frames: int | None = None, **_) -> PoseSeq:
    """One video from a folder of OpenPose ``*_keypoints.json`` frame files.

    Frames are placed by the number in their names; a frame without a file (OpenPose skips none,
    but folders get trimmed) is all missing. ``num_frames`` extends the video past the last file.
    """
    path = Path(path)
    files = {}
    for file in path.glob("*_keypoints.json"):
        match = FRAME_FILE.search(file.name)
        if match:
            files[int(match.group(1))] = file
    if not files:
        raise InputError(path, "no OpenPose *_keypoints.json files")
    n_frames = max(max(files) + 1, num_frames or 0)
    if n_frames > _MAX_FRAMES:
        raise InputError(path, f"frame number {max(files)} is implausibly large")
    input_bytes = sum(_size(f) for f in files.values())
    _check_size(path, n_frames, 1, input_bytes, len(files))   # before a list of n_frames is made
    frames: list[list[dict]] = [[] for _ in range(n_frames)]
    canvas = None
    for t, file in sorted(files.items()):
        if not file.is_file():   # a link to /dev/zero would be read until memory runs out
            raise InputError(file, "not a regular file (a device, FIFO or folder); refused")
        data = _load_json(file)
        frames[t] = _people(data, file)
        if canvas is None and isinstance(data, dict) and "canvas_width" in data:
            canvas = _canvas(data, file)
        if fps is None and isinstance(data, dict):
            fps = _rate(data.get("fps"))
    return _to_pose(frames, path, fps=_fps(fps, path), width=width, height=height, normalized=False,
                    layout=layout, canvas=canvas, input_bytes=input_bytes, records=len(files))


def _rate(value) -> float | None:
    """A usable frame rate from a JSON value (a number within MIN_FPS..MAX_FPS), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        rate = float(value)
    except OverflowError:
        return None
    return rate if MIN_FPS <= rate <= MAX_FPS else None


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _fps(fps: float | None, path: Path) -> float:
    if fps is None:
        log.info("%s: OpenPose JSON has no frame rate; assuming %g fps (pass fps=...)", path, DEFAULT_FPS)
        return DEFAULT_FPS
    return float(fps)


def _canvas(frame: dict, where: Path) -> tuple[int, int]:
    try:
        w, h = int(frame["canvas_width"]), int(frame["canvas_height"])
    except (KeyError, TypeError, ValueError, OverflowError):   # OverflowError: Infinity
        raise InputError(where, "canvas_width and canvas_height must be integers") from None
    if not (0 < w <= _MAX_SIDE and 0 < h <= _MAX_SIDE):
        raise InputError(where, f"canvas {w}x{h} is not a frame size")
    return w, h


def read_openpose_json(path: str | Path, *, fps: float | None = None, width: int | None = None,
                       height: int | None = None, normalized: bool | None = None,
                       layout: str | None = None, **_) -> PoseSeq:
    """A ``.json`` file: POSE_KEYPOINT (a list of frames, or one frame object with
    ``canvas_width``) or a single OpenPose frame file (``{"people": [...]}``)."""
    path = Path(path)
    data = _load_json(path)
    frames_data = data if isinstance(data, list) else [data]
    if not frames_data:
        raise InputError(path, "holds no frames")
    canvas = None
    frames = []
    for k, frame in enumerate(frames_data):
        frames.append(_people(frame, path))
        if isinstance(frame, dict) and "canvas_width" in frame:
            size = _canvas(frame, path)
            if canvas is not None and size != canvas:
                raise InputError(path, f"frame {k}: canvas {size} differs from {canvas}")
            canvas = size
    return _to_pose(frames, path, fps=_fps(fps, path), width=width, height=height,
                    normalized=normalized, layout=layout, canvas=canvas,
                    input_bytes=_size(path), records=len(frames))


# -- writing -----------------------------------------------------------------------------------
def _for_openpose(pose: PoseSeq, body: str | None) -> PoseSeq:
    """The pose in openpose-137 (BODY_25) or dwpose (COCO-18) layout."""
    name = get_layout(pose.layout).name
    want = {"body_25": "openpose-137", "coco": "dwpose", "coco-18": "dwpose", None: None}.get(
        body.lower() if body else None, body)
    if want is None:
        want = name if name in BODY_LAYOUTS.values() else "dwpose"
    if want not in BODY_LAYOUTS.values():
        raise SignverseError(f"OpenPose JSON body must be BODY_25 or COCO, not {body}")
    if name != want:
        if not can_convert(name, want):
            raise SignverseError(f"layout {name} cannot be converted to {want} for OpenPose JSON")
        pose = convert(pose, want)
    return pose


def _flat(xy: np.ndarray, conf: np.ndarray, scale: np.ndarray) -> list[float]:
    ok = (conf > 0) & np.isfinite(xy).all(-1)
    values = np.where(ok[:, None], np.concatenate([xy / scale, conf[:, None]], -1), 0.0)
    return [round(float(v), 6) for v in values.ravel()]


def _people_records(pose: PoseSeq, t: int, normalized: bool) -> list[dict]:
    lay = get_layout(pose.layout)
    scale = np.array([pose.width, pose.height], np.float64) if normalized else np.ones(2)
    records = []
    for p in range(pose.n_persons):
        record = {"person_id": [-1]}
        for key, comp in zip(KEYS, COMPONENTS):
            sl = lay.slice(comp)
            record[key] = _flat(pose.xy[t, p, sl].astype(np.float64), pose.conf[t, p, sl], scale)
        for key in ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d",
                    "hand_right_keypoints_3d"):
            record[key] = []
        records.append(record)
    # Person slots stay in place (a tracked person keeps its index) but trailing empty ones go.
    present = pose.valid[t].any(-1)
    keep = int(np.nonzero(present)[0].max()) + 1 if present.any() else 0
    return records[:keep]


def write_openpose_folder(pose: PoseSeq, folder: str | Path, *, name: str = "video",
                          body: str | None = None, **_) -> Path:
    """One ``<name>_<frame:012d>_keypoints.json`` per frame into ``folder`` (OpenPose 1.7 layout,
    pixels; ``canvas_width``/``canvas_height``/``fps`` added). ``body``: ``BODY_25`` or ``COCO``
    (default: BODY_25 for openpose-137 poses, else COCO-18 via the dwpose layout)."""
    _refuse_no_frames(pose, folder, "an OpenPose folder")
    pose = _for_openpose(pose, body)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stale = [f for f in folder.glob("*_keypoints.json")]
    if stale:
        raise InputError(folder, f"already holds {len(stale)} OpenPose frame file(s); choose an "
                                 f"empty folder")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "video"
    for t in range(pose.n_frames):
        frame = {"version": 1.3, "people": _people_records(pose, t, False),
                 "canvas_width": pose.width, "canvas_height": pose.height, "fps": pose.fps}
        (folder / f"{safe}_{t:012d}_keypoints.json").write_text(json_dumps(frame), encoding="utf-8")
    return folder


def _refuse_no_frames(pose: PoseSeq, where: str | Path, what: str) -> None:
    # Zero frames would be an empty folder or "[]", which no reader (ours included) opens.
    if pose.n_frames == 0:
        raise InputError(where, f"the sequence has no frames; {what} of no frames cannot be read back")


def pose_keypoint_frames(pose: PoseSeq, *, normalized: bool = False, body: str | None = None) -> list[dict]:
    """The POSE_KEYPOINT list for ``pose`` (pixels, or fractions of the canvas if ``normalized``)."""
    pose = _for_openpose(pose, body)
    return [{"people": _people_records(pose, t, normalized), "canvas_width": pose.width,
             "canvas_height": pose.height} for t in range(pose.n_frames)]


def write_pose_keypoint(pose: PoseSeq, path: str | Path, *, normalized: bool = False,
                        body: str | None = None, **_) -> Path:
    """A POSE_KEYPOINT ``.json`` file (a list of frames with canvas size and people)."""
    path = Path(path)
    _refuse_no_frames(pose, path, "a POSE_KEYPOINT file")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = pose_keypoint_frames(pose, normalized=normalized, body=body)
    path.write_text(json_dumps(frames), encoding="utf-8")
    return path

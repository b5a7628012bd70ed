"""The release's ``poses.npz``: safe reading (with the two known repairs) and writing.

Reading never unpickles with numpy (see :mod:`.safe_npz`). The arrays of all frames are gathered
per key and decoded with one ``np.frombuffer`` each, so a 10k-frame video costs a few hundred ms.

Repairs done by ``repair=True`` (the default) — see ``shared/docs/signverse2m-release-format.md``:

1. ``body_scores`` hold OpenPose subset indices (``18*p+j``, or -1), not confidences. A body point
   is valid iff its stored score is >= 0; its confidence was lost, so valid body points get
   ``conf = 1.0`` (they all had confidence > 0.3 in the detector).
2. With N >= 2 people in a frame the hands were stored as ``hands[2p]`` / ``hands[2p+1]`` of a
   detector list that holds all left hands first. The stored sequence ``[p0.left, p0.right,
   p1.left, ...]`` is re-read so that true left of person p = item p, true right = item N+p.

``repair=False`` returns the hands exactly as stored. Body validity is the same in both modes
(``score >= 0``, conf 1.0): a PoseSeq needs conf > 0 for valid points, and index 0 (nose of person
0) is a valid point, so the stored indices cannot serve as conf. The untouched stored values,
``body_scores`` included, are available from :func:`read_npz_arrays`.

Frames are placed on the timeline by ``frame_indices`` only when those are usable (one strictly
increasing 1-based index per payload, or the legacy "each index written twice" form); otherwise
(empty, wrong length, out of order) payload k is frame k.
"""
from __future__ import annotations

import io
import logging
import math
import operator
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Mapping, Sequence

import numpy as np

from signverse.core.errors import InputError
from signverse.core.limits import MAX_PERSONS, budget_hint, check_fps, decode_budget
from signverse.core.pose import PoseSeq
from signverse.io.signverse2m.complete import fps_from_complete, read_complete
from signverse.io.signverse2m.safe_npz import RawArray, gc_paused, inflated_size, load_npz

log = logging.getLogger(__name__)

LAYOUT = "dwpose"
N_BODY, N_FACE, N_HAND = 18, 68, 21
# (payload field, points, slice of the dwpose layout)
PARTS = (("body", N_BODY, slice(0, 18)), ("face", N_FACE, slice(18, 86)),
         ("left_hand", N_HAND, slice(86, 107)), ("right_hand", N_HAND, slice(107, 128)))
N_POINTS = 128
TOP_KEYS = ("video_id", "fps", "total_frames", "frame_widths", "frame_heights", "frame_indices",
            "frame_payloads")
_F4 = np.dtype("<f4")
_I4 = np.dtype("<i4")
# Bytes one person-frame takes once decoded: stacked keypoints + scores, then the PoseSeq's xy + conf.
_BYTES_PER_PERSON_FRAME = 2 * N_POINTS * 3 * 4
# The release's threshold: body points with confidence <= 0.3 were stored with score -1.
RELEASE_BODY_THRESHOLD = 0.3


@dataclass(frozen=True, eq=False)
class NpzArrays:
    """Everything a ``poses.npz`` holds, stacked over frames, exactly as stored (no repair).

    Per-person arrays are ``[n, P, ...]`` with ``P`` = max ``num_persons``; persons absent from a
    frame are NaN. Coordinates are normalised (0..1 of the detector image), ``body_scores`` are
    the stored subset indices.
    """

    source: str
    video_id: str | None
    fps: float
    total_frames: int | None
    frame_indices: np.ndarray      # int [m] as stored (may be empty or duplicated)
    frame_widths: np.ndarray       # int [n], from the payloads
    frame_heights: np.ndarray      # int [n]
    num_persons: np.ndarray        # int [n]
    keypoints: dict[str, np.ndarray]  # part -> float32 [n, P, K, 2]
    scores: dict[str, np.ndarray]     # part -> float32 [n, P, K]
    input_bytes: int = 0              # size of the file(s) read: bounds the decoded timeline

    @property
    def n_payloads(self) -> int:
        return int(self.num_persons.shape[0])


# -- decoding helpers ----------------------------------------------------------------------------

def _value(v: Any, label: str = "<npz>", where: str = "a frame payload") -> np.ndarray:
    """A payload value as an array: only numeric arrays and plain numbers are accepted (lists,
    dicts and object arrays could be ragged, nested thousands deep, or share one array from many
    places; the release never stores them, so they are refused without being walked)."""
    if type(v) is RawArray:
        try:
            if v.dtype.kind not in "biuf":
                raise ValueError(f"dtype {v.dtype} is not numeric")
            return v.array()
        except (pickle.UnpicklingError, TypeError, ValueError) as exc:
            raise InputError(label, f"damaged array in {where} ({exc})") from None
    if type(v) in (int, float, bool) or (isinstance(v, (np.ndarray, np.generic))
                                         and v.dtype.kind in "biuf"):
        return np.asarray(v)   # per-frame files: members come back as arrays
    raise InputError(label, f"{where} holds a {type(v).__name__}, not a numeric array")


def _gather(payloads: Sequence[Mapping], frames: Sequence[int] | None, key: str,
            shape: tuple[int, ...], dtype: np.dtype, label: str) -> np.ndarray:
    """``payloads[t][key]`` for t in ``frames`` (None: all) stacked to ``[n, *shape]``.

    The hot path of the reader. For the usual case (every value a C-ordered RawArray of the
    expected shape, dtype and size) all checks run as C-level ``map``/``set`` passes and the raw
    bytes of all frames are decoded by one ``np.frombuffer``; anything else takes the slow path,
    which converts value by value and names the first bad frame.
    """
    rows = payloads if frames is None else [payloads[t] for t in frames]
    n = len(rows)
    if frames is None:
        frames = range(n)
    if not n:
        return np.zeros((0,) + shape, dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    try:
        values = list(map(operator.itemgetter(key), rows))
    except KeyError:
        return _gather_slow(payloads, frames, key, shape, dtype, label)
    if set(map(type, values)) == {RawArray}:
        try:
            states = list(map(_STATE, values))
        except AttributeError:   # made without state (pickle NEWOBJ): let the slow path report it
            return _gather_slow(payloads, frames, key, shape, dtype, label)
        data = list(map(_DATA, states))
        stubs = set(map(id, map(_DTYPE, states)))
        if (set(map(_SHAPE, states)) == {shape} and set(map(type, data)) == {bytes}
                and set(map(len, data)) == {nbytes} and not any(map(_FORTRAN, states))
                and len(stubs) <= 4 and all(_dtype_of(states, i, dtype) for i in stubs)):
            return np.frombuffer(b"".join(data), dtype=dtype).reshape((n,) + shape)
    return _gather_slow(payloads, frames, key, shape, dtype, label)


_STATE = operator.attrgetter("state")
_SHAPE, _DTYPE, _FORTRAN, _DATA = (operator.itemgetter(i) for i in (1, 2, 3, 4))


def _dtype_of(states, stub_id: int, dtype: np.dtype) -> bool:
    stub = next(st[2] for st in states if id(st[2]) == stub_id)
    return RawArray.dtype_is_stub(stub, dtype)


def _gather_slow(payloads, frames, key, shape, dtype, label) -> np.ndarray:
    out = np.empty((len(frames),) + shape, dtype=dtype)
    for i, t in enumerate(frames):
        v = payloads[t].get(key)
        if v is None:
            raise InputError(label, f"frame payload {t}: missing key '{key}'")
        arr = _value(v, label, f"frame payload {t}: '{key}'")
        if arr.shape != shape or arr.dtype.kind not in "biuf":
            raise InputError(label, f"frame payload {t}: '{key}' has shape {arr.shape} dtype {arr.dtype}, "
                                    f"expected {shape} numbers")
        out[i] = arr
    return out


def _check_finite(arr: np.ndarray, key: str, frames: Sequence[int], label: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(frames), -1).any(1))[0, 0])
        raise InputError(label, f"frame payload {frames[first]}: '{key}' contains NaN/inf values")


def check_budget(label: str, frames: int, persons: int, input_bytes: int, what: str) -> None:
    """Refuse a decoded size (``frames`` x ``persons`` person-frames) beyond what an input of
    ``input_bytes`` can honestly hold (see :func:`signverse.core.limits.decode_budget`)."""
    need = frames * max(1, persons) * _BYTES_PER_PERSON_FRAME
    if need > decode_budget(input_bytes):
        raise InputError(label, f"{what}: {frames} frames x {max(1, persons)} persons would decode to "
                                f"{need >> 20} MiB from {input_bytes} bytes of input ({budget_hint()})")


def stack_payloads(payloads: Sequence[Mapping], label: str, input_bytes: int = 0):
    """Stack per-frame payload dicts into ``(num_persons, widths, heights, keypoints, scores)``.

    ``input_bytes`` (the size of the file(s) the payloads came from) bounds the decoded size.
    """
    n = len(payloads)
    # A pickle can list one payload a million times in two bytes each: bound the frame count
    # before anything is gathered per frame.
    check_budget(label, n, 1, input_bytes, "the payloads")
    for t, p in enumerate(payloads):
        if not isinstance(p, dict):
            raise InputError(label, f"frame payload {t} is a {type(p).__name__}, not a dict")
    if n:
        num = _gather(payloads, None, "num_persons", (), _I4, label).astype(np.int64)
        widths = _gather(payloads, None, "frame_width", (), _I4, label).astype(np.int64)
        heights = _gather(payloads, None, "frame_height", (), _I4, label).astype(np.int64)
    else:
        num = widths = heights = np.zeros(0, np.int64)
    if (num < 0).any():
        raise InputError(label, f"frame payload {int(np.argmax(num < 0))}: negative num_persons")
    max_persons = MAX_PERSONS.value()
    if (num > max_persons).any():
        t = int(np.argmax(num > max_persons))
        raise InputError(label, f"frame payload {t}: num_persons is {int(num[t])}, more than "
                                f"{MAX_PERSONS.what} allowed ({MAX_PERSONS.hint()})")
    if n and ((widths <= 0).any() or (heights <= 0).any()):
        raise InputError(label, f"frame payload {int(np.argmax((widths <= 0) | (heights <= 0)))}: "
                                "frame_width/frame_height must be positive")
    n_persons = int(num.max()) if n else 0
    check_budget(label, n, n_persons, input_bytes, "the payloads")
    # Check the claimed person count against the keys before allocating [n, P, ...] arrays
    # (once per payload object: a pickle may reference one dict from every frame).
    keys = [f"person_{p:03d}_{part}_{kind}" for p in range(n_persons) for part, _, _ in PARTS
            for kind in ("keypoints", "scores")]
    checked: set[int] = set()
    for t in np.flatnonzero(num > 0).tolist():
        payload = payloads[t]
        if id(payload) in checked:
            continue
        checked.add(id(payload))
        claimed = keys[:8 * int(num[t])]
        if not payload.keys() >= set(claimed):
            missing = next(k for k in claimed if k not in payload)
            raise InputError(label, f"frame payload {t}: num_persons is {int(num[t])} but key "
                                    f"'{missing}' is missing")
    keypoints = {part: np.full((n, n_persons, k, 2), np.nan, np.float32) for part, k, _ in PARTS}
    scores = {part: np.full((n, n_persons, k), np.nan, np.float32) for part, k, _ in PARTS}
    for p in range(n_persons):
        present = np.flatnonzero(num > p).tolist()
        every = len(present) == n
        prefix = f"person_{p:03d}_"
        for part, k, _ in PARTS:
            for key, shape, target in ((f"{prefix}{part}_keypoints", (k, 2), keypoints),
                                       (f"{prefix}{part}_scores", (k,), scores)):
                arr = _gather(payloads, None if every else present, key, shape, _F4, label)
                _check_finite(arr, key, present, label)
                target[part][slice(None) if every else present, p] = arr
    return num, widths, heights, keypoints, scores


def _top(arrays: Mapping[str, Any], key: str, label: str, *, required: bool = True):
    if key not in arrays:
        if required:
            raise InputError(label, f"missing key '{key}' (keys: {', '.join(sorted(arrays)) or 'none'})")
        return None
    return arrays[key]


def _top_scalar(arrays, key, label, *, required=True):
    v = _top(arrays, key, label, required=required)
    if v is None:
        return None
    arr = np.asarray(v)
    if arr.size != 1:
        raise InputError(label, f"'{key}' must be a single value, got shape {arr.shape}")
    return arr.reshape(()).item()


def arrays_from_mapping(arrays: Mapping[str, Any], label: str, input_bytes: int = 0) -> NpzArrays:
    """Build :class:`NpzArrays` from the decoded members of a ``poses.npz``."""
    payloads = _top(arrays, "frame_payloads", label)
    input_bytes = int(input_bytes)
    if not isinstance(payloads, np.ndarray) or payloads.dtype != object or payloads.ndim != 1:
        raise InputError(label, "'frame_payloads' must be a 1-d object array of dicts")
    fps = _top_scalar(arrays, "fps", label)
    if not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise InputError(label, f"bad fps {fps!r}")
    check_fps(float(fps), label)
    video_id = _top_scalar(arrays, "video_id", label, required=False)
    total = _top_scalar(arrays, "total_frames", label, required=False)
    if total is not None and not (isinstance(total, int) and total >= 0):
        log.warning("%s: ignoring bad total_frames %r", label, total)
        total = None
    indices = _top(arrays, "frame_indices", label, required=False)
    indices = np.zeros(0, np.int64) if indices is None else np.asarray(indices).reshape(-1)
    if indices.dtype.kind not in "iu":
        raise InputError(label, f"'frame_indices' must be integers, got {indices.dtype}")
    num, widths, heights, keypoints, scores = stack_payloads(list(payloads), label, input_bytes)
    return NpzArrays(label, None if video_id is None else str(video_id), float(fps),
                     None if total is None else int(total), indices.astype(np.int64),
                     frame_widths=widths, frame_heights=heights, num_persons=num,
                     keypoints=keypoints, scores=scores, input_bytes=input_bytes)


def read_npz_arrays(source: str | Path | bytes | IO[bytes], *, name: str | None = None) -> NpzArrays:
    """Read a release ``poses.npz`` safely into stacked, un-repaired arrays."""
    label = name or str(source if isinstance(source, (str, Path)) else "<poses.npz>")
    with gc_paused():   # the decoded payloads are freed (by refcount) before the GC resumes
        return arrays_from_mapping(load_npz(source, name=label, keys=TOP_KEYS), label,
                                   _input_size(source))


def _input_size(source: Any) -> int:
    """Bytes of a path, bytes object or seekable file (0 when unknown: only the floor applies)."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            return len(source)
        if isinstance(source, (str, Path)):
            return os.stat(source).st_size
        return os.fstat(source.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return 0


# -- timeline and repairs ------------------------------------------------------------------------

def frame_positions(arrays: NpzArrays) -> tuple[np.ndarray, int]:
    """Where each payload goes on the 0-based timeline, and the timeline length.

    ``frame_indices`` are used only when they make sense; see the module docstring.
    """
    n, idx = arrays.n_payloads, arrays.frame_indices
    if len(idx) == 2 * n and n and np.array_equal(idx[0::2], idx[1::2]):
        idx = idx[0::2]   # legacy mode: each index written twice
    if len(idx) == n and n and idx[0] >= 1 and (np.diff(idx) > 0).all():
        total = max(int(idx[-1]), arrays.total_frames or 0)
        if total <= max(4 * n, n + 100_000):   # a huge gap means the indices are nonsense
            persons = int(arrays.num_persons.max())
            check_budget(arrays.source, total, persons, arrays.input_bytes, "frame_indices")
            return idx - 1, total
    if n:
        log.warning("%s: frame_indices unusable (%d indices for %d payloads); payload k = frame k",
                    arrays.source, len(arrays.frame_indices), n)
    return np.arange(n), n


def _repair_hands(left: np.ndarray, right: np.ndarray, num: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo the release's hand mix-up for frames with 2+ persons (works on xy or score arrays)."""
    left, right = left.copy(), right.copy()
    for n in np.unique(num[num >= 2]).tolist():
        rows = np.flatnonzero(num == n)
        stored = np.stack([left[rows, :n], right[rows, :n]], axis=2)   # [r, n, 2, ...]
        stored = stored.reshape((len(rows), 2 * n) + stored.shape[3:])  # p0.L, p0.R, p1.L, ...
        left[rows, :n] = stored[:, :n]
        right[rows, :n] = stored[:, n:]
    return left, right


def arrays_to_pose(arrays: NpzArrays, *, repair: bool = True, person: int | None = None) -> PoseSeq:
    """Turn stored arrays into a PoseSeq in the ``dwpose`` layout, pixel coordinates."""
    num, n = arrays.num_persons, arrays.n_payloads
    kp = dict(arrays.keypoints)
    sc = dict(arrays.scores)
    if repair:
        kp["left_hand"], kp["right_hand"] = _repair_hands(kp["left_hand"], kp["right_hand"], num)
        sc["left_hand"], sc["right_hand"] = _repair_hands(sc["left_hand"], sc["right_hand"], num)
    n_persons = max(1, int(num.max()) if n else 0)
    xy = np.full((n, n_persons, N_POINTS, 2), np.nan, np.float32)
    conf = np.zeros((n, n_persons, N_POINTS), np.float32)
    stored_p = kp["body"].shape[1]
    for part, _, sl in PARTS:
        xy[:, :stored_p, sl] = kp[part]
        s = sc[part]
        if part == "body":
            s = np.where(s >= 0, 1.0, 0.0)   # NaN (absent person) compares False -> 0
        conf[:, :stored_p, sl] = np.nan_to_num(s, nan=0.0)
    if n:
        sizes, counts = np.unique(np.stack([arrays.frame_widths, arrays.frame_heights], 1), axis=0,
                                  return_counts=True)
        width, height = (int(v) for v in sizes[np.argmax(counts)])
        if len(sizes) > 1:
            log.warning("%s: frame size varies over frames; coordinates use %dx%d", arrays.source,
                        width, height)
    else:
        width = height = 512
    with np.errstate(over="ignore"):   # absurd coordinates become inf, i.e. missing
        xy *= np.array([width, height], np.float32)
    positions, total = frame_positions(arrays)
    if total != n or not np.array_equal(positions, np.arange(n)):
        full_xy = np.full((total, n_persons, N_POINTS, 2), np.nan, np.float32)
        full_conf = np.zeros((total, n_persons, N_POINTS), np.float32)
        full_xy[positions], full_conf[positions] = xy, conf
        xy, conf = full_xy, full_conf
    if person is not None:
        if not 0 <= person:
            raise InputError(arrays.source, f"person must be >= 0, got {person}")
        if person >= n_persons:
            xy = np.full(xy.shape[:1] + (1,) + xy.shape[2:], np.nan, np.float32)
            conf = np.zeros(conf.shape[:1] + (1,) + conf.shape[2:], np.float32)
        else:
            xy, conf = xy[:, person:person + 1], conf[:, person:person + 1]
    return PoseSeq(xy, conf, fps=arrays.fps, width=width, height=height, layout=LAYOUT)


def read_poses_npz(path: str | Path | bytes, *, repair: bool = True, person: int | None = None,
                   name: str | None = None) -> PoseSeq:
    """Read a SignVerse-2M ``poses.npz`` (or a per-frame ``npz/`` directory) into a PoseSeq.

    Layout ``dwpose`` (128 points), xy in pixels of the detector image, ``P`` = max persons per
    frame (absent persons missing), ``person=i`` keeps only person i. ``path`` may also be a
    video folder or its ``npz/`` folder (single file or per-frame variant). Nothing is unpickled
    with numpy: a file whose pickle references anything but plain arrays is refused (InputError).
    If the frame size varies between payloads, all coordinates are expressed in the most common
    size (normalised coordinates are relative to each payload's own frame).

    >>> # pose = read_poses_npz("abc123/npz/poses.npz"); pose.layout == "dwpose"
    """
    if isinstance(path, (str, Path)) and Path(path).is_dir():
        directory = Path(path)
        if (directory / "npz").is_symlink():
            raise InputError(directory / "npz", "symbolic link refused (a release folder holds its own files)")
        if (directory / "npz").is_dir():   # the video folder itself
            directory = directory / "npz"
        if (directory / "poses.npz").is_file():
            path = directory / "poses.npz"
        else:
            return read_per_frame_dir(directory, repair=repair, person=person)
    return arrays_to_pose(read_npz_arrays(path, name=name), repair=repair, person=person)


# -- per-frame variant ---------------------------------------------------------------------------

def per_frame_arrays(files: Sequence[tuple[str, Any]], *, fps: float, label: str,
                     video_id: str | None = None) -> NpzArrays:
    """Stack the per-frame variant: ``files`` = [(name like '00000001.npz', path or bytes), ...]."""
    payloads, indices, size = [], [], 0
    files = sorted(files, key=lambda item: Path(item[0]).name)
    # load_npz bounds each file by its own size (or the floor), but the payloads of all frames are
    # kept: bound their sum by the whole folder, before anything is inflated (40 files of 62 KB
    # each inflating to 60 MB took 2.4 GB).
    total = sum(_input_size(src) for _, src in files)
    inflated = sum(inflated_size(src) for _, src in files)
    if inflated > decode_budget(total):
        raise InputError(label, f"{len(files)} per-frame files inflate to {inflated} bytes from "
                                f"{total} bytes, more than they can honestly hold ({budget_hint()})")
    for fname, src in files:
        stem = Path(fname).stem
        if not stem.isdigit():
            raise InputError(label, f"unexpected file {fname} (per-frame files are named 00000001.npz, ...)")
        payloads.append(load_npz(src, name=f"{label}/{Path(fname).name}"))
        indices.append(int(stem))
        size += _input_size(src)
    num, widths, heights, keypoints, scores = stack_payloads(payloads, label, size)
    return NpzArrays(label, video_id, float(fps), len(payloads), np.asarray(indices, np.int64),
                     frame_widths=widths, frame_heights=heights, num_persons=num,
                     keypoints=keypoints, scores=scores, input_bytes=size)


def read_per_frame_dir(directory: str | Path, *, repair: bool = True, person: int | None = None,
                       fps: float | None = None) -> PoseSeq:
    """Read the per-frame variant ``<video_id>/npz/00000001.npz, ...`` into a PoseSeq.

    ``fps`` defaults to the ``fps`` line of ``.complete`` in the same folder, else 24.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory")
    files = [(p.name, p) for p in directory.glob("*.npz") if p.stem.isdigit()]
    if not files:
        raise InputError(directory, "no poses.npz and no per-frame NNNNNNNN.npz files")
    complete = read_complete(directory / ".complete") if (directory / ".complete").is_file() else {}
    if fps is None:
        fps = fps_from_complete(complete, directory)
    arrays = per_frame_arrays(files, fps=fps, label=str(directory), video_id=complete.get("video_id"))
    return arrays_to_pose(arrays, repair=repair, person=person)


# -- writing -------------------------------------------------------------------------------------

def _payload_arrays(pose: PoseSeq, body_threshold: float):
    """Normalised coordinates and release-style scores, in the release's stored hand order."""
    if pose.width <= 0 or pose.height <= 0:
        raise InputError(None, f"cannot normalise coordinates: frame size {pose.width}x{pose.height}")
    scale = np.array([pose.width, pose.height], np.float32)
    valid = pose.conf > 0
    xy = np.where(valid[..., None], pose.xy / scale, np.float32(-1.0)).astype(np.float32)
    conf = np.where(valid, pose.conf, 0.0).astype(np.float32)
    present = valid.any(-1)                                       # [T, P]
    if present.shape[1] == 0:   # a sequence without person slots: every frame holds nobody
        num = np.zeros(present.shape[0], np.int64)
    else:
        has = present[:, ::-1].argmax(1)
        num = np.where(present.any(1), present.shape[1] - has, 0)  # 1 + last present person
    parts = {part: (xy[:, :, sl], conf[:, :, sl]) for part, _, sl in PARTS}
    body_xy, body_conf = parts["body"]
    index = 18 * np.arange(pose.n_persons)[:, None] + np.arange(N_BODY)[None, :]
    body_scores = np.where(body_conf > body_threshold, index[None].astype(np.float32), np.float32(-1))
    body_xy = np.where((body_scores >= 0)[..., None], body_xy, np.float32(-1)).astype(np.float32)
    parts["body"] = (body_xy, body_scores.astype(np.float32))
    # Store hands the way the release did, so that a repairing reader gets the truth back:
    # the detector list is [L0..L(N-1), R0..R(N-1)] and person p got items 2p and 2p+1.
    lxy, lsc = parts["left_hand"]
    rxy, rsc = parts["right_hand"]
    lxy, rxy, lsc, rsc = lxy.copy(), rxy.copy(), lsc.copy(), rsc.copy()
    for n in np.unique(num[num >= 2]).tolist():
        rows = np.flatnonzero(num == n)
        for a_l, a_r in ((lxy, rxy), (lsc, rsc)):
            det = np.concatenate([a_l[rows, :n], a_r[rows, :n]], axis=1)   # detector order
            det = det.reshape((len(rows), n, 2) + det.shape[2:])
            a_l[rows, :n], a_r[rows, :n] = det[:, :, 0], det[:, :, 1]
    parts["left_hand"], parts["right_hand"] = (lxy, lsc), (rxy, rsc)
    return num, parts


def poses_npz_bytes(pose: PoseSeq, *, video_id: str, frame_indices: Sequence[int] | None = None,
                    body_threshold: float = RELEASE_BODY_THRESHOLD) -> bytes:
    """The bytes of a release-format ``poses.npz`` for ``pose`` (see :func:`write_poses_npz`)."""
    if pose.layout != LAYOUT:
        from signverse.layouts.convert import convert
        pose = convert(pose, LAYOUT)
    if abs(pose.fps - round(pose.fps)) > 1e-6:
        raise InputError(None, f"the release stores an integer fps; resample {pose.fps:g} fps first")
    t = pose.n_frames
    indices = np.arange(1, t + 1) if frame_indices is None else np.asarray(frame_indices)
    if indices.shape != (t,):
        raise InputError(None, f"frame_indices must have {t} values, got {indices.shape}")
    num, parts = _payload_arrays(pose, body_threshold)
    w, h = np.int32(pose.width), np.int32(pose.height)
    payloads = np.empty(t, dtype=object)
    names = [(p, [(f"person_{p:03d}_{part}_keypoints", f"person_{p:03d}_{part}_scores", part)
                  for part, _, _ in PARTS]) for p in range(pose.n_persons)]
    for i in range(t):
        n = int(num[i])
        payload: dict[str, np.ndarray] = {"num_persons": np.array(n, np.int32),
                                          "frame_width": np.array(w), "frame_height": np.array(h)}
        for p, keys in names[:n]:
            for k_xy, k_sc, part in keys:
                pxy, psc = parts[part]
                payload[k_xy] = pxy[i, p].copy()
                payload[k_sc] = psc[i, p].copy()
        payloads[i] = payload
    buf = io.BytesIO()
    np.savez(buf, video_id=np.array(str(video_id)), fps=np.array(round(pose.fps), np.int32),
             total_frames=np.array(t, np.int32), frame_widths=np.full(t, w, np.int32),
             frame_heights=np.full(t, h, np.int32), frame_indices=indices.astype(np.int32),
             frame_payloads=payloads)
    return buf.getvalue()


def write_poses_npz(pose: PoseSeq, path: str | Path, *, video_id: str | None = None,
                    frame_indices: Sequence[int] | None = None,
                    body_threshold: float = RELEASE_BODY_THRESHOLD) -> Path:
    """Write ``pose`` as the release's ``poses.npz`` (np.savez, uncompressed, same keys/dtypes).

    Coordinates are normalised by the frame size; missing points are written as (-1, -1) with
    score 0 (face/hands) or -1 (body). ``body_scores`` hold ``18*p+j`` where ``conf >
    body_threshold`` (the release's 0.3) else -1, and body points at or below the threshold are
    written as missing, as the release did (so body confidences are not kept, and a body point
    read back with confidence 1.0 really had more than 0.3). With 2+ persons in a frame the
    hands are written in the release's mixed-up order, so a repairing reader round-trips them.
    ``video_id`` defaults to the name of the folder above ``npz/``. Written atomically.
    """
    path = Path(path)
    if video_id is None:
        video_id = path.parent.parent.name if path.parent.name == "npz" else path.stem
    data = poses_npz_bytes(pose, video_id=video_id, frame_indices=frame_indices,
                           body_threshold=body_threshold)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path

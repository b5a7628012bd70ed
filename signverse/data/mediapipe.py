"""Importers for the 1662-value MediaPipe Holistic keypoint vector of the "action detection" tutorial.

Per frame: pose 33 x (x, y, z, visibility) | face 468 x (x, y, z) | left hand 21 x 3 | right hand
21 x 3, zeros where a part was not detected. Stored as ``<root>/<word>/<sequence>/<frame>.npy``
(``MP_Data``) or packed ``.npz`` arrays (the ISLR-MP folder: ``x [n, T, 1662]`` or ``x_0000..``,
``y`` class names, ``seq_ids``).

Mapping into the ``mediapipe-holistic`` layout (543 points): x, y are normalised image coordinates,
multiplied by a nominal frame size (default 640 x 480, the usual webcam size of these recordings;
pass ``width=1, height=1`` to keep them normalised); z, MediaPipe's relative depth (roughly the
scale of x), becomes the pose's ``z`` times the same width. A point whose
x, y, z are all zero is missing. Body confidence = MediaPipe visibility (exactly 0 -> missing);
face and hand points get confidence 1 where present. ``layout="dwpose"`` converts on through
``signverse.layouts.convert``.
"""
from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.data.sample import Sample

log = logging.getLogger(__name__)

MP_VECTOR_SIZE = 1662
MP_BLOCKS = {"body": (0, 132, 33, 4), "face": (132, 1536, 468, 3),
             "left_hand": (1536, 1599, 21, 3), "right_hand": (1599, 1662, 21, 3)}
NOMINAL_WIDTH, NOMINAL_HEIGHT, NOMINAL_FPS = 640, 480, 30.0


def vectors_to_pose(x: np.ndarray, *, width: int = NOMINAL_WIDTH, height: int = NOMINAL_HEIGHT,
                    fps: float = NOMINAL_FPS, layout: str = "mediapipe-holistic") -> PoseSeq:
    """``[T, 1662]`` keypoint vectors -> a one-person ``PoseSeq`` (see the module docstring)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != MP_VECTOR_SIZE:
        raise ValueError(f"expected [T, {MP_VECTOR_SIZE}] vectors, got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    t = x.shape[0]
    xy_parts, z_parts, conf_parts = [], [], []
    for name, (a, b, n, d) in MP_BLOCKS.items():
        block = x[:, a:b].reshape(t, n, d)
        present = np.any(block[..., :3] != 0, axis=-1) & np.isfinite(block[..., :3]).all(-1)
        conf = block[..., 3] if name == "body" else np.ones((t, n), np.float32)
        present &= np.isfinite(conf)   # an inf visibility is a broken point, not a certain one
        xy_parts.append(block[..., :2])
        z_parts.append(np.where(present, block[..., 2], np.nan))
        conf_parts.append(np.where(present, conf, 0.0).astype(np.float32))
    xy = np.concatenate(xy_parts, axis=1) * np.array([width, height], np.float32)
    z = np.concatenate(z_parts, axis=1) * np.float32(width)
    conf = np.concatenate(conf_parts, axis=1)
    pose = PoseSeq(xy[:, None], conf[:, None], fps=fps, width=width, height=height,
                   layout="mediapipe-holistic", z=z[:, None].astype(np.float32))
    if layout != "mediapipe-holistic":
        from signverse.layouts import convert
        pose = convert(pose, layout)
    return pose


def pose_to_vectors(pose: PoseSeq, person: int = 0) -> np.ndarray:
    """Inverse of ``vectors_to_pose`` for a ``mediapipe-holistic`` pose: ``[T, 1662]`` float32
    (z from the pose's depth where it has one, else 0; visibility = body confidence; zeros for
    missing points)."""
    from signverse.layouts import get_layout
    if get_layout(pose.layout).name != "mediapipe-holistic":
        raise ValueError(f"pose_to_vectors needs a mediapipe-holistic pose, got {pose.layout}")
    xy = np.nan_to_num(pose.xy[:, person] / np.array([pose.width, pose.height], np.float32))
    z = (np.zeros(xy.shape[:2], np.float32) if pose.z is None
         else np.nan_to_num(pose.z[:, person] / np.float32(pose.width)))
    conf = pose.conf[:, person]
    t = pose.n_frames
    out = np.zeros((t, MP_VECTOR_SIZE), np.float32)
    at = 0
    for name, (a, b, n, d) in MP_BLOCKS.items():
        block = np.zeros((t, n, d), np.float32)
        block[..., :2] = xy[:, at:at + n]
        block[..., 2] = np.where(conf[:, at:at + n] > 0, z[:, at:at + n], 0.0)
        if name == "body":
            block[..., 3] = conf[:, at:at + n]
        out[:, a:b] = block.reshape(t, -1)
        at += n
    return out


class VectorPose:
    """Picklable lazy pose: keeps the compact (often float16) ``[T, 1662]`` array and builds the
    float32 PoseSeq on call (a class, not a lambda, so spawned DataLoader workers can take it)."""

    __slots__ = ("array", "options")

    def __init__(self, array: np.ndarray, **options):
        self.array = array
        self.options = options

    def __call__(self) -> PoseSeq:
        return vectors_to_pose(self.array, **self.options)


def _lazy(x: np.ndarray, **kw) -> VectorPose:
    return VectorPose(x, **kw)


def samples_from_arrays(arrays: Sequence[np.ndarray], labels: Sequence[str], *,
                        ids: Sequence[str] | None = None, signer: str | None = None,
                        sign_language: str | None = None, lazy: bool = True, **pose_options
                        ) -> list[Sample]:
    """Samples from packed ``[T, 1662]`` arrays (one per sequence) and their labels."""
    ids = list(ids) if ids is not None else [f"{i:05d}" for i in range(len(arrays))]
    out = []
    for arr, label, sid in zip(arrays, labels, ids):
        pose = _lazy(arr, **pose_options) if lazy else vectors_to_pose(arr, **pose_options)
        full_id = f"{signer}/{sid}" if signer else str(sid)
        out.append(Sample(full_id, pose, label=str(label), signer=signer,
                          sign_language=sign_language, video_id=full_id, n_frames=len(arr)))
    return out


# -- MP_Data folders ---------------------------------------------------------------------------
def _frame_number(path: Path) -> int | None:
    return int(path.stem) if re.fullmatch(r"\d+", path.stem) else None


def read_mp_sequence(folder: str | Path) -> np.ndarray:
    """``<folder>/0.npy, 1.npy, ...`` -> ``[T, 1662]`` float32; InputError on a gap or bad file."""
    folder = Path(folder)
    frames = sorted((n, p) for p in folder.glob("*.npy") if (n := _frame_number(p)) is not None)
    if not frames:
        raise InputError(folder, "no <frame>.npy files")
    numbers = [n for n, _ in frames]
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))[:5]
        raise InputError(folder, f"frames are not 0..{len(numbers) - 1} (missing {missing})")
    rows = []
    for _, path in frames:
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(path, f"not a readable .npy file ({exc})") from None
        if arr.shape != (MP_VECTOR_SIZE,) or arr.dtype.kind not in "biuf":
            raise InputError(path, f"expected a ({MP_VECTOR_SIZE},) numeric keypoint vector, got "
                                   f"{arr.shape} {arr.dtype}")
        rows.append(arr)
    return np.stack(rows).astype(np.float32)


def is_mp_data(root: str | Path) -> bool:
    """True when ``root`` looks like ``<word>/<sequence>/<frame>.npy``."""
    root = Path(root)
    return root.is_dir() and next(iter(root.glob("*/*/*.npy")), None) is not None


def read_mp_data(root: str | Path, *, signer: str | None = None, sign_language: str | None = None,
                 errors: str = "skip", lazy: bool = False, **pose_options) -> list[Sample]:
    """All sequences of an ``MP_Data`` folder as Samples (label = word folder name).

    Sample ids are ``<signer>/<word>/<sequence>`` (signer defaults to None and is then left out).
    A bad sequence raises InputError with ``errors="raise"``; with ``"skip"`` it is logged and the
    rest carries on.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such MP_Data folder")
    out: list[Sample] = []
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        seq_dirs = [p for p in word_dir.iterdir() if p.is_dir()]
        seq_dirs.sort(key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name))
        for seq_dir in seq_dirs:
            try:
                arr = read_mp_sequence(seq_dir)
            except InputError as exc:
                if errors == "raise":
                    raise
                log.warning("skipping %s", exc)
                continue
            sid = f"{word_dir.name}/{seq_dir.name}"
            out.extend(samples_from_arrays([arr], [word_dir.name], ids=[sid], signer=signer,
                                           sign_language=sign_language, lazy=lazy, **pose_options))
    return out


# -- packed npz (ISLR-MP) ----------------------------------------------------------------------
def _read_npz_arrays(path: Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    # The safe reader: a damaged zip, a member that inflates far beyond the file (a zip bomb) or
    # a header that claims more than the member holds is a one-line InputError, never a
    # MemoryError or zipfile's own exception (which would stop load_islr's whole batch).
    from signverse.io.signverse2m.safe_npz import load_npz
    z = load_npz(path, objects=False)   # plain arrays only: pickle data is refused, never decoded
    names = set(z)
    if "y" not in names:
        raise InputError(path, "no 'y' (class names) array")
    labels = [str(v) for v in z["y"].reshape(-1)]
    if "x" in names:
        x = z["x"]
        if x.ndim != 3 or x.shape[-1] != MP_VECTOR_SIZE:
            raise InputError(path, f"x must be [n, T, {MP_VECTOR_SIZE}], got {x.shape}")
        arrays = list(x)
    else:
        keys = sorted(k for k in names if re.fullmatch(r"x_\d+", k))
        arrays = [z[k] for k in keys]
        bad = [k for k, a in zip(keys, arrays) if a.ndim != 2 or a.shape[1] != MP_VECTOR_SIZE]
        if bad:
            raise InputError(path, f"{bad[0]} is not [T, {MP_VECTOR_SIZE}]")
    odd = next((a.dtype for a in arrays if a.dtype.kind not in "biuf"), None)
    if odd is not None:
        raise InputError(path, f"keypoint vectors must be numbers, not {odd}")
    seq_ids = [str(v) for v in z["seq_ids"].reshape(-1)] if "seq_ids" in names else \
        [f"{i:05d}" for i in range(len(arrays))]
    if not (len(arrays) == len(labels) == len(seq_ids)):
        raise InputError(path, f"{len(arrays)} sequences but {len(labels)} labels / "
                               f"{len(seq_ids)} seq_ids")
    return arrays, labels, seq_ids


def _cached_npz_arrays(path: Path, cache_dir: Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    # Decompressed copy keyed by name, size and mtime: later loads memory-map plain .npy files
    # instead of decompressing LZMA again. Written to a temporary folder, then renamed.
    st = path.stat()
    folder = cache_dir / f"{path.stem}-{st.st_size}-{st.st_mtime_ns}"
    if not (folder / "done").exists():
        arrays, labels, seq_ids = _read_npz_arrays(path)
        tmp = cache_dir / f".{folder.name}.{os.getpid()}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for i, arr in enumerate(arrays):
            np.save(tmp / f"x_{i:05d}.npy", np.ascontiguousarray(arr))
        np.save(tmp / "y.npy", np.asarray(labels))
        np.save(tmp / "seq_ids.npy", np.asarray(seq_ids))
        (tmp / "done").write_text(str(len(arrays)))
        try:
            tmp.rename(folder)
        except OSError:          # another process finished first: use its copy
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        return arrays, labels, seq_ids
    n = int((folder / "done").read_text())
    arrays = [np.load(folder / f"x_{i:05d}.npy", mmap_mode="r", allow_pickle=False) for i in range(n)]
    labels = [str(v) for v in np.load(folder / "y.npy", allow_pickle=False)]
    seq_ids = [str(v) for v in np.load(folder / "seq_ids.npy", allow_pickle=False)]
    return arrays, labels, seq_ids


def read_islr_npz(path: str | Path, *, signer: str | None = None, lazy: bool = True,
                  cache_dir: str | Path | None = None, **pose_options) -> list[Sample]:
    """One packed signer file -> Samples; signer = file stem (``<owner>__<repo>``), sample id
    ``<signer>/<seq_id>`` (e.g. ``.../MP_Data/hello/0``). With ``cache_dir``, a decompressed
    copy is kept there and memory-mapped by later calls (LZMA decompression is the slow part)."""
    path = Path(path)
    if cache_dir is not None:
        arrays, labels, seq_ids = _cached_npz_arrays(path, Path(cache_dir))
    else:
        arrays, labels, seq_ids = _read_npz_arrays(path)
    return samples_from_arrays(arrays, labels, ids=seq_ids, signer=signer or path.stem, lazy=lazy,
                               **pose_options)


def _within_budget(files: list[Path], errors: str) -> list[Path]:
    """Every signer file is kept in memory, and each may inflate to the decode floor (64 MiB)
    whatever its size: 100 small deflate bombs would take 6 GB together. When the folder's files
    together exceed the decode budget of their total size, the files that inflate more than the
    stated ratio (real signer files: under 3x) are refused, from their zip directories alone."""
    from signverse.core.limits import DECODE_RATIO, budget_hint, decode_budget
    from signverse.io.signverse2m.safe_npz import inflated_size
    sizes = {f: f.stat().st_size for f in files}
    inflated = {f: inflated_size(f) for f in files}
    if sum(inflated.values()) <= decode_budget(sum(sizes.values())):
        return files
    kept = []
    for f in files:
        if inflated[f] > DECODE_RATIO.value() * sizes[f]:
            exc = InputError(f, f"inflates to {inflated[f]} bytes from {sizes[f]} while the folder's "
                                f"files together exceed the decode budget ({budget_hint()})")
            if errors == "raise":
                raise exc
            log.warning("skipping %s", exc)
            continue
        kept.append(f)
    return kept


def is_islr_folder(folder: str | Path) -> bool:
    folder = Path(folder)
    return folder.is_dir() and next(iter(folder.glob("*__*.npz")), None) is not None


def load_islr(folder: str | Path, *, signers: Iterable[str] | None = None, workers: int | None = None,
              errors: str = "skip", lazy: bool = True, cache_dir: str | Path | None = None,
              **pose_options) -> list[Sample]:
    """Every ``<owner>__<repo>.npz`` of an ISLR-MP folder (sorted by signer), optionally only
    ``signers``. LZMA decompression releases the GIL, so files are read by a thread pool;
    ``cache_dir`` keeps decompressed copies for fast later loads (see ``read_islr_npz``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "no such folder")
    files = sorted(folder.glob("*.npz"))
    if signers is not None:
        wanted = set(signers)
        files = [f for f in files if f.stem in wanted]
    if not files:
        raise InputError(folder, "no .npz signer files")
    files = _within_budget(files, errors)
    workers = workers or min(8, (os.cpu_count() or 2) * 2, len(files)) or 1

    def one(f: Path) -> list[Sample] | InputError:
        try:
            return read_islr_npz(f, lazy=lazy, cache_dir=cache_dir, **pose_options)
        except InputError as exc:
            if errors == "raise":
                raise
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, files))
    out: list[Sample] = []
    for res in results:
        if isinstance(res, InputError):
            log.warning("skipping %s", res)
        else:
            out.extend(res)
    return out

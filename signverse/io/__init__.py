"""Readers and writers: pose-format ``.pose``, the SignVerse-2M release, the corpus store, captions,
OpenPose / POSE_KEYPOINT JSON.

``read_pose``/``write_pose`` dispatch on the path's suffix through the ``POSE_FORMATS`` registry,
so a new single-sequence format is one registration, not an if-chain.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.core.registry import Registry


@dataclass(frozen=True)
class PoseFormat:
    """A single-sequence file format: how to read and write it."""

    name: str
    suffixes: tuple[str, ...]
    reader: str   # "module:function", imported on use so heavy dependencies load only when needed
    writer: str | None = None

    def _load(self, ref: str) -> Callable:
        import importlib
        module, func = ref.split(":")
        return getattr(importlib.import_module(module), func)

    def read(self, path, **options) -> PoseSeq:
        return self._load(self.reader)(path, **options)

    def write(self, pose: PoseSeq, path, **options):
        if self.writer is None:
            raise InputError(path, f"writing {self.name} files is not supported")
        return self._load(self.writer)(pose, path, **options)


POSE_FORMATS: Registry[PoseFormat] = Registry("pose file format")
POSE_FORMATS.register("pose", PoseFormat("pose", (".pose",), "signverse.io.pose_file:read_pose_file",
                                         "signverse.io.pose_file:write_pose_file"))
POSE_FORMATS.register("signverse2m", PoseFormat(
    "signverse2m", (".npz",), "signverse.io.signverse2m:read_poses_npz",
    "signverse.io.signverse2m:write_poses_npz"))
# POSE_KEYPOINT (ControlNet / ComfyUI) or one OpenPose frame; a folder of OpenPose frame files is
# read by read_pose too (see below) and written by convert --format openpose.
POSE_FORMATS.register("openpose_json", PoseFormat(
    "openpose_json", (".json",), "signverse.io.openpose_json:read_openpose_json",
    "signverse.io.openpose_json:write_pose_keypoint"))


def format_for(path: str | Path) -> PoseFormat:
    suffix = Path(path).suffix.lower()
    for name in POSE_FORMATS:
        if suffix in POSE_FORMATS[name].suffixes:
            return POSE_FORMATS[name]
    known = ", ".join(s for n in POSE_FORMATS for s in POSE_FORMATS[n].suffixes)
    raise InputError(path, f"unknown pose file type '{suffix}' (known: {known})")


def read_pose(path: str | Path, **options) -> PoseSeq:
    """Read one pose sequence; the format follows the file suffix (``hf://`` paths: see
    signverse.io.hub)."""
    from signverse.io import hub
    path = Path(hub.localize(path))
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        # A SignVerse-2M video folder (<id>/npz/poses.npz or the per-frame npz/ variant) is one sequence.
        if (path / "npz").is_dir() or (path.name == "npz" and any(path.glob("*.npz"))):
            return POSE_FORMATS["signverse2m"].read(path, **options)
        from signverse.io.openpose_json import is_openpose_folder, read_openpose_folder
        if is_openpose_folder(path):
            return read_openpose_folder(path, **options)
        raise InputError(path, "is a directory; use signverse.open_corpus or signverse2m.open_release")
    if not path.is_file():   # a FIFO or a device (a link to /dev/zero) would be read forever
        raise InputError(path, "not a regular file (a device or FIFO); refused")
    return format_for(path).read(path, **options)


def write_pose(pose: PoseSeq, path: str | Path, **options):
    """Write one pose sequence; the format follows the suffix (a ``.pose`` file keeps depth)."""
    fmt = format_for(path)
    if fmt.name != "pose":
        from signverse.core.pose import warn_depth_dropped
        warn_depth_dropped(pose, f"a {fmt.name} file")
    return fmt.write(pose, path, **options)

"""signverse: pose-native sign-language data and models.

>>> import signverse
>>> signverse.get_layout("dwpose").num_points
128
"""
from __future__ import annotations

from signverse.core import Clip, InputError, PoseSeq, Segment, SignverseError, VideoRecord
from signverse.layouts import convert, get_layout, list_layouts

__version__ = "0.1.0"


def read_pose(path, **options) -> PoseSeq:
    """Read one pose sequence from a ``.pose`` file or a SignVerse-2M ``poses.npz`` (see signverse.io)."""
    from signverse.io import read_pose as _read
    return _read(path, **options)


def write_pose(pose: PoseSeq, path, **options):
    """Write a pose sequence; the format follows the suffix (``.pose`` or ``.npz``)."""
    from signverse.io import write_pose as _write
    return _write(pose, path, **options)


def open_corpus(path, **options):
    """Open a signverse corpus store directory (see signverse.io.corpus)."""
    from signverse.io.corpus import open_corpus as _open
    return _open(path, **options)


__all__ = ["Clip", "InputError", "PoseSeq", "Segment", "SignverseError", "VideoRecord", "convert",
           "get_layout", "list_layouts", "open_corpus", "read_pose", "write_pose", "__version__"]

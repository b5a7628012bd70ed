"""The ``.complete`` marker of a release video folder: ``key=value`` lines, written last.

It lives apart from the pose and shard modules because all three read or write it, and the pose
reader must not import the release reader (which imports the pose reader).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from signverse.core.errors import InputError
from signverse.core.limits import check_fps


def parse_complete(text: str, label: str = "<.complete>") -> dict[str, str]:
    """Parse ``.complete`` key=value lines into a dict of strings (blank/# lines ignored)."""
    out: dict[str, str] = {}
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InputError(label, f"line {no}: expected key=value, got {line[:60]!r}")
        out[key.strip()] = value.strip()
    return out


def read_complete(path: str | Path) -> dict[str, str]:
    """Read a ``.complete`` marker file into a dict."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    return parse_complete(text, str(path))


def format_complete(values: Mapping[str, object]) -> str:
    """``.complete`` text: one ``key=value`` line per item."""
    lines = []
    for key, value in values.items():
        text = str(value)
        if "\n" in text or "=" in str(key) or "\n" in str(key):
            raise InputError(None, f".complete entry {key!r} cannot hold newlines or '=' in the key")
        lines.append(f"{key}={text}")
    return "\n".join(lines) + "\n"


def fps_from_complete(complete: Mapping[str, str], label) -> float:
    """The ``fps`` entry, 24 (the release rate) when absent or not positive."""
    try:
        fps = float(complete.get("fps", 24))
    except ValueError:
        raise InputError(label, f"bad fps in .complete: {complete.get('fps')!r}") from None
    # 1e-300 or inf stated in .complete: refused by name (it reached PoseSeq, or a resample to
    # 24 fps, and ended in a traceback)
    return check_fps(fps, label) if fps > 0 else 24.0

"""Strict JSON: every JSON file or line signverse writes parses in any JSON parser.

Python's ``json`` writes ``NaN`` / ``Infinity`` for non-finite floats, which most parsers (and the
JSON standard) reject. ``dumps`` writes ``null`` for them instead and converts numpy values, so a
metric that is undefined (e.g. macro-F1 of an empty class) reads as "no value", never as a crash.

>>> dumps({"top1": float("nan"), "n": 3, "x": [1.5, float("inf")]})
'{"top1": null, "n": 3, "x": [1.5, null]}'
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def strict(obj: Any) -> Any:
    """``obj`` with non-finite floats replaced by ``None`` and numpy values made plain Python."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if type(obj).__module__ == "numpy":
        import numpy as np
        if isinstance(obj, np.ndarray):
            return strict(obj.tolist())
        if isinstance(obj, np.generic):
            return strict(obj.item())
    return obj


def dumps(obj: Any, **options) -> str:
    """``json.dumps`` that writes ``null`` for NaN / infinity (never invalid JSON)."""
    return json.dumps(strict(obj), allow_nan=False, **options)


def write_json(path: str | Path, obj: Any, **options) -> Path:
    """Strict JSON to ``path`` through a temporary name (a crash never leaves half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps(obj, **options) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path

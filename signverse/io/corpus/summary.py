"""Corpus statistics as plain dicts (the ``signverse stats`` command prints these)."""
from __future__ import annotations

from typing import Any

import numpy as np

from signverse.io.corpus import schema


def _durations(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Seconds per clip: end - start, or n_frames / fps when the times are absent."""
    dur = cols["end"] - cols["start"]
    frames = cols["n_frames"] / np.where(cols["fps"] > 0, cols["fps"], np.nan)
    bad = ~np.isfinite(dur) | (dur <= 0)
    dur[bad] = frames[bad]
    return np.nan_to_num(dur)


def _distribution(values: np.ndarray) -> dict[str, float | int]:
    values = values[np.isfinite(values)]
    if not len(values):
        return {"count": 0}
    q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"count": int(len(values)), "mean": float(values.mean()), "min": float(values.min()),
            "p05": float(q[0]), "p25": float(q[1]), "p50": float(q[2]), "p75": float(q[3]),
            "p95": float(q[4]), "max": float(values.max())}


def summarise(table) -> dict[str, Any]:
    """Summary of a clips metadata table: totals, per language, per split, QC distributions."""
    def num(name):
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), np.float64)

    cols = {name: num(name) for name in ("start", "end", "n_frames", "fps")}
    dur = _durations(cols)
    frames = np.nan_to_num(cols["n_frames"])
    langs = np.array([x if x is not None else "unknown" for x in table.column("sign_language").to_pylist()],
                     dtype=object)
    videos = np.array(table.column("video_id").to_pylist(), dtype=object)
    splits = np.array([x if x is not None else "none" for x in table.column("split").to_pylist()],
                      dtype=object)

    def group(keys: np.ndarray) -> dict[str, dict[str, Any]]:
        out = {}
        for key in sorted(set(keys.tolist())):
            m = keys == key
            out[key] = {"videos": len(set(videos[m].tolist())), "clips": int(m.sum()),
                        "hours": float(dur[m].sum() / 3600.0), "frames": int(frames[m].sum())}
        return out

    return {
        "clips": int(table.num_rows), "videos": len(set(videos.tolist())),
        "hours": float(dur.sum() / 3600.0), "frames": int(frames.sum()),
        "languages": group(langs), "splits": group(splits),
        "clip_seconds": _distribution(dur),
        "qc": {name: _distribution(num(f"qc_{name}")) for name in schema.QC_FIELDS},
    }

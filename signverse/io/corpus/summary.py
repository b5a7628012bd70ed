"""Corpus statistics as plain dicts (the ``signverse stats`` command prints these)."""
from __future__ import annotations

from typing import Any

import numpy as np

from signverse.io.corpus import schema

COLUMNS = ["video_id", "sign_language", "split", "start", "end", "fps", "n_frames",
           *(f"qc_{name}" for name in schema.QC_FIELDS)]


def _durations(table) -> np.ndarray:
    """Seconds per clip: end - start, or n_frames / fps when the times are absent."""
    def num(name):
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), np.float64)

    dur = num("end") - num("start")
    fps = num("fps")
    frames = num("n_frames") / np.where(fps > 0, fps, np.nan)
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
    """Summary of a clips metadata table: totals, per language, per split, QC distributions.

    Grouping runs in pyarrow (no per-row Python), so millions of clips take seconds.
    """
    pa = schema.pa()
    import pyarrow.compute as pc
    dur = _durations(table)
    frames = pc.fill_null(table.column("n_frames"), 0).cast(pa.int64())
    work = pa.table({
        "language": pc.fill_null(table.column("sign_language"), "unknown"),
        "split": pc.fill_null(table.column("split"), "none"),
        "video_id": table.column("video_id"), "dur": pa.array(dur), "frames": frames,
    })

    def group(key: str) -> dict[str, dict[str, Any]]:
        agg = work.group_by(key).aggregate([("video_id", "count_distinct"), ("dur", "count"),
                                            ("dur", "sum"), ("frames", "sum")])
        out = {}
        for row in sorted(agg.to_pylist(), key=lambda r: r[key]):
            out[row[key]] = {"videos": int(row["video_id_count_distinct"]), "clips": int(row["dur_count"]),
                             "hours": float(row["dur_sum"] or 0.0) / 3600.0,
                             "frames": int(row["frames_sum"] or 0)}
        return out

    videos = pc.count_distinct(table.column("video_id")).as_py() if table.num_rows else 0
    return {
        "clips": int(table.num_rows), "videos": int(videos),
        "hours": float(dur.sum() / 3600.0), "frames": int(pc.sum(frames).as_py() or 0),
        "languages": group("language"), "splits": group("split"),
        "clip_seconds": _distribution(dur),
        "qc": {name: _distribution(np.asarray(table.column(f"qc_{name}").to_numpy(zero_copy_only=False),
                                              np.float64)) for name in schema.QC_FIELDS},
    }

"""Decode the pose columns of a corpus's ``poses/<field>/*.parquet`` rows outside signverse.

HF ``datasets``, DuckDB or plain pyarrow see the packed coordinates (``xy``, ``conf``,
``xy_escapes``) as binary columns. ``decode_pose_row`` turns one such row (a dict, as
``dataset[i]`` or ``table.to_pylist()`` gives it) into a ``PoseSeq`` in pixels;
``decode_pose_batch`` is the same as a ``datasets`` transform (``ds.set_transform``), giving
``xy`` ``[T, P, K, 2]`` and ``conf`` ``[T, P, K]`` arrays per row.

>>> from datasets import load_dataset                                     # doctest: +SKIP
>>> poses = load_dataset("parquet", data_files="corpus/poses/dwpose/*.parquet", split="train")  # doctest: +SKIP
>>> decode_pose_row(poses[0])                                             # doctest: +SKIP
PoseSeq(layout='dwpose', frames=..., ...)
>>> poses.set_transform(decode_pose_batch); poses[0]["xy"].shape          # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq

_NEEDED = ("xy", "conf", "n_frames", "n_persons", "n_points", "xy_step", "conf_scale", "width", "height")


def _arrays(row: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    from signverse.io.corpus.codec import decode_arrays
    missing = [name for name in _NEEDED if name not in row]
    if missing:
        raise InputError(row.get("clip_id"), f"not a corpus pose row: missing {', '.join(missing)} "
                                             "(read poses/<field>/*.parquet, not clips/)")
    try:
        return decode_arrays(row["xy"], row["conf"], (row["n_frames"], row["n_persons"], row["n_points"]),
                             row["xy_step"], row["conf_scale"], width=row["width"], height=row["height"],
                             escapes=row.get("xy_escapes"))
    except ValueError as exc:
        raise InputError(row.get("clip_id"), f"damaged pose row: {exc}") from None


def decode_pose_row(row: Mapping[str, Any]) -> PoseSeq:
    """One row of a corpus pose table -> its ``PoseSeq`` (pixels, NaN where missing)."""
    xy, conf = _arrays(row)
    return PoseSeq(xy, conf, fps=row["fps"], width=row["width"], height=row["height"], layout=row["layout"])


def decode_pose_batch(batch: Mapping[str, list]) -> dict[str, list]:
    """A ``datasets`` transform: the batch with ``xy`` / ``conf`` decoded to float32 arrays."""
    out = dict(batch)
    rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
    decoded = [_arrays(row) for row in rows]
    out["xy"] = [xy for xy, _ in decoded]
    out["conf"] = [conf for _, conf in decoded]
    out.pop("xy_escapes", None)
    return out

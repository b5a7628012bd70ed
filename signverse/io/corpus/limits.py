"""Stated bounds on what reading one pose row may cost (documented in the README; overridable).

A pose row stores ``n_frames x n_persons x n_points`` quantised values; decoding costs about
26 bytes of memory per value (packed bytes, int32 deltas, float32 xy and confidences). A row's
claim is checked against what it really holds *before* anything large is allocated:

* the decoded size: at most ``max_clip_values`` values per clip (default 2**26 = 67 million, e.g.
  5.8 hours of one 134-point person at 24 fps, or 1.4 hours of 543 Holistic points);
* what the file can honestly hold: a pose row group whose payload columns inflate above
  ``ratio_floor`` bytes must not inflate more than ``max_ratio`` times its size on disk (real
  poses compress 3-20x; 1 million frames of zeros compress ~10,000x);
* the payload lengths must equal the claimed shape (checked by the codec before decoding).

>>> from signverse.io.corpus import open_corpus   # doctest: +SKIP
>>> open_corpus("corpus", limits=ReadLimits(max_clip_values=1 << 28))  # doctest: +SKIP
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError

PAYLOAD_COLUMNS = ("xy", "conf", "xy_escapes")

# Per open ParquetFile: the positions of its payload columns in the footer (looked up once, not per
# row group: walking every column's metadata cost ~15-25 us a row group here).
_PAYLOAD_AT: "weakref.WeakKeyDictionary[object, list[int]]" = weakref.WeakKeyDictionary()


def _payload_at(pf, meta) -> list[int]:
    found = _PAYLOAD_AT.get(pf)
    if found is None:
        first = meta.row_group(0) if meta.num_row_groups else None
        found = [] if first is None else [i for i in range(first.num_columns)
                                          if first.column(i).path_in_schema in PAYLOAD_COLUMNS]
        _PAYLOAD_AT[pf] = found
    return found


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one clip's poses (see the module docstring)."""

    max_clip_values: int = 1 << 26
    max_ratio: float = 1000.0
    ratio_floor: int = 16 << 20

    def check_group(self, pf, group: int, path: Path | str) -> None:
        """Refuse a pose row group whose payload claims more than the file can honestly hold,
        using only the Parquet footer (nothing is decompressed)."""
        file_meta = pf.metadata
        meta = file_meta.row_group(group)
        inflated = stored = 0
        at = _payload_at(pf, file_meta)   # every row group lists the file's columns in one order
        columns = [meta.column(i) for i in at if i < meta.num_columns]
        if len(columns) != len(at) or any(c.path_in_schema not in PAYLOAD_COLUMNS for c in columns):
            columns = [c for c in (meta.column(i) for i in range(meta.num_columns))   # a damaged footer
                       if c.path_in_schema in PAYLOAD_COLUMNS]
        for column in columns:
            inflated += max(0, int(column.total_uncompressed_size))
            stored += max(0, int(column.total_compressed_size))
        if inflated > self.ratio_floor and inflated > self.max_ratio * max(1, stored):
            raise InputError(path, f"pose row group {group} claims {inflated / 2**20:.0f} MiB of poses "
                                   f"from {stored / 2**10:.1f} KiB on disk (more than {self.max_ratio:g}x): "
                                   "refused (ReadLimits.max_ratio)")
        # An honest row stores at most 13 bytes per value: 4 xy, 1 confidence, 8 if every delta escapes.
        if inflated > 13 * self.max_clip_values * max(1, meta.num_rows):
            raise InputError(path, f"pose row group {group} holds {inflated / 2**20:.0f} MiB of poses, "
                                   "above the read limit (ReadLimits.max_clip_values)")

    def check_shapes(self, frames: list, persons: list, points: list, clip_ids: list,
                     path: Path | str) -> None:
        """:meth:`check_shape` for every row whose shape is given (all three not None: a clip
        stored without poses has none); one vectorised test, the row-by-row check for the message."""
        rows = [i for i, dims in enumerate(zip(frames, persons, points)) if None not in dims]
        try:
            dims = np.array([[frames[i], persons[i], points[i]] for i in rows], np.float64).reshape(-1, 3)
            fine = bool((dims >= 0).all() and (dims.prod(axis=1) <= self.max_clip_values).all()
                        and (dims == np.floor(dims)).all())
        except (TypeError, ValueError):
            fine = False
        if not fine:
            for i in rows:
                self.check_shape((frames[i], persons[i], points[i]), clip_ids[i], path)

    def check_shape(self, shape: tuple, clip_id: str, path: Path | str) -> None:
        """Refuse a claimed ``(frames, persons, points)`` that is negative or above the limit."""
        try:
            dims = [int(s) for s in shape]
        except (TypeError, ValueError):
            raise InputError(path, f"clip {clip_id!r}: pose shape {shape} is not a set of integers") from None
        if any(d < 0 for d in dims):
            raise InputError(path, f"clip {clip_id!r}: negative pose shape {tuple(dims)}")
        values = dims[0] * dims[1] * dims[2]
        if values > self.max_clip_values:
            raise InputError(path, f"clip {clip_id!r} claims {dims[0]} frames x {dims[1]} persons x "
                                   f"{dims[2]} points = {values} values, above the limit of "
                                   f"{self.max_clip_values} (ReadLimits.max_clip_values)")

"""Metadata rows of a clips table read, column by column, and the Clip records built from them.

A whole read converts each column to a Python list once (Arrow's per-column conversion runs in
C), and a clip is then a few list look-ups: no per-row dict, and only the QC columns that hold
values are looked at. ``schema.clip_kwargs`` stays the reference for one row as a dict.
"""
from __future__ import annotations

from typing import Any

from signverse.core.records import Clip
from signverse.io.corpus import schema

_QC = tuple(f"qc_{name}" for name in schema.QC_FIELDS)
# Clip is a frozen dataclass without __post_init__: its __init__ only sets the fields (through
# object.__setattr__, ~1.7 us a clip); setting them at once gives the same object (~0.3 us).
_FAST_CLIP = not hasattr(Clip, "__post_init__") and not hasattr(Clip, "__slots__")
_new = object.__new__


class MetaRows:
    """The rows of a clips table (every column; or a slice of its rows) as columns of Python values."""

    def __init__(self, table):
        self.columns = {name: table.column(name).to_pylist() for name in table.column_names}
        self.ids: list[str] = self.columns["clip_id"]
        n = len(self.ids)
        # An estimate of what the lists hold (Python objects, ~50-100 bytes each), for the byte
        # bound of the random-access cache.
        self.nbytes = int(table.nbytes) + 80 * n * len(self.columns)
        # Only the QC columns that hold a value in some row are looked at per clip.
        held = [name for name in (*_QC, "qc_extra") if table.column(name).null_count < n]
        self._qc = [(name[3:], self.columns[name]) for name in held if name != "qc_extra"]
        self._extra = self.columns["qc_extra"] if "qc_extra" in held else None

    def __len__(self) -> int:
        return len(self.ids)

    def clip_id(self, i: int) -> str:
        return self.ids[i]

    def row(self, i: int) -> dict[str, Any]:
        return {name: values[i] for name, values in self.columns.items()}

    def clip(self, i: int, pose=None) -> Clip:
        """Row ``i`` as a Clip (the same fields as ``Clip(**schema.clip_kwargs(row))``)."""
        c = self.columns
        qc = {name: v for name, values in self._qc if (v := values[i]) is not None and v == v}   # not NaN
        if self._extra is not None and self._extra[i]:
            qc.update(schema.qc_extra_scores(self._extra[i], c["clip_id"][i]))   # damaged: dropped, warned
        start, end = c["start"][i], c["end"][i]
        fields = dict(clip_id=c["clip_id"][i], video_id=c["video_id"][i],
                      start=start if start is not None else 0.0, end=end if end is not None else 0.0,
                      sign_language=c["sign_language"][i], signer=c["signer"][i], text=c["text"][i],
                      text_language=c["text_language"][i], gloss=c["gloss"][i], split=c["split"][i],
                      qc=qc, pose=pose)
        if not _FAST_CLIP:
            return Clip(**fields)
        clip = _new(Clip)
        clip.__dict__.update(fields)
        return clip

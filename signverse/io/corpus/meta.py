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


_CLIP_COLUMNS = ("clip_id", "video_id", "start", "end", "sign_language", "signer", "text", "text_language",
                 "gloss", "split")


class MetaRows:
    """The rows of a clips table (every column; or a slice of its rows) as columns of Python values.

    Only what a Clip holds is converted up front (the clip's fields and the QC columns holding a
    value somewhere); the others (fps, frame counts, layout, frame size, empty QC columns: about
    half the columns) only when :meth:`row` asks for a whole row."""

    def __init__(self, table):
        self._table = table
        self._columns: dict[str, list] = {name: table.column(name).to_pylist() for name in _CLIP_COLUMNS}
        self.ids: list[str] = self._columns["clip_id"]
        n = len(self.ids)
        # Only the QC columns that hold a value in some row are looked at per clip.
        held = [name for name in (*_QC, "qc_extra") if table.column(name).null_count < n]
        for name in held:
            self._columns[name] = table.column(name).to_pylist()
        self._qc = [(name[3:], self._columns[name]) for name in held if name != "qc_extra"]
        self._extra = self._columns["qc_extra"] if "qc_extra" in held else None
        # An estimate of what the lists hold (Python objects, ~50-100 bytes each) and the table
        # kept for whole rows, for the byte bound of the random-access cache.
        self.nbytes = int(table.get_total_buffer_size()) + 80 * n * len(self._columns)

    @property
    def columns(self) -> dict[str, list]:
        """Every column as a list of Python values."""
        for name in self._table.column_names:
            if name not in self._columns:
                self._columns[name] = self._table.column(name).to_pylist()
        return self._columns

    def __len__(self) -> int:
        return len(self.ids)

    def clip_id(self, i: int) -> str:
        return self.ids[i]

    def row(self, i: int) -> dict[str, Any]:
        return {name: values[i] for name, values in self.columns.items()}

    def clip(self, i: int, pose=None) -> Clip:
        """Row ``i`` as a Clip (the same fields as ``Clip(**schema.clip_kwargs(row))``)."""
        c = self._columns
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

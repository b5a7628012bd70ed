"""Table schemas of the corpus store and the conversion between rows and Clip records.

Store layout (a directory)::

    corpus.json                              format version, pose fields, quantisation bound
    clips/shard-00000.parquet                one metadata row per clip (the commit marker of a shard)
    poses/<field>/shard-00000.parquet        one packed pose row per clip, same rows, same order
    index/ids.npy, index/loc.npy, index.json persistent id index (a cache rebuilt from the shards)

A second estimator pass adds ``poses/<other field>/shard-*.parquet`` without touching the rest.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from signverse.core.errors import InputError, require
from signverse.io.corpus import codec
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

FORMAT = "signverse-corpus"
VERSION = 1
CORPUS_JSON = "corpus.json"
CLIPS_DIR = "clips"
POSES_DIR = "poses"
INDEX_DIR = "index"
QC_FIELDS = ("signer_frac", "left_hand_frac", "right_hand_frac", "face_frac", "mean_conf",
             "multi_person_frac", "motion")
CLIP_ROW_GROUP = 256   # metadata rows per row group: one random access decodes at most this many
# Pose row groups are sized by bytes: big enough to keep the footer small (opening a shard parses
# it: ~40 us per row group here), small enough that one random access decompresses little.
POSE_ROW_GROUP_BYTES = 1 << 20
# ... and at most this many rows: a random access to a corpus of very short clips converts the
# scalar columns of its whole row group (measured: 800 two-frame clips a group cost ~20% more CPU
# per lookup than ~200).
POSE_ROW_GROUP_ROWS = 256
ZSTD_LEVEL = 9
# zstd for free text; LZ4 for the small metadata columns, because pyarrow sets up a zstd decoder
# per page (~70 us measured here), and a random access reads every column of one row group: ~20
# zstd pages would cost ~1.5 ms, LZ4 pages a few us each.
ZSTD_COLUMNS = {"clips": ("text", "gloss", "qc_extra"), "poses": ("xy", "xy_escapes", "conf", "persons")}
# The pose payloads: LZ4 by default. On the real dwpose set (benchmarks/storage.py) zstd-9 stores
# 226 B/frame and Parquet reads it at ~0.6-0.75 us/frame; LZ4 stores ~275 B/frame (still 1/7 of
# the release's poses.npz) and reads at ~0.25 us/frame, which is what lets decoding reach 30x the
# npz. "zstd" stays available for archives (CorpusWriter(pose_compression="zstd")); readers take
# either, per column chunk, from the Parquet footer (older stores are zstd).
POSE_COMPRESSIONS = ("lz4", "zstd")
POSE_COMPRESSION = "lz4"
DICTIONARY_COLUMNS = {"clips": ["sign_language", "signer", "text_language", "split", "layout"], "poses": []}
STATISTICS_COLUMNS = {"clips": True, "poses": ["clip_id", "n_frames", "n_persons"]}


def parquet_options(table: str, names: list[str], zstd_level: int = ZSTD_LEVEL,
                    pose_compression: str = POSE_COMPRESSION) -> dict[str, Any]:
    """``pyarrow.parquet.write_table`` options of the ``clips`` or ``poses`` table."""
    if pose_compression not in POSE_COMPRESSIONS:
        raise ValueError(f"pose_compression must be one of {POSE_COMPRESSIONS}, got {pose_compression!r}")
    zstd = set(ZSTD_COLUMNS[table]) if table == "clips" or pose_compression == "zstd" else set()
    return {"compression": {n: "zstd" if n in zstd else "lz4" for n in names},
            "compression_level": {n: zstd_level for n in names if n in zstd},
            "use_dictionary": DICTIONARY_COLUMNS[table], "write_statistics": STATISTICS_COLUMNS[table],
            "row_group_size": CLIP_ROW_GROUP}


def pose_row_group_size(raw_bytes: int, n_rows: int) -> int:
    """Rows per pose row group so that a group holds about POSE_ROW_GROUP_BYTES of packed poses."""
    per_row = raw_bytes / max(1, n_rows)
    return int(max(1, min(POSE_ROW_GROUP_ROWS, POSE_ROW_GROUP_BYTES // max(1.0, per_row))))


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.parquet"


_SHARD = re.compile(r"shard-([0-9]{5,9})\.parquet", re.ASCII)
# Names read from disk become path parts: only plain names (no separators, no leading dot, so no
# "..", no hidden files), bounded in length.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)


def shard_number(name: str) -> int | None:
    """The number of ``shard-NNNNN.parquet`` (ASCII digits only), None for any other name."""
    match = _SHARD.fullmatch(name)
    return int(match.group(1)) if match else None


def is_plain_name(name: object) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: object, what: str, source: Path | str | None = None) -> str:
    """``name`` if it is a plain identifier usable as one path part, else a one-line InputError."""
    if not is_plain_name(name):
        raise InputError(source, f"unsafe {what} name {str(name)[:80]!r}: a name must be letters, "
                                 "digits, '.', '_' or '-' (not starting with '.'), at most 128 characters")
    return name


def pa():
    """pyarrow, or an error naming the ``store`` extra."""
    return require("pyarrow", "store")


def clips_schema():
    pa_ = pa()
    fields = [
        pa_.field("clip_id", pa_.string(), nullable=False),
        pa_.field("video_id", pa_.string()),
        pa_.field("sign_language", pa_.string()),
        pa_.field("signer", pa_.string()),
        pa_.field("start", pa_.float64()),
        pa_.field("end", pa_.float64()),
        pa_.field("fps", pa_.float64()),
        pa_.field("n_frames", pa_.int32()),
        pa_.field("text", pa_.string()),
        pa_.field("text_language", pa_.string()),
        pa_.field("gloss", pa_.string()),
        pa_.field("split", pa_.string()),
        *[pa_.field(f"qc_{name}", pa_.float64()) for name in QC_FIELDS],
        pa_.field("qc_extra", pa_.string()),  # JSON of any other QC figures, null when none
        pa_.field("layout", pa_.string()),
        pa_.field("width", pa_.int32()),
        pa_.field("height", pa_.int32()),
    ]
    return pa_.schema(fields)


def poses_schema():
    pa_ = pa()
    return pa_.schema([
        pa_.field("clip_id", pa_.string(), nullable=False),
        pa_.field("layout", pa_.string()),
        pa_.field("n_frames", pa_.int32()),
        pa_.field("n_persons", pa_.int32()),
        pa_.field("n_points", pa_.int32()),
        pa_.field("fps", pa_.float64()),
        pa_.field("width", pa_.int32()),
        pa_.field("height", pa_.int32()),
        pa_.field("xy_step", pa_.float64()),       # px per quantisation step
        pa_.field("conf_scale", pa_.float32()),
        pa_.field("persons", pa_.list_(pa_.uint8())),  # per-frame person count
        pa_.field("xy", pa_.large_binary()),           # codec.CODEC byte planes
        pa_.field("xy_escapes", pa_.binary()),         # rare out-of-range deltas, usually empty
        pa_.field("conf", pa_.large_binary()),         # uint8 [T, P, K]
    ])


def clip_row(clip) -> dict[str, Any]:
    """The metadata row of a Clip (pose-derived columns null when it has no pose)."""
    pose = clip.pose
    qc = dict(clip.qc or {})
    row: dict[str, Any] = {
        "clip_id": clip.clip_id, "video_id": clip.video_id, "sign_language": clip.sign_language,
        "signer": clip.signer, "start": float(clip.start), "end": float(clip.end),
        "fps": pose.fps if pose is not None else None,
        "n_frames": pose.n_frames if pose is not None else None,
        "text": clip.text, "text_language": clip.text_language, "gloss": clip.gloss,
        "split": clip.split,
        "layout": pose.layout if pose is not None else None,
        "width": pose.width if pose is not None else None,
        "height": pose.height if pose is not None else None,
    }
    for name in QC_FIELDS:
        value = qc.pop(name, None)
        row[f"qc_{name}"] = None if value is None else float(value)
    row["qc_extra"] = json_dumps({k: float(v) for k, v in sorted(qc.items())}) if qc else None
    return row


def pose_row(clip_id: str, pose) -> dict[str, Any]:
    packed = codec.encode(pose)
    return {"clip_id": clip_id, "layout": pose.layout, "n_frames": pose.n_frames,
            "n_persons": pose.n_persons, "n_points": pose.n_points, "fps": pose.fps,
            "width": pose.width, "height": pose.height, "xy_step": packed.step,
            "conf_scale": packed.conf_scale, "persons": packed.persons, "xy": packed.xy,
            "xy_escapes": packed.escapes, "conf": packed.conf}


def empty_pose_row(clip_id: str) -> dict[str, Any]:
    return {name: None for name in poses_schema().names} | {"clip_id": clip_id}


def qc_extra_scores(text: str, clip_id) -> dict[str, Any]:
    """The extra QC scores of a row; damaged ones (not JSON, not an object, nested thousands
    deep) are dropped with a warning and the clip is kept (they used to end in a traceback)."""
    try:
        extra = json.loads(text)
    except (ValueError, RecursionError):
        extra = None
    if not isinstance(extra, dict):
        log.warning("clip %r: qc_extra is not a JSON object of scores; ignored", clip_id)
        return {}
    return extra


def clip_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    """Clip constructor arguments from a metadata row (as a dict)."""
    qc = {name: float(row[f"qc_{name}"]) for name in QC_FIELDS
          if row.get(f"qc_{name}") is not None and not math.isnan(row[f"qc_{name}"])}
    if row.get("qc_extra"):
        qc.update(qc_extra_scores(row["qc_extra"], row.get("clip_id")))
    return {"clip_id": row["clip_id"], "video_id": row["video_id"],
            "start": row["start"] if row["start"] is not None else 0.0,
            "end": row["end"] if row["end"] is not None else 0.0,
            "sign_language": row["sign_language"], "signer": row["signer"], "text": row["text"],
            "text_language": row["text_language"], "gloss": row["gloss"], "split": row["split"],
            "qc": qc}


def new_manifest(default_field: str | None) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": VERSION, "default_pose_field": default_field,
        "pose_fields": {},
        "quantisation": {
            "codec": codec.CODEC, "xy_levels_per_max_side": codec.XY_LEVELS,
            "xy_max_error": "max(width, height) / 65536 px (0.0293 px at 1920 px) + float32 rounding",
            "xy_max_error_fraction_of_max_side": codec.ERROR_BOUND_FRACTION,
            "conf_levels": codec.CONF_LEVELS,
            "conf_max_error": "conf_scale / 255 (conf_scale = max(1, max confidence of the clip))",
        },
        "row_groups": {"clips_rows": CLIP_ROW_GROUP, "poses_bytes": POSE_ROW_GROUP_BYTES},
    }


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / CORPUS_JSON
    if not root.is_dir():
        raise InputError(root, "no such corpus directory")
    if not path.is_file():
        raise InputError(path, "missing corpus.json: not a signverse corpus store")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:   # ValueError: a 5000-digit number too
        raise InputError(path, f"unreadable corpus.json ({exc})") from None
    except RecursionError:
        raise InputError(path, "unreadable corpus.json (nested too deeply)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(path, f"not a signverse corpus manifest (format={data.get('format') if isinstance(data, dict) else None!r})")
    version = data.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError(path, f"corpus format version must be an integer, got {version!r}")
    if version > VERSION:
        raise InputError(path, f"corpus format version {data.get('version')} is newer than this "
                               f"signverse understands ({VERSION})")
    # Field names become folder names: a hostile corpus.json must not steer reads or writes
    # outside the corpus ("../../OUTSIDE").
    fields = data.get("pose_fields", {})
    if not isinstance(fields, dict):
        raise InputError(path, "pose_fields must be an object")
    for name, entry in fields.items():
        check_name(name, "pose field", path)
        layouts = entry.get("layouts", []) if isinstance(entry, dict) else None
        if not isinstance(layouts, list) or not all(isinstance(x, str) for x in layouts):
            # the writer extends this list when it appends: a damaged entry must not crash it
            raise InputError(path, f"pose_fields.{name} must be an object with a 'layouts' list of "
                                   f"layout names, got {json_dumps(entry)[:80]}")
        entry["layouts"] = layouts
    if data.get("default_pose_field") is not None:
        check_name(data["default_pose_field"], "default pose field", path)
    return data


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON under a temporary name, then rename it over ``path`` (a manifest, not a shard)."""
    from signverse.io.corpus.lock import write_error
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(json_dumps(data, indent=2, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from None

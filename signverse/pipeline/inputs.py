"""What to extract: a manifest (CSV / JSONL / Parquet), a directory of videos, or one video file.

Every input becomes a list of :class:`~signverse.core.VideoRecord`. SignVerse-2M's own manifest
(no header, ``video_id,sign_language``, CRLF) loads as is; labels that are not ISO 639-3 shaped
(``slovenia``, ``vietnam``, ``???``) are kept as given and reported in ``Manifest.nonstandard``.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()); (d / "m.csv").write_bytes(b"abc,ase\\r\\nxyz,???\\r\\n")
18
>>> m = load_manifest(d / "m.csv"); [r.sign_language for r in m.records], dict(m.nonstandard)
(['ase', '???'], {'???': 1})
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signverse.core.errors import InputError, require
from signverse.core.records import VideoRecord

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".flv", ".wmv", ".mpg", ".mpeg", ".ts")
CAPTION_SUFFIXES = (".vtt", ".srt")
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet")
_ISO6393 = re.compile(r"^[a-z]{3}$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")
# Column names people use for the same field; the first is ours.
_ALIASES = {
    "video_id": ("video_id", "id", "vid", "youtube_id", "name"),
    "path": ("path", "file", "video", "video_path", "filename"),
    "url": ("url", "video_url", "link"),
    "sign_language": ("sign_language", "language", "lang", "sl"),
    "signer": ("signer", "signer_id"),
    "split": ("split", "subset"),
    "captions": ("captions", "caption", "subtitles", "caption_path", "captions_path"),
}
YOUTUBE_URL = "https://www.youtube.com/watch?v={video_id}"


def is_iso639_3(label: str | None) -> bool:
    """True when ``label`` has the shape of an ISO 639-3 code (three lowercase letters)."""
    return bool(label) and bool(_ISO6393.match(label))


def safe_id(text: str) -> str:
    """A video id usable in file names and clip ids (other characters become ``_``)."""
    out = _SAFE_ID.sub("_", text)
    # YouTube ids may start with "_" or "-", so only names that are not file names are replaced.
    return "video" if out.strip(".") == "" else out


@dataclass
class Manifest:
    """Videos to process plus what was noticed while reading them."""

    records: list[VideoRecord]
    source: str = ""
    nonstandard: Counter = field(default_factory=Counter)   # label -> count, non-ISO-639-3 labels
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def languages(self) -> Counter:
        """Videos per sign-language label (``None`` becomes ``"unknown"``)."""
        return Counter(r.sign_language or "unknown" for r in self.records)


def _norm_row(raw: dict[str, Any]) -> dict[str, Any]:
    lowered = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
    row: dict[str, Any] = {}
    for key, names in _ALIASES.items():
        for name in names:
            value = lowered.get(name)
            if value is not None and value != "":
                row[key] = value
                break
    return row


def _captions_of(value: Any, base: Path) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        parts = [p for p in re.split(r"[;|]", value) if p.strip()]
    else:
        parts = [str(p) for p in value]
    return tuple(str(_resolve(p.strip(), base)) for p in parts)


def _resolve(path: str, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p


def _record(row: dict[str, Any], base: Path, where: str, url_template: str | None) -> VideoRecord:
    path = row.get("path")
    url = row.get("url")
    vid = row.get("video_id")
    if vid is None:
        if path is None and url is None:
            raise InputError(where, "row has no video_id, path or url")
        vid = Path(str(path)).stem if path is not None else str(url).rstrip("/").rsplit("/", 1)[-1]
    vid = safe_id(str(vid).strip())
    if path is None and url is None and url_template:
        url = url_template.format(video_id=vid)
    return VideoRecord(
        video_id=vid,
        path=None if path is None else str(_resolve(str(path).strip(), base)),
        url=None if url is None else str(url).strip(),
        sign_language=None if row.get("sign_language") is None else str(row["sign_language"]).strip(),
        signer=None if row.get("signer") is None else str(row["signer"]),
        split=None if row.get("split") is None else str(row["split"]),
        captions=_captions_of(row.get("captions"), base))


def _text(path: Path) -> str:
    """A manifest's text; a file that is not UTF-8 is a one-line error naming the first bad byte."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise InputError(path, f"not UTF-8 text (line {line}, byte {exc.start}); save the manifest "
                               "as UTF-8") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _read_csv(path: Path, delimiter: str) -> tuple[list[dict[str, Any]], bool]:
    f = io.StringIO(_text(path), newline="")
    reader = csv.reader(f, delimiter=delimiter)
    try:
        rows = [r for r in reader if r and any(c.strip() for c in r)]
    except csv.Error as exc:   # e.g. a field over csv's 128 KiB limit
        raise InputError(path, f"line {reader.line_num}: not readable CSV ({exc})") from None
    if not rows:
        return [], False
    head = [c.strip().lower() for c in rows[0]]
    known = {n for names in _ALIASES.values() for n in names}
    if any(c in known for c in head):
        return [dict(zip(head, r)) for r in rows[1:]], True
    # Headerless: SignVerse-2M's shape, ``video_id,sign_language[,...]``.
    names = ["video_id", "sign_language", "path", "captions", "signer", "split"]
    return [dict(zip(names, r)) for r in rows], False


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(_text(path).split("\n"), 1):   # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:   # ValueError: also a 5000-digit number
            why = getattr(exc, "msg", None) or str(exc)[:80] or "nested too deep"
            raise InputError(path, f"line {n} is not JSON ({why})") from None
        if not isinstance(value, dict):
            raise InputError(path, f"line {n} is not a JSON object")
        rows.append(value)
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    pq = require("pyarrow.parquet", "store")
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(path, f"unreadable Parquet file ({exc})") from None


def load_manifest(path: str | Path, *, url_template: str | None = None) -> Manifest:
    """Read a manifest (CSV/TSV with or without header, JSONL, Parquet) into video records.

    Relative paths are resolved against the manifest's folder. A headerless CSV is read as
    SignVerse-2M's ``video_id,sign_language``; rows without a path or url then get
    ``url_template.format(video_id=...)`` when one is given.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such manifest file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        rows, _ = _read_csv(path, "\t" if suffix == ".tsv" else ",")
    elif suffix in (".jsonl", ".ndjson"):
        rows = _read_jsonl(path)
    elif suffix == ".parquet":
        rows = _read_parquet(path)
    else:
        raise InputError(path, f"unknown manifest type '{suffix}' (use .csv, .jsonl or .parquet)")
    base = path.resolve().parent
    manifest = Manifest([], source=str(path))
    seen: set[str] = set()
    for n, raw in enumerate(rows, 1):
        rec = _record(_norm_row(raw), base, f"{path} row {n}", url_template)
        if rec.video_id in seen:
            manifest.warnings.append(f"row {n}: duplicate video_id {rec.video_id} ignored")
            continue
        seen.add(rec.video_id)
        manifest.records.append(rec)
        if rec.sign_language is not None and not is_iso639_3(rec.sign_language):
            manifest.nonstandard[rec.sign_language] += 1
    if manifest.nonstandard:
        labels = ", ".join(f"{k} ({v})" for k, v in manifest.nonstandard.most_common())
        manifest.warnings.append(f"labels that are not ISO 639-3 codes, kept as given: {labels}")
    return manifest


def _sidecar_captions(video: Path) -> tuple[str, ...]:
    """``clip.vtt``, ``clip.en.vtt``, ``clip.srt`` beside ``clip.mp4``."""
    found = []
    for cand in sorted(video.parent.glob(f"{glob_escape(video.stem)}.*")):
        if is_caption_file(cand) and cand.is_file():
            found.append(str(cand))
    return tuple(found)


def is_caption_file(path: Path) -> bool:
    """``.vtt``, ``.srt`` or the release's ``<id>.captions.json``."""
    return path.suffix.lower() in CAPTION_SUFFIXES or path.name.endswith(".captions.json")


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def captions_in_dir(directory: str | Path, video_id: str) -> tuple[str, ...]:
    """Caption files for ``video_id`` in a captions folder: ``<id>.vtt``, ``<id>.<lang>.vtt``,
    ``.srt``, or the release's ``<id>/captions/<id>.<lang>.vtt``."""
    directory = Path(directory)
    found = []
    for where in (directory, directory / video_id / "captions", directory / video_id):
        if not where.is_dir():
            continue
        for cand in sorted(where.glob(f"{glob_escape(video_id)}.*")):
            if is_caption_file(cand) and cand.is_file():
                found.append(str(cand))
        if found:
            break
    return tuple(found)


def scan_directory(directory: str | Path) -> Manifest:
    """Every video file under ``directory`` (recursive), ids from file names (unique)."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts))
    stems = Counter(p.stem for p in files)
    records = []
    for p in files:
        # A stem seen twice in different folders gets its relative path as id, so ids stay unique.
        vid = p.stem if stems[p.stem] == 1 else "__".join(p.relative_to(directory).with_suffix("").parts)
        records.append(VideoRecord(video_id=safe_id(vid), path=str(p), captions=_sidecar_captions(p)))
    return Manifest(records, source=str(directory))


def load_inputs(source: str | Path, *, captions_dir: str | Path | None = None,
                sign_language: str | None = None, url_template: str | None = None) -> Manifest:
    """Turn the CLI's INPUT (video file, directory, manifest, or URL) into a manifest.

    ``captions_dir`` adds caption files found there to records that have none;
    ``sign_language`` fills the label where the input gave none.
    """
    text = str(source)
    if re.match(r"^https?://", text):
        manifest = Manifest([VideoRecord(video_id=safe_id(text.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
                                                          or "video"), url=text)], source=text)
    else:
        path = Path(source)
        if path.is_dir():
            manifest = scan_directory(path)
        elif path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
            if url_template is None and path.suffix.lower() == ".csv":
                url_template = YOUTUBE_URL if _headerless(path) else None
            manifest = load_manifest(path, url_template=url_template)
        elif path.is_file():
            manifest = Manifest([VideoRecord(video_id=safe_id(path.stem), path=str(path.resolve()),
                                             captions=_sidecar_captions(path))], source=str(path))
        else:
            raise InputError(path, "no such file or directory")
    if captions_dir is not None or sign_language is not None:
        manifest.records = [_complete(r, captions_dir, sign_language) for r in manifest.records]
    return manifest


def _headerless(path: Path) -> bool:
    _, has_header = _read_csv_head(path)
    return not has_header


def _read_csv_head(path: Path) -> tuple[list[str], bool]:
    first = next(csv.reader(io.StringIO(_text(path), newline="")), [])
    known = {n for names in _ALIASES.values() for n in names}
    return first, any(c.strip().lower() in known for c in first)


def _complete(rec: VideoRecord, captions_dir, sign_language) -> VideoRecord:
    import dataclasses
    changes: dict[str, Any] = {}
    if captions_dir is not None and not rec.captions:
        changes["captions"] = captions_in_dir(captions_dir, rec.video_id)
    if sign_language is not None and rec.sign_language is None:
        changes["sign_language"] = sign_language
    return dataclasses.replace(rec, **changes) if changes else rec


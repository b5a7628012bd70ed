"""Captions: WebVTT and SRT parsing with cleaning, and the release's ``captions.json``.

Every parser returns ``signverse.core.records.Segment(start, end, text, language)`` in seconds.
Cleaning removes cue markup (``<c>``, ``<i>``, ``<v Name>``, inline timestamps ``<00:00:01.000>``,
``<font>``, ASS ``{\\an8}``), decodes HTML entities, drops zero-width characters and the BOM,
joins a cue's lines with a space and drops cues left empty. NOTE, STYLE and REGION blocks, cue
identifiers and cue settings are skipped.

YouTube auto-captions "roll": each cue shows the previous line again above a new one, and short
"snapshot" cues repeat a line alone. With ``collapse=True`` (default) such repeats are removed, so
each spoken word appears once (in the cue where it first appeared). Collapsing only applies to
lines repeated from the immediately preceding cue(s), never to words within a cue.

>>> [s.text for s in parse_vtt("WEBVTT\\n\\n00:01.000 --> 00:02.000\\n<i>Hi</i> &amp; bye\\n")]
['Hi & bye']
"""
from __future__ import annotations

import html
import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from signverse.core.errors import InputError
from signverse.core.records import Segment
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)

# Hours up to 9 digits: a 400-digit hour overflowed float, a 5000-digit one int parsing.
_TIME = r"(?:(\d{1,9}):)?(\d{1,2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(.*)$")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d+:\d{2}(?::\d{2})?[.,]\d{1,3}>|</?[a-z]>|</?>")
_ASS = re.compile(r"\{\\[^{}]*\}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"), None)
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Cue text without markup, entities, invisible characters or redundant whitespace."""
    text = _TAG.sub("", text)
    text = _ASS.sub("", text)
    text = html.unescape(text).translate(_INVISIBLE)
    return _SPACE.sub(" ", text.replace("\u00a0", " ")).strip()


def language_from_filename(path: str | Path) -> str | None:
    """``abc.en.vtt`` -> ``en``; ``abc.captions.json`` or ``abc.vtt`` -> None."""
    parts = Path(path).name.split(".")
    if len(parts) >= 3 and parts[-2] and parts[-2] != "captions":
        return parts[-2]
    return None


def _source_text(source: str | Path, kind: str) -> tuple[str, str | None, str]:
    """(text, path-or-None, label). A str is text if it has a newline or starts with the magic."""
    if isinstance(source, str) and ("\n" in source or source.lstrip("\ufeff").startswith("WEBVTT")
                                    or not source.strip()):
        return source, None, f"<{kind} text>"
    path = Path(source)
    if path.exists() and not path.is_file():   # a link to /dev/zero would be read forever
        raise InputError(path, "not a regular file (a device, FIFO or folder); refused")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig"), str(path), str(path)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _seconds(groups: Sequence[str | None]) -> float:
    hours, minutes, secs, frac = groups
    return (int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
            + int(frac.ljust(3, "0")) / 1000.0)


@dataclass
class _Cue:
    start: float
    end: float
    lines: list[str]
    line_no: int


def _blocks(text: str, *, strict: bool) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the 1-based line number of their first line.

    ``strict``: only an empty line separates (WebVTT; YouTube puts lines of one space in cues).
    """
    blocks, current, start = [], [], 0
    for no, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if (line if strict else line.strip()):
            if not current:
                start = no
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _cues(blocks, label: str) -> list[_Cue]:
    cues = []
    for start, lines in blocks:
        at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if at is None:
            log.debug("%s: line %d: block without a cue timing skipped", label, start)
            continue
        if at > 1:   # at most one cue identifier line may precede the timing
            raise InputError(label, f"line {start}: text before the cue timing line")
        match = _TIMING.match(lines[at])
        if not match:
            raise InputError(label, f"line {start + at}: bad cue timing {lines[at].strip()[:80]!r}")
        begin, end = _seconds(match.groups()[0:4]), _seconds(match.groups()[4:8])
        if end < begin:
            log.warning("%s: line %d: cue ends before it starts; dropped", label, start + at)
            continue
        cues.append(_Cue(begin, end, [clean_text(t) for t in lines[at + 1:]], start + at))
    return cues


def _overlap(previous: list[str], lines: list[str]) -> int:
    """Largest ``k`` with ``lines[:k] == previous[-k:]``, in time linear in the line counts.

    Knuth-Morris-Pratt: the prefix function of ``lines`` (the pattern) is run over the tail of
    ``previous``; the match length left at the end is the overlap. (Trying every ``k`` and
    comparing slices was quadratic: 31 s for a 160,000-line cue.)
    """
    m = min(len(lines), len(previous))
    if m == 0:
        return 0
    pattern = lines[:m]
    fail = [0] * m
    k = 0
    for i in range(1, m):
        while k and pattern[i] != pattern[k]:
            k = fail[k - 1]
        if pattern[i] == pattern[k]:
            k += 1
        fail[i] = k
    k = 0
    for line in previous[len(previous) - m:]:
        while k and (k == m or line != pattern[k]):
            k = fail[k - 1]
        if line == pattern[k]:
            k += 1
    return k


def _collapse(cues: list[_Cue]) -> list[_Cue]:
    """Drop lines a cue repeats from the previous cue (rolling auto-captions)."""
    out, previous = [], []
    for cue in cues:
        lines = [line for line in cue.lines if line]
        # The longest run of leading lines that equals the tail of the previous cue's lines.
        drop = _overlap(previous, lines)
        new = lines[drop:]
        # Growing captions ("hello" -> "hello everyone"): keep only the words added.
        if out and previous and not drop and new:
            prev_text, joined = " ".join(previous), " ".join(new)
            if joined.startswith(prev_text + " ") and cue.start <= out[-1].end + 0.05:
                new = [joined[len(prev_text) + 1:]]
        if lines:
            previous = lines
        if new:
            out.append(_Cue(cue.start, cue.end, new, cue.line_no))
    return out


def _segments(cues: list[_Cue], language: str | None, collapse: bool) -> list[Segment]:
    if collapse:
        cues = _collapse(cues)
    segments = []
    for cue in cues:
        text = " ".join(line for line in cue.lines if line)
        if text:
            segments.append(Segment(round(cue.start, 3), round(cue.end, 3), text, language))
    return sorted(segments, key=lambda s: s.start)


def parse_vtt(source: str | Path, *, language: str | None = None, collapse: bool = True) -> list[Segment]:
    """Parse a WebVTT file (a Path, a path string) or WebVTT text into cleaned segments.

    ``language`` defaults to the file name's language part (``<id>.<lang>.vtt``).
    """
    text, path, label = _source_text(source, "WebVTT")
    body = text.lstrip("\ufeff")
    if not body.startswith("WEBVTT") or (len(body) > 6 and body[6] not in " \t\n\r"):
        raise InputError(label, "not a WebVTT file (it must start with 'WEBVTT')")
    blocks = _blocks(body, strict=True)
    kept = []
    for i, (start, lines) in enumerate(blocks):
        first = lines[0].strip()
        if i == 0 or first.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in first:
            if i == 0 and any("-->" in line for line in lines[1:]):
                raise InputError(label, f"line {start}: the header must be followed by a blank line")
            continue
        kept.append((start, lines))
    if language is None and path:
        language = language_from_filename(path)
    return _segments(_cues(kept, label), language, collapse)


def parse_srt(source: str | Path, *, language: str | None = None, collapse: bool = False) -> list[Segment]:
    """Parse an SRT file (a Path, a path string) or SRT text into cleaned segments."""
    text, path, label = _source_text(source, "SRT")
    blocks = []
    for start, lines in _blocks(text.lstrip("\ufeff"), strict=False):
        if lines[0].strip().isdigit() and len(lines) > 1:
            start, lines = start + 1, lines[1:]
        blocks.append((start, lines))
    cues = _cues(blocks, label)
    if not cues and text.strip():
        raise InputError(label, "no SRT cues found (expected '00:00:01,000 --> 00:00:02,000' lines)")
    if language is None and path:
        language = language_from_filename(path)
    return _segments(cues, language, collapse)


def read_captions(path: str | Path, *, language: str | None = None) -> list[Segment]:
    """Read a ``.vtt`` or ``.srt`` caption file, chosen by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".vtt":
        return parse_vtt(Path(path), language=language)
    if suffix == ".srt":
        return parse_srt(Path(path), language=language)
    raise InputError(path, f"unknown caption file type '{suffix}' (known: .vtt, .srt)")


def _vtt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def format_vtt(segments: Iterable[Segment]) -> str:
    """WebVTT text for segments (text escaped; one cue per segment)."""
    out = ["WEBVTT", ""]
    for seg in segments:
        text = seg.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out += [f"{_vtt_time(seg.start)} --> {_vtt_time(seg.end)}", text.replace("\n", " "), ""]
    return "\n".join(out)


# -- captions.json ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoCaptions:
    """The content of a release ``<video_id>.captions.json``."""

    video_id: str
    segments: dict[str, list[Segment]]          # language -> cues
    texts: dict[str, str] = field(default_factory=dict)
    vtt_paths: dict[str, str] = field(default_factory=dict)
    subtitle_en: str = ""
    subtitle_en_source: str = ""
    problems: list[str] = field(default_factory=list)   # one line per cue rejected while reading

    @property
    def languages(self) -> list[str]:
        return list(self.segments)


def captions_json_dict(video_id: str, segments: Mapping[str, Sequence[Segment]], *,
                       vtt_paths: Mapping[str, str] | None = None,
                       subtitle_en_source: str | None = None) -> dict[str, Any]:
    """The release's captions.json structure for per-language segments.

    ``subtitle_en`` is the text of ``en`` (else of the first ``en-*`` language); its source
    defaults to ``manual_or_auto_en`` when English exists.
    """
    languages: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for lang, segs in segments.items():
        text = " ".join(s.text for s in segs)
        texts[lang] = text
        languages[lang] = {
            "text": text,
            "segments": [{"start_sec": float(s.start), "end_sec": float(s.end), "text": s.text}
                         for s in segs],
            "vtt_path": (vtt_paths or {}).get(lang, f"{video_id}.{lang}.vtt"),
        }
    english = "en" if "en" in segments else next((k for k in segments if k.startswith("en-")), None)
    return {"video_id": video_id, "subtitle_languages": list(segments),
            "subtitle_en": texts.get(english, "") if english else "",
            "subtitle_en_source": subtitle_en_source or ("manual_or_auto_en" if english else ""),
            "subtitle_texts": texts, "languages": languages}


def write_captions_json(path: str | Path, video_id: str, segments: Mapping[str, Sequence[Segment]],
                        **options) -> Path:
    """Write ``captions.json`` (see :func:`captions_json_dict` for ``options``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json_dumps(captions_json_dict(video_id, segments, **options), ensure_ascii=False,
                              indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def captions_from_dict(data: Any, label: str = "<captions.json>") -> VideoCaptions:
    """Validate a parsed captions.json structure into :class:`VideoCaptions`."""
    if not isinstance(data, dict):
        raise InputError(label, "captions.json must hold a JSON object")
    langs = data.get("languages", {})
    if not isinstance(langs, dict):
        raise InputError(label, "'languages' must be an object")
    segments: dict[str, list[Segment]] = {}
    texts, paths = {}, {}
    problems: list[str] = []
    for lang, entry in langs.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("segments", []), list):
            raise InputError(label, f"languages.{lang}: expected an object with a 'segments' list")
        segs = []
        for i, item in enumerate(entry.get("segments", [])):
            try:
                start, end = float(item["start_sec"]), float(item["end_sec"])
                text = clean_text(str(item["text"]))
            except (TypeError, KeyError, ValueError, OverflowError):   # OverflowError: 1e400 as an int
                raise InputError(label, f"languages.{lang}.segments[{i}]: needs numeric start_sec, "
                                        "end_sec and a text") from None
            where = f"languages.{lang}.segments[{i}]"
            if not (math.isfinite(start) and math.isfinite(end)):
                problems.append(f"{label}: {where}: start_sec/end_sec not finite ({start}, {end}); "
                                "cue rejected")
            elif end < start:
                problems.append(f"{label}: {where}: ends before it starts; cue rejected")
            elif text:
                segs.append(Segment(start, end, text, lang))
        segments[lang] = segs
        if isinstance(entry.get("text"), str):
            texts[lang] = entry["text"]
        if isinstance(entry.get("vtt_path"), str):
            paths[lang] = entry["vtt_path"]
    for problem in problems:   # the caller reports them (the pipeline records them per video)
        log.debug("%s", problem)
    return VideoCaptions(str(data.get("video_id", "")), segments, texts, paths,
                         str(data.get("subtitle_en") or ""), str(data.get("subtitle_en_source") or ""),
                         problems)


def read_captions_json(source: str | Path | bytes) -> VideoCaptions:
    """Read a release ``captions.json`` (path, or its bytes) into :class:`VideoCaptions`."""
    label = str(source) if isinstance(source, (str, Path)) else "<captions.json>"
    try:
        raw = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    except OSError as exc:
        raise InputError(label, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:   # ValueError: also a 5000-digit number
        raise InputError(label, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(label, "not valid JSON (nested too deeply)") from None
    return captions_from_dict(data, label)

"""Convert anything signverse reads into any format it writes (``signverse convert``).

Targets: one ``.pose`` file, one SignVerse-2M ``poses.npz``, a folder of ``.pose`` files, a
SignVerse-2M shard (``.tar``) or a shard folder, a corpus store, OpenPose frame folders or
POSE_KEYPOINT ``.json`` files. Unreadable inputs are recorded
and the rest converts; the caller lists the failures.

Captions travel with the poses: release -> release keeps every caption track (the WebVTT texts as
stored, captions.json rebuilt from them); release -> corpus cuts one clip per cue of the video's
first caption track (as ``signverse extract`` does), with its text and language. File names are
bounded: a name that is too long gets a hash suffix, and ``--format pose`` records every file name
that differs from its item's name in ``DST/names.json``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip
from signverse.io.sources import Failure, Item, iter_items, source_kind
from signverse.layouts import convert

log = logging.getLogger(__name__)
FORMATS = ("pose", "npz", "signverse2m", "corpus", "openpose", "pose_keypoint")
RELEASE_FPS = 24
# File systems allow 255 bytes per name; leave room for a suffix and a temporary extension.
MAX_NAME = 120
NAMES_FILE = "names.json"


@dataclass
class ConvertReport:
    written: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def target_format(dst: str | Path, fmt: str | None) -> str:
    """The output format: as given, else from DST's suffix (.pose, .npz, .tar), else a corpus."""
    if fmt:
        if fmt not in FORMATS:
            raise SignverseError(f"unknown output format '{fmt}' (known: {', '.join(FORMATS)})")
        return fmt
    suffix = Path(dst).suffix.lower()
    return {".pose": "pose", ".npz": "npz", ".tar": "signverse2m", ".json": "pose_keypoint"}.get(
        suffix, "corpus")


def safe_name(name: str) -> str:
    """A file/video id made of letters, digits, '-', '_' and '.' (folder separators become '_'),
    at most ``MAX_NAME`` characters: a longer one keeps its start plus a hash of the whole name."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"
    if len(clean) <= MAX_NAME:
        return clean
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{clean[:MAX_NAME - 13].rstrip('._')}-{digest}"


def _to_release(pose: PoseSeq) -> PoseSeq:
    """The release stores dwpose at an integer fps (24 in SignVerse-2M)."""
    pose = convert(pose, "dwpose")
    if abs(pose.fps - round(pose.fps)) > 1e-6:
        from signverse.ops import resample
        log.info("resampling %.3f fps to %d fps for the release format", pose.fps, RELEASE_FPS)
        pose = resample(pose, RELEASE_FPS)
    return pose


def convert_path(src: str | Path, dst: str | Path, *, fmt: str | None = None,
                 layout: str | None = None, transform=None) -> ConvertReport:
    """Convert every pose sequence under ``src`` into ``dst`` (see the module docstring).

    ``transform(item, pose) -> pose``, if given, is applied to each sequence before writing
    (``signverse anonymize`` uses it)."""
    fmt = target_format(dst, fmt)
    dst = Path(dst)
    report = ConvertReport()
    single = source_kind(src) == "file"
    items = iter_items(src, report.failures)

    def prepared(item: Item) -> PoseSeq:
        pose = convert(item.pose, layout) if layout else item.pose
        return transform(item, pose) if transform is not None else pose

    if fmt in ("pose", "npz") and single and dst.suffix.lower() == f".{fmt}":
        from signverse.io import write_pose
        for item in items:
            pose = _to_release(prepared(item)) if fmt == "npz" else prepared(item)
            options = {"video_id": safe_name(item.name)} if fmt == "npz" else {}
            report.written.append(str(write_pose(pose, dst, **options)))
        return report
    if fmt == "pose":
        from signverse.io.pose_file import write_pose_file
        dst.mkdir(parents=True, exist_ok=True)
        renamed: dict[str, str] = {}
        try:
            for item in items:
                def add(item=item) -> None:
                    name = safe_name(item.name)
                    report.written.append(str(write_pose_file(prepared(item), dst / f"{name}.pose")))
                    if name != item.name:
                        renamed[f"{name}.pose"] = item.name
                _guard(report, item, add)
        finally:
            _record_names(dst, renamed)
        return report
    if fmt in ("openpose", "pose_keypoint"):
        return _write_openpose(items, dst, fmt, single, prepared, report)
    if fmt in ("signverse2m", "npz"):
        return _write_release(items, dst, prepared, report)
    return _write_corpus(items, dst, prepared, report)


def _record_names(folder: Path, renamed: dict[str, str]) -> None:
    """Add ``file name -> original item name`` entries to ``folder/names.json`` (atomically)."""
    if not renamed:
        return
    path = folder / NAMES_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    known.update(renamed)
    tmp = path.with_name(f".{NAMES_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _guard(report: ConvertReport, item: Item, action) -> None:
    from signverse.io.corpus.lock import StoreWriteError
    try:
        action()
    except StoreWriteError:
        raise   # the output failed (disk full...), not this item: stop, the rerun continues
    except SignverseError as exc:
        log.warning("%s: %s", item.name, exc)
        report.failures.append(Failure(item.name, str(exc)))


TEMP_PREFIX = ".convert-"
_OWNER = ".signverse-owner.lock"   # marks a temporary folder as ours; flock'ed while it is in use


def _temp_folder(parent: Path):
    """A private temporary folder for building one ``.tar``, with its owner lock held.

    Stale folders of earlier runs killed before they could clean up (``kill -9``) are removed
    first: only folders with our prefix *and* our owner lock file, whose lock nobody holds (the
    kernel released it when the owner died). Anything else is left alone.
    """
    from signverse.io.corpus.lock import CorpusLock, write_error
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for stale in parent.glob(f"{TEMP_PREFIX}*"):
            if stale.is_symlink() or not stale.is_dir() or not (stale / _OWNER).is_file():
                continue
            owner = CorpusLock(stale, _OWNER)
            # An empty record: its owner is between creating and locking the file; not stale.
            if owner.holder() and owner.try_acquire():
                log.warning("removing %s, left by an interrupted convert", stale)
                shutil.rmtree(stale, ignore_errors=True)
                owner.release()
        folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
    except OSError as exc:
        raise write_error(parent, exc) from None
    return folder, CorpusLock(folder, _OWNER).acquire()


def _write_openpose(items, dst: Path, fmt: str, single: bool, prepared, report: ConvertReport):
    """OpenPose: a folder of frame files per video (DST itself for one video, else DST/<name>/).
    POSE_KEYPOINT: one .json per video (DST itself when it ends in .json, else DST/<name>.json)."""
    from signverse.io.openpose_json import write_openpose_folder, write_pose_keypoint
    for item in items:
        name = safe_name(item.name)
        if fmt == "openpose":
            out = dst if single else dst / name
            action = lambda item=item, out=out, name=name: write_openpose_folder(  # noqa: E731
                prepared(item), out, name=name)
        else:
            out = dst if single and dst.suffix.lower() == ".json" else dst / f"{name}.json"
            action = lambda item=item, out=out: write_pose_keypoint(prepared(item), out)  # noqa: E731
        _guard(report, item, lambda action=action: report.written.append(str(action())))
    return report


def _write_release(items, dst: Path, prepared, report: ConvertReport) -> ConvertReport:
    from signverse.io.signverse2m import ShardWriter
    one_tar = dst.suffix.lower() == ".tar"
    owner = None
    if one_tar:
        out_dir, owner = _temp_folder(dst.parent)
    else:
        out_dir = dst
    try:
        limits = {"max_videos": 1 << 30, "max_bytes": 1 << 62} if one_tar else {}
        with ShardWriter(out_dir, **limits) as writer:
            for item in items:
                def add(item=item) -> None:
                    # A release's own id is kept (the writer bounds folder names); file names are cleaned.
                    video_id = item.meta.get("video_id") or safe_name(item.name)
                    if writer.add_video(video_id, _to_release(prepared(item)), captions=_captions(item),
                                        vtt=item.meta.get("vtt")):
                        report.written.append(item.name)    # False: that video id was already published
                _guard(report, item, add)
        if one_tar:
            shards = sorted(out_dir.glob("*.tar"))
            if not shards:
                raise InputError(dst, "nothing to write: no input sequence could be read")
            shards[0].replace(dst)
    finally:
        if one_tar:
            shutil.rmtree(out_dir, ignore_errors=True)
            owner.release()
    return report


def _captions(item: Item) -> dict | None:
    """Language -> cues of an item read from a release (None when it has none)."""
    captions = item.meta.get("captions")
    segments = getattr(captions, "segments", None)
    if not isinstance(segments, dict):
        return None
    return {lang: list(cues) for lang, cues in segments.items() if cues} or None


def _write_corpus(items, dst: Path, prepared, report: ConvertReport) -> ConvertReport:
    from signverse.io.corpus import CorpusWriter
    with CorpusWriter(dst) as writer:
        for item in items:
            def add(item=item):
                pose = prepared(item)
                if "clip_id" in item.meta:
                    clip = Clip.from_dict({**item.meta, "pose": pose})
                elif _captions(item):
                    for clip in _cue_clips(item, pose):
                        if writer.add(clip):
                            report.written.append(clip.clip_id)
                    return
                else:
                    name = safe_name(item.name)
                    clip = Clip(clip_id=name, video_id=safe_name(item.meta.get("video_id", name)),
                                start=0.0, end=pose.duration, pose=pose)
                if writer.add(clip):
                    report.written.append(clip.clip_id)
            _guard(report, item, add)
    return report


def _cue_clips(item: Item, pose: PoseSeq) -> list[Clip]:
    """One clip per cue of the item's first caption track, as ``signverse extract`` cuts them."""
    from signverse.pipeline.align import caption_spans   # the same frame rule as extract
    language, cues = next(iter(_captions(item).items()))
    video_id = safe_name(item.meta.get("video_id") or item.name)
    spans = caption_spans(video_id, cues, n_frames=pose.n_frames, fps=pose.fps)
    if not spans:
        raise InputError(item.name, f"no caption cue of track '{language}' lies within its "
                                    f"{pose.duration:.2f} s of poses")
    return [Clip(clip_id=span.clip_id, video_id=video_id, start=span.start, end=span.end,
                 text=span.text, text_language=span.text_language or language or None,
                 pose=pose.frames(span.first, span.stop)) for span in spans]

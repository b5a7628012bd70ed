"""Convert anything signverse reads into any format it writes (``signverse convert``).

Targets: one ``.pose`` file, one SignVerse-2M ``poses.npz``, a folder of ``.pose`` files, a
SignVerse-2M shard (``.tar``) or a shard folder, a corpus store, OpenPose frame folders or
POSE_KEYPOINT ``.json`` files. Unreadable inputs are recorded
and the rest converts; the caller lists the failures.
"""
from __future__ import annotations

import logging
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
    """A file/video id made of letters, digits, '-', '_' and '.' (folder separators become '_')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"


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
        for item in items:
            _guard(report, item, lambda: report.written.append(
                str(write_pose_file(prepared(item), dst / f"{safe_name(item.name)}.pose"))))
        return report
    if fmt in ("openpose", "pose_keypoint"):
        return _write_openpose(items, dst, fmt, single, prepared, report)
    if fmt in ("signverse2m", "npz"):
        return _write_release(items, dst, prepared, report)
    return _write_corpus(items, dst, prepared, report)


def _guard(report: ConvertReport, item: Item, action) -> None:
    try:
        action()
    except SignverseError as exc:
        log.warning("%s: %s", item.name, exc)
        report.failures.append(Failure(item.name, str(exc)))


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
    out_dir = Path(tempfile.mkdtemp(prefix=".convert-", dir=dst.parent)) if one_tar else dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        limits = {"max_videos": 1 << 30, "max_bytes": 1 << 62} if one_tar else {}
        with ShardWriter(out_dir, **limits) as writer:
            for item in items:
                def add(item=item) -> None:
                    video_id = safe_name(item.meta.get("video_id") or item.name)
                    if writer.add_video(video_id, _to_release(prepared(item)), captions=_captions(item)):
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
    return report


def _captions(item: Item):
    captions = item.meta.get("captions")
    if captions is None or not hasattr(captions, "segments"):
        return None
    by_language: dict = {}
    for segment in captions.segments:
        by_language.setdefault(segment.language or "und", []).append(segment)
    return by_language or None


def _write_corpus(items, dst: Path, prepared, report: ConvertReport) -> ConvertReport:
    from signverse.io.corpus import CorpusWriter
    with CorpusWriter(dst) as writer:
        for item in items:
            def add(item=item):
                pose = prepared(item)
                if "clip_id" in item.meta:
                    clip = Clip.from_dict({**item.meta, "pose": pose})
                else:
                    name = safe_name(item.name)
                    clip = Clip(clip_id=name, video_id=safe_name(item.meta.get("video_id", name)),
                                start=0.0, end=pose.duration, pose=pose)
                if writer.add(clip):
                    report.written.append(clip.clip_id)
            _guard(report, item, add)
    return report

"""Convert anything signverse reads into any format it writes (``signverse convert``).

Targets: one ``.pose`` file, one SignVerse-2M ``poses.npz``, a folder of ``.pose`` files, a
SignVerse-2M shard (``.tar``) or a shard folder, or a corpus store. Unreadable inputs are recorded
and the rest converts; the caller lists the failures. A target that cannot hold the source (two
sequences into one ``.pose``, an unknown suffix) is an error, and an existing target is never
replaced or mixed into silently (``mode``: refuse, overwrite or append).
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
FORMATS = ("pose", "npz", "signverse2m", "corpus")
RELEASE_FPS = 24


@dataclass
class ConvertReport:
    written: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


# What each output suffix holds; a folder name without a suffix is a corpus.
SUFFIX_FORMATS = {".pose": "pose", ".npz": "npz", ".tar": "signverse2m", "": "corpus"}
MODES = ("refuse", "overwrite", "append")


def target_format(dst: str | Path, fmt: str | None) -> str:
    """The output format: as given, else from DST's suffix (.pose, .npz, .tar; none: a corpus).

    Any other suffix (``out.json``, ``x.mp4``) is an error rather than a silent corpus: pass
    ``fmt`` to mean a folder of that name.
    """
    if fmt:
        if fmt not in FORMATS:
            raise SignverseError(f"unknown output format '{fmt}' (known: {', '.join(FORMATS)})")
        return fmt
    dst = Path(dst)
    if (dst / "corpus.json").is_file():
        return "corpus"
    suffix = dst.suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise InputError(dst, f"cannot tell the output format from the suffix '{dst.suffix}': name a "
                              ".pose or .npz file, a .tar shard or a folder without a suffix (a corpus), "
                              "or pass --format corpus|pose|signverse2m|npz")
    return SUFFIX_FORMATS[suffix]


def safe_name(name: str) -> str:
    """A file/video id made of letters, digits, '-', '_' and '.' (folder separators become '_')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "item"


def _to_release(pose: PoseSeq) -> PoseSeq:
    """The release stores dwpose at an integer fps (24 in SignVerse-2M)."""
    from signverse.core.pose import warn_depth_dropped
    warn_depth_dropped(pose, "the SignVerse-2M release format")
    pose = convert(pose, "dwpose")
    if abs(pose.fps - round(pose.fps)) > 1e-6:
        from signverse.ops import resample
        log.info("resampling %.3f fps to %d fps for the release format", pose.fps, RELEASE_FPS)
        pose = resample(pose, RELEASE_FPS)
    return pose


def _refuse_existing(dst: Path, mode: str, *, can_append: bool, what: str) -> None:
    """An existing output is never replaced or added to silently."""
    if mode == "refuse":
        options = "--overwrite to replace it" + (" or --append to add to it" if can_append else "")
        raise InputError(dst, f"{what} exists; pass {options}")
    if mode == "append" and not can_append:
        raise InputError(dst, f"{what} exists and cannot be appended to; pass --overwrite to replace it")


def _one_item(items, src, dst: Path) -> Item | None:
    """The only item of ``items``; a second one is an error (a single-file target holds one)."""
    first = next(items, None)
    if first is not None and next(items, None) is not None:
        raise InputError(dst, f"a {dst.suffix} file holds one sequence but {src} holds several: name a "
                              "folder (--format pose), a .tar shard or a corpus folder instead")
    return first


def convert_path(src: str | Path, dst: str | Path, *, fmt: str | None = None,
                 layout: str | None = None, mode: str = "refuse") -> ConvertReport:
    """Convert every pose sequence under ``src`` into ``dst`` (see the module docstring).

    An existing ``dst`` is refused unless ``mode`` is ``"overwrite"`` (replace it) or
    ``"append"`` (add to a shard, a corpus or a folder of .pose files; a corpus only takes poses
    of the layout its pose field is named after).
    """
    if mode not in MODES:
        raise SignverseError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    explicit = fmt is not None
    fmt = target_format(dst, fmt)
    dst = Path(dst)
    report = ConvertReport()
    items = iter_items(src, report.failures)

    def prepared(item: Item) -> PoseSeq:
        return convert(item.pose, layout) if layout else item.pose

    if fmt in ("pose", "npz") and dst.suffix.lower() == f".{fmt}" and not (explicit and dst.is_dir()):
        if not explicit or source_kind(src) == "file":
            from signverse.io import write_pose
            if dst.exists():
                _refuse_existing(dst, mode, can_append=False, what="output file")
            item = _one_item(iter(items), src, dst)
            if item is not None:
                pose = _to_release(prepared(item)) if fmt == "npz" else prepared(item)
                options = {"video_id": safe_name(item.name)} if fmt == "npz" else {}
                report.written.append(str(write_pose(pose, dst, **options)))
            return report
    if fmt == "pose":
        return _write_pose_folder(items, dst, prepared, report, mode)
    if fmt in ("signverse2m", "npz"):
        return _write_release(items, dst, prepared, report, mode)
    return _write_corpus(items, dst, prepared, report, mode)


def _write_pose_folder(items, dst: Path, prepared, report: ConvertReport, mode: str) -> ConvertReport:
    from signverse.io.pose_file import write_pose_file
    if dst.exists() and not dst.is_dir():
        raise InputError(dst, "exists and is not a folder")
    if dst.is_dir() and any(dst.glob("*.pose")):
        _refuse_existing(dst, mode, can_append=True, what="folder of .pose files")
    dst.mkdir(parents=True, exist_ok=True)
    for item in items:
        def add(item=item) -> None:
            target = dst / f"{safe_name(item.name)}.pose"
            if target.exists() and mode != "overwrite":
                raise InputError(target, "exists (not replaced; pass --overwrite)")
            report.written.append(str(write_pose_file(prepared(item), target)))
        _guard(report, item, add)
    return report


def _guard(report: ConvertReport, item: Item, action) -> None:
    try:
        action()
    except SignverseError as exc:
        # not a warning: the caller lists every failure once at the end
        log.info("%s: %s", item.name, exc)
        report.failures.append(Failure(item.name, str(exc)))


def _write_release(items, dst: Path, prepared, report: ConvertReport, mode: str) -> ConvertReport:
    import itertools

    from signverse.io.signverse2m import ShardWriter
    one_tar = dst.suffix.lower() == ".tar"
    if one_tar and dst.exists():
        _refuse_existing(dst, mode, can_append=True, what="shard")
        if mode == "append":   # the shard's videos first, then the new ones, into one new shard
            items = itertools.chain(iter_items(dst, report.failures), items)
    elif not one_tar and dst.is_dir() and any(dst.iterdir()):
        _refuse_existing(dst, mode, can_append=False, what="release folder")
        if not (any(dst.glob("Sign_DWPose_NPZ_*.tar")) or any(dst.glob("*/npz"))):
            raise InputError(dst, "is not a release folder; refusing to delete it")
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix=".convert-", dir=dst.parent)) if one_tar else dst
    try:
        limits = {"max_videos": 1 << 30, "max_bytes": 1 << 62} if one_tar else {}
        with ShardWriter(out_dir, **limits) as writer:
            for item in items:
                def add(item=item) -> None:
                    video_id = safe_name(item.meta.get("video_id") or item.name)
                    if writer.add_video(video_id, _to_release(prepared(item)), captions=_captions(item)):
                        report.written.append(item.name)
                    else:
                        raise SignverseError(f"video id {video_id!r} already in the output (not added twice)")
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


def _write_corpus(items, dst: Path, prepared, report: ConvertReport, mode: str) -> ConvertReport:
    from signverse.io.corpus import CorpusWriter
    if (dst / "corpus.json").is_file():
        _refuse_existing(dst, mode, can_append=True, what="corpus")
        if mode == "overwrite":
            shutil.rmtree(dst)
    elif dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise InputError(dst, "exists and is not a corpus (refusing to write into it)")
    with CorpusWriter(dst) as writer:
        for item in items:
            def add(item=item):
                pose = prepared(item)
                from signverse.core.pose import warn_depth_dropped
                warn_depth_dropped(pose, "the corpus store")
                field = writer.field
                # One pose field holds one layout, and is named after it: never file a
                # coco-wholebody sequence under a mediapipe-holistic field.
                if field is not None and pose.layout != field:
                    raise SignverseError(f"layout {pose.layout} differs from the corpus's pose field "
                                                f"'{field}'; pass --layout {field} to convert it")
                if "clip_id" in item.meta:
                    clip = Clip.from_dict({**item.meta, "pose": pose})
                else:
                    name = safe_name(item.name)
                    clip = Clip(clip_id=name, video_id=safe_name(item.meta.get("video_id", name)),
                                start=0.0, end=pose.duration, pose=pose)
                if writer.add(clip):
                    report.written.append(clip.clip_id)
                else:
                    raise SignverseError(f"clip id {clip.clip_id!r} already in the corpus (not added twice)")
            _guard(report, item, add)
    return report

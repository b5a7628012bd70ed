"""Convert anything signverse reads into any format it writes (``signverse convert``).

Targets: one ``.pose`` file, one SignVerse-2M ``poses.npz``, a folder of ``.pose`` files, a
SignVerse-2M shard (``.tar``) or a shard folder, a corpus store, OpenPose frame folders or
POSE_KEYPOINT ``.json`` files. Unreadable inputs are recorded and the rest converts; the caller
lists the failures. A target that cannot hold the source (two sequences into one ``.pose``, an
unknown suffix) is an error, and an existing target is never replaced or mixed into silently
(``mode``: refuse, overwrite or append).

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

from signverse.core.align import caption_spans   # the same frame rule as extract
from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip
from signverse.io.sources import Failure, Item, iter_items, source_kind
from signverse.layouts import convert
from signverse.core.jsonio import dumps as json_dumps

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
    already: list[str] = field(default_factory=list)   # --append to a corpus: ids stored before this run


# What each output suffix holds; a folder name without a suffix is a corpus.
SUFFIX_FORMATS = {".pose": "pose", ".npz": "npz", ".tar": "signverse2m", ".json": "pose_keypoint",
                  "": "corpus"}
MODES = ("refuse", "overwrite", "append")


def target_format(dst: str | Path, fmt: str | None) -> str:
    """The output format: as given, else from DST's suffix (.pose, .npz, .tar, .json; none: a corpus).

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
                              ".pose or .npz file, a .tar shard, a .json (POSE_KEYPOINT) or a folder "
                              "without a suffix (a corpus), or pass --format " + "|".join(FORMATS))
    return SUFFIX_FORMATS[suffix]


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
    from signverse.core.pose import warn_depth_dropped
    warn_depth_dropped(pose, "the SignVerse-2M release format")
    pose = convert(pose, "dwpose")
    from signverse.core.limits import check_fps
    check_fps(pose.fps, None)   # e.g. a corpus row at 1e-300 fps: no resampling to 10**300 frames
    if abs(pose.fps - round(pose.fps)) > 1e-6 or round(pose.fps) < 1:   # 0 fps: nothing reads it
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
                 layout: str | None = None, mode: str = "refuse", transform=None) -> ConvertReport:
    """Convert every pose sequence under ``src`` into ``dst`` (see the module docstring).

    An existing ``dst`` is refused unless ``mode`` is ``"overwrite"`` (replace it) or
    ``"append"`` (add to a shard, a corpus or a folder of .pose files; a corpus only takes poses
    of the layout its pose field is named after). ``transform(item, pose) -> pose``, if given, is
    applied to each sequence before writing (``signverse anonymize`` uses it).
    """
    if mode not in MODES:
        raise SignverseError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    explicit = fmt is not None
    fmt = target_format(dst, fmt)
    dst = Path(dst)
    report = ConvertReport()
    single = source_kind(src) == "file"
    items = iter_items(src, report.failures)

    def prepared(item: Item) -> PoseSeq:
        pose = convert(item.pose, layout) if layout else item.pose
        return transform(item, pose) if transform is not None else pose

    if fmt in ("pose", "npz") and dst.suffix.lower() == f".{fmt}" and not (explicit and dst.is_dir()):
        if not explicit or single:
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
    if fmt in ("openpose", "pose_keypoint"):
        return _write_openpose(items, dst, fmt, single, prepared, report, mode)
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
    renamed: dict[str, str] = {}
    try:
        for item in items:
            def add(item=item) -> None:
                name = safe_name(item.name)
                target = dst / f"{name}.pose"
                if target.exists() and mode != "overwrite":
                    raise InputError(target, "exists (not replaced; pass --overwrite)")
                report.written.append(str(write_pose_file(prepared(item), target)))
                if name != item.name:
                    renamed[f"{name}.pose"] = item.name
            _guard(report, item, add)
    finally:
        _record_names(dst, renamed)
    return report


def _record_names(folder: Path, renamed: dict[str, str]) -> None:
    """Add ``file name -> original item name`` entries to ``folder/names.json`` (atomically)."""
    if not renamed:
        return
    path = folder / NAMES_FILE
    try:
        known = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError, RecursionError):   # damaged: rewritten from this run's names
        known = {}
    if not isinstance(known, dict):
        known = {}
    known.update(renamed)
    tmp = path.with_name(f".{NAMES_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json_dumps(known, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _guard(report: ConvertReport, item: Item, action) -> None:
    from signverse.io.corpus.lock import StoreWriteError
    try:
        action()
    except StoreWriteError:
        raise   # the output failed (disk full...), not this item: stop, the rerun continues
    except SignverseError as exc:
        # not a warning: the caller lists every failure once at the end
        log.info("%s: %s", item.name, exc)
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


def _write_openpose(items, dst: Path, fmt: str, single: bool, prepared, report: ConvertReport,
                    mode: str) -> ConvertReport:
    """OpenPose: a folder of frame files per video (DST itself for one video, else DST/<name>/).
    POSE_KEYPOINT: one .json per video (DST itself when it ends in .json, else DST/<name>.json)."""
    from signverse.io.openpose_json import write_openpose_folder, write_pose_keypoint
    if dst.exists() and (dst.is_file() or any(dst.iterdir())):
        _refuse_existing(dst, mode, can_append=False, what="output")
    if fmt == "pose_keypoint" and dst.suffix.lower() == ".json" and not single:
        only = _one_item(iter(items), "the source", dst)   # one .json file holds one sequence
        items, single = ([only] if only is not None else []), True
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


def _clear_release_folder(dst: Path) -> None:
    """``--overwrite`` of a release folder: empty it under its writer lock (refused, naming the
    holder, while another writer uses it); the lock file stays, so the lock keeps its meaning."""
    from signverse.io.corpus.lock import CorpusLock
    from signverse.io.signverse2m.writer import RELEASE_LOCK_NAME
    with CorpusLock(dst, RELEASE_LOCK_NAME, what="release shards folder"):
        for path in dst.iterdir():
            if path.name == RELEASE_LOCK_NAME:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _write_release(items, dst: Path, prepared, report: ConvertReport, mode: str) -> ConvertReport:
    import itertools

    from signverse.io.signverse2m import ShardWriter
    from signverse.io.signverse2m.writer import RELEASE_LOCK_NAME
    one_tar = dst.suffix.lower() == ".tar"
    kept_failures: list[Failure] = []   # videos of the existing shard that could not be read
    if one_tar and dst.exists():
        _refuse_existing(dst, mode, can_append=True, what="shard")
        if mode == "append":   # the shard's videos first, then the new ones, into one new shard
            items = itertools.chain(iter_items(dst, kept_failures), items)
    elif not one_tar and dst.is_dir() and any(p.name != RELEASE_LOCK_NAME for p in dst.iterdir()):
        _refuse_existing(dst, mode, can_append=False, what="release folder")
        if not (any(dst.glob("Sign_DWPose_NPZ_*.tar")) or any(dst.glob("*/npz"))):
            raise InputError(dst, "is not a release folder; refusing to delete it")
        _clear_release_folder(dst)
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
                    # A release's own id is kept (the writer bounds folder names); file names are
                    # cleaned. A corpus clip is a segment, not its whole video: it is stored under
                    # its clip id (under the video id, a video's second clip was refused as a
                    # duplicate and lost).
                    video_id = item.meta.get("clip_id") or item.meta.get("video_id") or safe_name(item.name)
                    if writer.add_video(video_id, _to_release(prepared(item)), captions=_captions(item),
                                        vtt=item.meta.get("vtt")):
                        report.written.append(item.name)
                    else:
                        raise SignverseError(f"video id {video_id!r} already in the output (not added twice)")
                _guard(report, item, add)
        if one_tar:
            if kept_failures:   # replacing dst would drop what could not be read from it
                report.failures.extend(kept_failures)
                raise InputError(dst, f"{len(kept_failures)} video(s) of the existing shard could not be "
                                      "read; it is left as it was (nothing appended)")
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


def _write_corpus(items, dst: Path, prepared, report: ConvertReport, mode: str) -> ConvertReport:
    from signverse.core.pose import warn_depth_dropped
    from signverse.io.corpus import CorpusWriter
    if (dst / "corpus.json").is_file():
        _refuse_existing(dst, mode, can_append=True, what="corpus")
        if mode == "overwrite":
            shutil.rmtree(dst)
    elif dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise InputError(dst, "exists and is not a corpus (refusing to write into it)")
    with CorpusWriter(dst) as writer:
        this_run: set[str] = set()

        def store(clip: Clip) -> None:
            if not writer.add(clip):
                if mode == "append" and clip.clip_id not in this_run:
                    # stored by an earlier (perhaps interrupted) run: a rerun continues, never doubles
                    report.already.append(clip.clip_id)
                    return
                raise SignverseError(f"clip id {clip.clip_id!r} already in the corpus (not added twice)")
            this_run.add(clip.clip_id)
            report.written.append(clip.clip_id)

        for item in items:
            def add(item=item):
                pose = prepared(item)
                warn_depth_dropped(pose, "the corpus store")
                field = writer.field
                # One pose field holds one layout, and is named after it: never file a
                # coco-wholebody sequence under a mediapipe-holistic field.
                if field is not None and pose.layout != field:
                    raise SignverseError(f"layout {pose.layout} differs from the corpus's pose field "
                                         f"'{field}'; pass --layout {field} to convert it")
                if "clip_id" in item.meta:
                    store(Clip.from_dict({**item.meta, "pose": pose}))
                elif _captions(item):
                    for clip in _cue_clips(item, pose):
                        store(clip)
                else:
                    name = safe_name(item.name)
                    store(Clip(clip_id=name, video_id=safe_name(item.meta.get("video_id", name)),
                               start=0.0, end=pose.duration, pose=pose))
            _guard(report, item, add)
    return report


def _cue_clips(item: Item, pose: PoseSeq) -> list[Clip]:
    """One clip per cue of the item's first caption track, as ``signverse extract`` cuts them."""
    language, cues = next(iter(_captions(item).items()))
    video_id = safe_name(item.meta.get("video_id") or item.name)
    spans = caption_spans(video_id, cues, n_frames=pose.n_frames, fps=pose.fps)
    if not spans:
        raise InputError(item.name, f"no caption cue of track '{language}' lies within its "
                                    f"{pose.duration:.2f} s of poses")
    return [Clip(clip_id=span.clip_id, video_id=video_id, start=span.start, end=span.end,
                 text=span.text, text_language=span.text_language or language or None,
                 pose=pose.frames(span.first, span.stop)) for span in spans]

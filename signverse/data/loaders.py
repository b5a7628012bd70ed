"""``load_samples(path)``: one entry point over every sample source signverse knows.

Sources (detected in this order):

* a corpus store directory (``signverse.open_corpus``) -> ``samples_from_corpus``;
* an ISLR-MP folder of ``<owner>__<repo>.npz`` signer files -> ``mediapipe.load_islr``;
* a PHOENIX Progressive-Transformers folder (``{split}.skels``...) -> ``phoenix.read_phoenix``;
* an ``MP_Data`` folder (``<word>/<sequence>/<frame>.npy``) -> ``mediapipe.read_mp_data``;
* an index CSV (``path,label[,signer,text,split]``) of pose files, or a folder holding
  ``index.csv`` -> ``read_pose_index``;
* a folder of pose files (``.pose`` / ``poses.npz``, recursive) without an index -> one
  unlabelled Sample per file (``read_pose_folder``: self-supervised training, e.g. signx-fusion);
* a single pose file (``.pose``, ...) -> one Sample.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Iterable

from signverse.core.errors import InputError, SignverseError
from signverse.data.sample import Sample

log = logging.getLogger(__name__)

# Column names accepted for each Sample field (the fingerspelling lexicon uses the second set).
_INDEX_COLUMNS = {"label": ("label", "gloss", "glosses", "word"),
                  "text": ("text", "words", "sentence"),
                  "signer": ("signer", "signer_id"),
                  "sign_language": ("sign_language", "signed_language", "language"),
                  "split": ("split",),
                  "video_id": ("video_id",),
                  "sample_id": ("sample_id", "id")}


def _pick(row: dict[str, str], field: str) -> str | None:
    for name in _INDEX_COLUMNS[field]:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


class FilePose:
    """Picklable lazy pose read from a file on call."""

    __slots__ = ("path", "options")

    def __init__(self, path: str | Path, **options: Any):
        self.path = str(path)
        self.options = options

    def __call__(self):
        from signverse.io import read_pose
        return read_pose(self.path, **self.options)


_OPEN_CORPORA: dict[tuple[str, str | None], Any] = {}


class CorpusPose:
    """Picklable lazy pose of one corpus clip; each process opens the corpus once (cached)."""

    __slots__ = ("root", "clip_id", "field")

    def __init__(self, root: str | Path, clip_id: str, field: str | None = None):
        self.root, self.clip_id, self.field = str(root), clip_id, field

    def __call__(self):
        key = (self.root, self.field)
        corpus = _OPEN_CORPORA.get(key)
        if corpus is None:
            import signverse
            corpus = _OPEN_CORPORA[key] = signverse.open_corpus(self.root)
        pose = corpus.pose(self.clip_id, field=self.field)
        if pose is None:
            raise InputError(self.root, f"clip {self.clip_id!r} has no pose")
        return pose


def read_pose_index(index_csv: str | Path, *, lazy: bool = True, errors: str = "skip",
                    **read_options: Any) -> list[Sample]:
    """Samples from a CSV with a ``path`` column (relative to the CSV's folder) and optional
    ``label``/``signer``/``text``/``split`` columns (``glosses``/``words``/``signed_language``
    are understood too). Poses are read on access when ``lazy``; a missing file is skipped
    (``errors="skip"``, logged) or raises InputError (``"raise"``)."""
    from signverse.io import read_pose
    index_csv = Path(index_csv)
    try:
        with index_csv.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise InputError(index_csv, "no such index file") from None
    if rows and "path" not in rows[0]:
        raise InputError(index_csv, "index CSV needs a 'path' column")
    out: list[Sample] = []
    for n, row in enumerate(rows, start=2):
        rel = (row.get("path") or "").strip()
        path = (index_csv.parent / rel).resolve()
        if not rel or not path.is_file():
            exc = InputError(index_csv, f"line {n}: pose file '{rel}' not found")
            if errors == "raise":
                raise exc
            log.warning("skipping %s", exc)
            continue
        pose = FilePose(path, **read_options) if lazy else read_pose(path, **read_options)
        sid = _pick(row, "sample_id") or rel
        out.append(Sample(sid, pose, label=_pick(row, "label"), text=_pick(row, "text"),
                          signer=_pick(row, "signer"), sign_language=_pick(row, "sign_language"),
                          video_id=_pick(row, "video_id") or sid, split=_pick(row, "split"),
                          meta={k: v for k, v in row.items() if k and k not in ("path",)}))
    return _unique_ids(out, index_csv)


def _unique_ids(samples: list[Sample], source: Path) -> list[Sample]:
    """Ids repeated across sign languages (one recording listed under several lexicons, as in the
    fingerspelling index) become ``<id>#<language>``; the video id stays shared, so splits keep
    the copies together. Ids repeated within one language are an error naming them."""
    from collections import Counter
    counts = Counter(s.sample_id for s in samples)
    if all(n == 1 for n in counts.values()):
        return samples
    for s in samples:
        if counts[s.sample_id] > 1 and s.sign_language:
            s.sample_id = f"{s.sample_id}#{s.sign_language}"
    repeated = sorted(sid for sid, n in Counter(s.sample_id for s in samples).items() if n > 1)
    if repeated:
        shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
        raise InputError(source, f"{len(repeated)} sample id(s) repeat within one language: {shown} "
                                 "(give each row a unique sample_id)")
    log.info("%s: %d ids repeat across sign languages; made unique as <id>#<language>", source,
             sum(1 for n in counts.values() if n > 1))
    return samples


def _pose_files(folder: Path) -> list[Path]:
    from signverse.io.sources import POSE_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in POSE_SUFFIXES and p.is_file())


def read_pose_folder(folder: str | Path, *, lazy: bool = True, **read_options: Any) -> list[Sample]:
    """One unlabelled Sample per pose file under ``folder`` (id = path without suffix, relative
    to ``folder``). Poses are read on access when ``lazy``."""
    from signverse.io import read_pose
    folder = Path(folder)
    files = _pose_files(folder)
    if not files:
        raise InputError(folder, "no .pose or .npz files found")
    out = []
    for path in files:
        sid = path.relative_to(folder).with_suffix("").as_posix()
        pose = FilePose(path, **read_options) if lazy else read_pose(path, **read_options)
        out.append(Sample(sid, pose, video_id=sid, meta={"path": str(path)}))
    return out


def sample_from_clip(clip: Any) -> Sample:
    """A corpus ``Clip`` (with ``.pose``) -> Sample: label = gloss, text, signer, language, split."""
    pose = clip.pose
    if pose is None:
        raise InputError(getattr(clip, "clip_id", None), "clip has no pose")
    return Sample(clip.clip_id, pose, label=getattr(clip, "gloss", None),
                  text=getattr(clip, "text", None), signer=getattr(clip, "signer", None),
                  sign_language=getattr(clip, "sign_language", None),
                  video_id=getattr(clip, "video_id", None), split=getattr(clip, "split", None))


def samples_from_corpus(corpus: Any, *, split: str | None = None, lazy: bool = True,
                        field: str | None = None) -> list[Sample]:
    """Samples of a corpus (a path for ``signverse.open_corpus`` or an iterable of Clips);
    ``split`` keeps only clips of that split. From a path with ``lazy`` (default), only the
    metadata is read now and each pose is read on access (``CorpusPose``); otherwise clips are
    read with their poses, and clips without a pose are skipped (logged)."""
    if isinstance(corpus, (str, Path)):
        import signverse
        root = Path(corpus)
        opened = signverse.open_corpus(root)
        if lazy:
            out = []
            for rec in opened.records():
                if split is not None and rec.get("split") != split:
                    continue
                if rec.get("n_frames") is None:
                    continue   # metadata-only clip: no pose stored
                out.append(Sample(rec["clip_id"], CorpusPose(root, rec["clip_id"], field),
                                  label=rec.get("gloss"), text=rec.get("text"),
                                  signer=rec.get("signer"), sign_language=rec.get("sign_language"),
                                  video_id=rec.get("video_id"), split=rec.get("split"),
                                  n_frames=int(rec["n_frames"])))
            return out
        corpus = opened
    out = []
    for clip in corpus:
        if split is not None and getattr(clip, "split", None) != split:
            continue
        try:
            out.append(sample_from_clip(clip))
        except InputError as exc:
            log.warning("skipping %s", exc)
    return out


def _is_corpus(path: Path) -> bool:
    # A corpus store has a corpus.json manifest; otherwise ask its reader.
    if (path / "corpus.json").is_file():
        return True
    try:
        import signverse.io.corpus as corpus_mod
    except ImportError:
        return False
    probe = getattr(corpus_mod, "is_corpus", None)
    if probe is not None:
        return bool(probe(path))
    try:
        corpus_mod.open_corpus(path)
        return True
    except (SignverseError, OSError, ValueError):
        return False


def detect_source(path: str | Path) -> str:
    """Name of the source kind at ``path``: corpus, islr, phoenix, mp_data, index, pose_folder,
    pose_file."""
    from signverse.data.mediapipe import is_islr_folder, is_mp_data
    from signverse.data.phoenix import is_phoenix_folder
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.is_file():
        return "index" if path.suffix.lower() == ".csv" else "pose_file"
    if (path / "corpus.json").is_file():
        return "corpus"
    if is_islr_folder(path):
        return "islr"
    if is_phoenix_folder(path):
        return "phoenix"
    if is_mp_data(path):
        return "mp_data"
    if (path / "index.csv").exists():
        return "index"
    if _is_corpus(path):
        return "corpus"
    if _pose_files(path):
        return "pose_folder"
    raise InputError(path, "not a known sample source (corpus store, ISLR npz folder, PHOENIX "
                           "folder, MP_Data folder, index CSV, folder of pose files or pose file)")


def spread(items: list, limit: int | None) -> list:
    """At most ``limit`` of ``items``, evenly spaced (so signers and classes stay mixed)."""
    if not limit or len(items) <= limit:
        return items
    import numpy as np
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))]


def load_samples(path: str | Path, *, source: str | None = None, limit: int | None = None,
                 **options: Any) -> list[Sample]:
    """Load every Sample from ``path``; ``source`` forces a kind (see ``detect_source``);
    ``options`` go to the reader (e.g. ``split=`` for a corpus/PHOENIX, ``width=`` for MediaPipe).
    ``limit`` keeps at most that many samples, evenly spread over the source (a quick check);
    an ISLR folder then reads only a few of its signer files."""
    path = Path(path)
    kind = source or detect_source(path)
    if limit:
        if kind == "islr" and "signers" not in options:
            import math
            files = [f.stem for f in sorted(path.glob("*.npz"))]
            options["signers"] = spread(files, min(len(files), max(3, math.ceil(limit / 20))))
        return spread(_load_samples(path, kind, options), limit)
    return _load_samples(path, kind, options)


def _load_samples(path: Path, kind: str, options: dict) -> list[Sample]:
    from signverse.data import mediapipe, phoenix
    if kind == "islr":
        return mediapipe.load_islr(path, **options)
    if kind == "mp_data":
        return mediapipe.read_mp_data(path, **options)
    if kind == "phoenix":
        if "split" in options:
            options["splits"] = options.pop("split")
        return phoenix.read_phoenix(path, **options)
    if kind == "index":
        return read_pose_index(path / "index.csv" if path.is_dir() else path, **options)
    if kind == "corpus":
        return samples_from_corpus(path, **options)
    if kind == "pose_folder":
        return read_pose_folder(path, **options)
    if kind == "pose_file":
        from signverse.io import read_pose
        return [Sample(path.stem, read_pose(path, **options), video_id=path.stem)]
    raise SignverseError(f"unknown sample source '{kind}' "
                         "(corpus, islr, phoenix, mp_data, index, pose_folder, pose_file)")


def iter_labels(samples: Iterable[Sample], field: str = "label") -> list[str]:
    """Sorted distinct non-empty values of ``field`` over ``samples``."""
    return sorted({v for s in samples if (v := getattr(s, field)) not in (None, "")})

"""``signverse anonymize SRC DST``: every sequence of a source on one canonical skeleton, written
as the same kind of source (a pose file, a folder of them, a release, a corpus, OpenPose JSON, or
an ISLR folder of ``<signer>.npz`` files).

Two passes: the first measures every sequence to build the population-mean skeleton (signers
weigh equally where the source names them), the second anonymises and writes.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.io.sources import Failure, iter_items, source_kind

log = logging.getLogger(__name__)


@dataclass
class AnonymizeReport:
    written: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    sequences: int = 0


def same_kind(src: Path) -> str:
    """The convert format that writes what ``src`` is."""
    from signverse.io.openpose_json import is_openpose_folder
    kind = source_kind(src)
    if kind == "file":
        if src.is_dir() and is_openpose_folder(src):
            return "openpose"
        return {".pose": "pose", ".npz": "npz", ".json": "pose_keypoint"}.get(src.suffix.lower(), "pose")
    return {"folder": "pose", "release": "signverse2m", "corpus": "corpus"}[kind]


def anonymize_path(src: str | Path, dst: str | Path, *, method: str | None = None,
                   jitter: float = 0.0, rotate: float | None = None, seed: int = 0,
                   shift: float | None = None, amplitude: float | None = None,
                   hand_turn: float | None = None, expression: float | None = None,
                   rest_motion: float | None = None,
                   canonical: str | Path | None = None,
                   save_canonical: str | Path | None = None) -> AnonymizeReport:
    """Anonymise every sequence under ``src`` into ``dst`` (see the module docstring).
    ``canonical``: a skeleton saved earlier (``save_canonical``) instead of measuring ``src``."""
    from signverse.data.mediapipe import is_islr_folder
    from signverse.ops.anonymize import DEFAULT_METHOD
    method = method or DEFAULT_METHOD
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise InputError(dst, "is the source; write the anonymised copy elsewhere")
    if is_islr_folder(src):
        return _anonymize_islr(src, dst, method=method, jitter=jitter, rotate=rotate, seed=seed,
                               space=dict(shift=shift, amplitude=amplitude, hand_turn=hand_turn,
                                          expression=expression, rest_motion=rest_motion),
                               canonical=canonical,
                               save_canonical=save_canonical)
    from signverse.ops.anonymize import anonymize, canonical_target, load_target, save_target, sequence_seed
    from signverse.layouts import convert, get_layout
    report = AnonymizeReport()
    if canonical is not None:
        loaded = load_target(canonical)
        targets = {loaded.layout: loaded}
    else:
        poses, groups = [], []
        for item in iter_items(src, report.failures):
            poses.append(item.pose)
            groups.append(item.meta.get("signer"))
        if not poses:
            raise InputError(src, "no readable pose sequence to anonymise")
        # One canonical skeleton per layout present, each measured on every sequence (points
        # matched by name), so a lone file in another layout joins the population too.
        targets = {}
        for name in sorted({get_layout(p.layout).name for p in poses}):
            try:
                targets[name] = canonical_target(poses, name, groups=groups)
            except SignverseError as exc:
                log.warning("layout %s: %s", name, exc)
        del poses
        if not targets:
            raise InputError(src, "no sequence with shoulders to measure a canonical skeleton from")
    if save_canonical is not None:
        if len(targets) > 1:
            log.warning("several layouts: saving the canonical skeleton of %s only", next(iter(targets)))
        save_target(next(iter(targets.values())), save_canonical)

    def transform(item, pose):
        layout = get_layout(pose.layout).name
        if layout not in targets:
            target_layout = next(iter(targets))
            pose = convert(pose, target_layout)
            layout = target_layout
        report.sequences += 1
        return anonymize(pose, targets[layout], method=method, jitter=jitter, rotate=rotate,
                         shift=shift, amplitude=amplitude, hand_turn=hand_turn,
                         expression=expression, rest_motion=rest_motion,
                         seed=sequence_seed(item.name, seed))

    from signverse.io.transcode import convert_path
    fmt = same_kind(src)
    result = convert_path(src, dst, fmt=fmt, transform=transform)
    report.written = result.written
    report.failures = _unique(report.failures + result.failures)
    return report


def _unique(failures: list[Failure]) -> list[Failure]:
    seen, out = set(), []
    for f in failures:
        if (f.name, f.reason) not in seen:
            seen.add((f.name, f.reason))
            out.append(f)
    return out


def _anonymize_islr(src: Path, dst: Path, *, method, jitter, rotate, seed, space, canonical,
                    save_canonical) -> AnonymizeReport:
    """ISLR folder -> ISLR folder: same files, same arrays, keypoints on the canonical skeleton
    (x, y anonymised; z, which cannot be retargeted in 2D, written as 0; visibility kept)."""
    from signverse.data.mediapipe import _read_npz_arrays, pose_to_vectors, vectors_to_pose
    from signverse.ops.anonymize import anonymize, canonical_target, load_target, save_target, sequence_seed
    report = AnonymizeReport()
    files = sorted(src.glob("*.npz"))
    signer_data = {}
    for f in files:
        try:
            signer_data[f] = _read_npz_arrays(f)
        except InputError as exc:
            log.warning("%s", exc)
            report.failures.append(Failure(str(f), str(exc)))
    if not signer_data:
        raise InputError(src, "no readable signer .npz file")
    if canonical is not None:
        target = load_target(canonical)
    else:
        poses, groups = [], []
        for f, (arrays, _, _) in signer_data.items():
            for arr in arrays:
                poses.append(vectors_to_pose(arr))
                groups.append(f.stem)
        target = canonical_target(poses, groups=groups)
        del poses
    if save_canonical is not None:
        save_target(target, save_canonical)
    dst.mkdir(parents=True, exist_ok=True)
    for f, (arrays, labels, seq_ids) in signer_data.items():
        try:
            out = []
            for arr, sid in zip(arrays, seq_ids):
                pose = anonymize(vectors_to_pose(arr), target, method=method, jitter=jitter,
                                 rotate=rotate, seed=sequence_seed(f"{f.stem}/{sid}", seed),
                                 **space)
                out.append(pose_to_vectors(pose).astype(np.float16))
                report.sequences += 1
            lengths = {len(a) for a in out}
            payload = {"x": np.stack(out)} if len(lengths) == 1 else \
                {f"x_{i:04d}": a for i, a in enumerate(out)}
            np.savez_compressed(dst / f.name, y=np.asarray(labels), seq_ids=np.asarray(seq_ids),
                                **payload)
            report.written.append(f.name)
        except SignverseError as exc:
            log.warning("%s: %s", f, exc)
            report.failures.append(Failure(str(f), str(exc)))
    if (src / "manifest.csv").exists():
        shutil.copyfile(src / "manifest.csv", dst / "manifest.csv")
    return report

"""Privacy audit: how well a probe re-identifies signers from their poses, before and after
normalisation and anonymisation (``signverse privacy audit``).

Protocol: within each (signer, sign) group, every second sequence is held out, so each signer is
seen in training and tested on other recordings of the same signs; signers with one sequence are
left out. The probe (``signverse.metrics.privacy``) is a ridge classifier on per-sequence
position statistics, with a cosine nearest-neighbour probe beside it; the reported figure is the
better of the two. Versions of the same data:

* ``raw``: coordinates as recorded (fractions of the frame): camera placement included;
* ``normalized``: neck-centred, shoulder-scaled (``signverse.ops.normalize``): the person remains;
* ``anonymized``: ``signverse.ops.anonymize`` (canonical skeleton), then normalised the same way.

The fingerprint probe sees only body and hand bone lengths in shoulder widths.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq

log = logging.getLogger(__name__)


@dataclass
class AuditData:
    """What the audit needs: poses (person 0 used), signer ids and (optionally) sign labels."""

    poses: list[PoseSeq]
    signers: list[str]
    labels: list[str | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def audit_data_from_samples(samples) -> AuditData:
    """``Sample``s with a signer (others are skipped, logged)."""
    kept = [s for s in samples if s.signer]
    if len(kept) < len(samples):
        log.warning("privacy audit: %d of %d sequences have no signer id; left out",
                    len(samples) - len(kept), len(samples))
    return AuditData([s.pose for s in kept], [str(s.signer) for s in kept],
                     [s.label for s in kept], [s.sample_id for s in kept])


def load_audit_data(path: str | Path) -> AuditData:
    """Any sample source ``signverse train`` reads (ISLR folder, corpus, index CSV...)."""
    from signverse.data.loaders import load_samples
    return audit_data_from_samples(load_samples(path))


def _safe(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def anonymize_all(data: AuditData, *, method: str | None = None, jitter: float = 0.0,
                  rotate: float | None = None, shift: float | None = None,
                  amplitude: float | None = None, hand_turn: float | None = None,
                  expression: float | None = None, rest_motion: float | None = None,
                  seed: int = 0) -> list[PoseSeq]:
    """Every pose of ``data`` on the canonical skeleton of ``data`` (signers weigh equally)."""
    from signverse.ops.anonymize import DEFAULT_METHOD, anonymize, canonical_target, sequence_seed
    names = data.names if len(data.names) == len(data.poses) else [str(i) for i in range(len(data.poses))]
    target = canonical_target(data.poses, groups=data.signers)
    return [anonymize(p, target, method=method or DEFAULT_METHOD, jitter=jitter, rotate=rotate,
                      shift=shift, amplitude=amplitude, hand_turn=hand_turn, expression=expression,
                      rest_motion=rest_motion, seed=sequence_seed(n, seed))
            for p, n in zip(data.poses, names)]


def version_features(poses: Sequence[PoseSeq]) -> np.ndarray:
    """The probe's features (``sequence_features``) of every pose, one row each."""
    from signverse.metrics.privacy import sequence_features
    return np.stack([sequence_features(p) for p in poses])


def audit(data: AuditData, *, method: str | None = None, jitter: float = 0.0,
          rotate: float | None = None, shift: float | None = None, amplitude: float | None = None,
          hand_turn: float | None = None, expression: float | None = None,
          rest_motion: float | None = None, figure: str | Path | None = None,
          anonymized: list[PoseSeq] | None = None) -> dict:
    """Re-identification top-1 on raw / normalized / anonymized data, with chance, the per-probe
    figures and the bone-length fingerprint; strict JSON (null for what could not be measured).
    ``anonymized``: the anonymised poses if already made (else ``anonymize_all``)."""
    from signverse.metrics.privacy import bone_ratio_fingerprint, reid_top1, split_per_signer
    from signverse.ops.anonymize import DEFAULT_METHOD, method_quiet, method_rotate, method_space
    from signverse.ops.normalize import normalize

    method = method or DEFAULT_METHOD
    if len(data.poses) != len(data.signers):
        raise SignverseError("every pose needs a signer id")
    labels = data.labels if len(data.labels) == len(data.poses) else None
    train, test = split_per_signer(data.signers, labels)
    signers_tested = sorted({data.signers[i] for i in test})
    if len(signers_tested) < 2 or not len(train):
        raise SignverseError(f"re-identification needs at least 2 signers with 2 or more sequences "
                             f"each; found {len(signers_tested)}")
    if anonymized is None:
        anonymized = anonymize_all(data, method=method, jitter=jitter, rotate=rotate, shift=shift,
                                   amplitude=amplitude, hand_turn=hand_turn,
                                   expression=expression, rest_motion=rest_motion)

    def frame_units(pose: PoseSeq) -> PoseSeq:
        return pose.replace(xy=pose.xy / np.array([pose.width, pose.height], np.float32))

    versions = {
        "raw": [frame_units(p) for p in data.poses],
        "normalized": [normalize(p)[0] for p in data.poses],
        "anonymized": [normalize(p)[0] for p in anonymized],
    }
    probes = {name: reid_top1(version_features(poses), data.signers, train, test)
              for name, poses in versions.items()}
    fingerprint = {
        "normalized": reid_top1(np.stack([bone_ratio_fingerprint(p) for p in data.poses]),
                                data.signers, train, test),
        "anonymized": reid_top1(np.stack([bone_ratio_fingerprint(p) for p in anonymized]),
                                data.signers, train, test),
    }
    n_signers = len(signers_tested)
    result = {
        "n_signers": n_signers,
        "n_sequences": int(len(train) + len(test)),
        "chance": _safe(1.0 / n_signers),
        "reid_top1": {k: _safe(v["best"]) for k, v in probes.items()},
        "probe": "best of ridge classifiers (alpha 10 and 1; closed form, standardised "
                 "per-point position mean/std and presence) and cosine 1-nearest-neighbour",
        "reid_top1_by_probe": {k: {p: _safe(x) for p, x in v.items() if p != "best"}
                               for k, v in probes.items()},
        "fingerprint_top1": {k: _safe(v["best"]) for k, v in fingerprint.items()},
        "anonymization": {"method": method, "jitter": jitter,
                          "rotate_deg": method_rotate(method, rotate),
                          **dict(zip(("shift", "amplitude", "hand_turn_deg"),
                                     method_space(method, shift, amplitude, hand_turn))),
                          **dict(zip(("expression", "rest_motion"),
                                     method_quiet(method, expression, rest_motion)))},
        "n_train": int(len(train)), "n_test": int(len(test)),
    }
    if figure is not None:
        result["figure"] = str(fingerprint_figure(data, anonymized, figure))
    return result


def fingerprint_figure(data: AuditData, anonymized: Sequence[PoseSeq], path: str | Path) -> Path:
    """Two panels (before / after anonymisation): each sequence as a point of two bone-length
    ratios (upper arm and forearm in shoulder widths, both sides averaged), coloured by signer."""
    from signverse.core.errors import require
    require("matplotlib", "plot")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from signverse.layouts import get_layout
    from signverse.ops.retarget import measure

    def ratios(poses):
        out = []
        for pose in poses:
            lay = get_layout(pose.layout)
            try:
                t = measure(pose)
            except SignverseError:
                out.append((np.nan, np.nan))
                continue
            upper = np.nanmean([t.lengths[lay.anchor(f"{s}_elbow")] for s in ("left", "right")])
            fore = np.nanmean([t.lengths[lay.anchor(f"{s}_wrist")] for s in ("left", "right")])
            out.append((upper, fore))
        return np.array(out)

    signers = sorted(set(data.signers))
    colour = {s: plt.cm.tab20(i % 20) for i, s in enumerate(signers)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    for ax, title, poses in ((axes[0], "original (normalised)", data.poses),
                             (axes[1], "anonymised", anonymized)):
        points = ratios(poses)
        ax.scatter(points[:, 0], points[:, 1], s=6, c=[colour[s] for s in data.signers])
        ax.set_title(title)
        ax.set_xlabel("upper arm / shoulder width")
    axes[0].set_ylabel("forearm / shoulder width")
    fig.suptitle(f"Bone-length fingerprint: {len(data.poses)} sequences, {len(signers)} signers "
                 f"(one colour per signer)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

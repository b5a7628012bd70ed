"""Anonymisation: everyone on one canonical skeleton, their motion kept.

What carries the language (joint angles over time, hand shapes, facial movement) is kept; what
carries the person's build is replaced. Every sequence is retargeted (``signverse.ops.retarget``)
to a canonical ``Target``: population-mean body and hand bone lengths (in shoulder widths), the
population-mean face shape with each person's expression kept as displacement from their own mean
face, and the population-mean placement in the frame (so where a signer sat before their webcam
does not single them out either). ``jitter`` adds a small per-sequence randomisation of the
lengths and placement (seeded per sequence, so a corpus anonymises reproducibly).

The population is the data itself: each sequence is measured (median over its frames), the
measurements are averaged per signer where signers are known (so prolific signers do not weigh
more), then over signers. Missing points stay missing; nothing is invented.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.ops.retarget import Target, measure, retarget
from signverse.core.jsonio import dumps as json_dumps

log = logging.getLogger(__name__)
METHODS = ("canonical",)


# Bones that carry no language, only the person and their camera: the lower body (in a webcam
# frame mostly guessed by the estimator) and the head's usual tilt. Their usual direction becomes
# the population's; their movement around it (nods, shifts) is kept.
_REST_WORDS = ("shoulder", "nose", "eye", "ear", "mouth", "hip", "knee", "ankle", "heel", "toe", "foot")


def rest_bones(layout: str) -> list[int]:
    """Indices of the points whose bone takes the population's usual direction."""
    lay = get_layout(layout)
    out = []
    for i, name in enumerate(lay.point_names):
        comp, point = name.split(".", 1)
        if comp == "feet" or (comp == "body" and any(w in point for w in _REST_WORDS)):
            out.append(i)
    return out


def canonical_target(poses: Iterable[PoseSeq], layout: str | None = None, *,
                     groups: Sequence[str | None] | None = None) -> Target:
    """The population-mean ``Target`` of ``poses`` (person 0 of each), for ``layout`` (default:
    the first pose's). ``groups`` (e.g. signer ids, aligned with ``poses``) averages within each
    group first. Sequences without shoulders are skipped."""
    measured: dict[str, list[Target]] = {}
    lay = None
    for i, pose in enumerate(poses):
        lay = lay or get_layout(layout or pose.layout)
        try:
            target = measure(pose, lay.name, rest=rest_bones(lay.name))
        except SignverseError:
            continue
        key = str(groups[i]) if groups is not None and groups[i] is not None else f"#{i}"
        measured.setdefault(key, []).append(target)
    if not measured:
        raise SignverseError("no sequence with shoulders to measure a canonical skeleton from")
    per_group = [_mean_target(targets) for targets in measured.values()]
    mean = _mean_target(per_group)
    log.info("canonical skeleton from %d group(s), %d sequence(s)", len(per_group),
             sum(len(t) for t in measured.values()))
    return mean


def _mean_target(targets: list[Target]) -> Target:
    def nanmean(arrays):
        stack = np.stack(arrays)
        count = np.isfinite(stack).sum(0)
        total = np.nansum(stack, 0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    centers = np.array([t.center for t in targets])
    rest = None
    if all(t.rest_angles is not None for t in targets):
        # directions average as unit vectors (angles wrap around)
        cos = nanmean([np.cos(t.rest_angles) for t in targets])
        sin = nanmean([np.sin(t.rest_angles) for t in targets])
        rest = np.arctan2(sin, cos)
    return Target(targets[0].layout, nanmean([t.lengths for t in targets]),
                  nanmean([t.face_shape for t in targets]),
                  (float(centers[:, 0].mean()), float(centers[:, 1].mean())),
                  float(np.mean([t.shoulder for t in targets])), None, rest)


def sequence_seed(name: str, seed: int = 0) -> int:
    """A stable per-sequence seed (the same name and seed anonymise the same way every run)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "little")


def anonymize(pose: PoseSeq, target: Target, *, method: str = "canonical", jitter: float = 0.0,
              rotate: float = 0.0, seed: int | None = None) -> PoseSeq:
    """``pose`` on the canonical skeleton ``target`` (see ``canonical_target``), in its own frame.

    ``jitter`` (e.g. 0.03): each bone length, the face size and the placement scaled by
    ``1 + N(0, jitter)`` for this sequence; ``rotate`` (degrees, e.g. 5): each bone turned by a
    constant ``N(0, rotate)`` for this sequence, blurring a person's habitual posture while the
    movement stays (``seed`` makes both reproducible; see ``sequence_seed``).
    """
    if method not in METHODS:
        raise SignverseError(f"unknown anonymisation method '{method}' (known: {', '.join(METHODS)})")
    if jitter < 0 or rotate < 0:
        raise SignverseError(f"jitter and rotate must be >= 0, got {jitter} and {rotate}")
    target = replace(target, frame=None)
    if jitter > 0 or rotate > 0:
        target = target.jittered(np.random.default_rng(seed), jitter, rotate)
    return retarget(pose, target)


# -- saving the canonical skeleton (so another corpus can be put on the same one) ----------------
def save_target(target: Target, path: str | Path) -> Path:
    def clean(a):
        return [None if not np.isfinite(v) else round(float(v), 6) for v in np.ravel(a)]
    path = Path(path)
    path.write_text(json_dumps({"layout": target.layout, "lengths": clean(target.lengths),
                                "face_shape": clean(target.face_shape),
                                "rest_angles": None if target.rest_angles is None
                                else clean(target.rest_angles),
                                "center": list(target.center), "shoulder": target.shoulder}))
    return path


def load_target(path: str | Path) -> Target:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lay = get_layout(data["layout"])
        lengths = np.array([np.nan if v is None else v for v in data["lengths"]], np.float64)
        face = np.array([np.nan if v is None else v for v in data["face_shape"]], np.float64)
        center = (float(data["center"][0]), float(data["center"][1]))
        shoulder = float(data["shoulder"])
        rest = data.get("rest_angles")
        rest = None if rest is None else np.array([np.nan if v is None else v for v in rest], np.float64)
    except (OSError, ValueError, KeyError, TypeError, IndexError, SignverseError) as exc:
        raise InputError(path, f"not a canonical skeleton file ({exc})") from None
    if lengths.shape != (lay.num_points,) or face.size % 2 or \
            (rest is not None and rest.shape != lengths.shape):
        raise InputError(path, f"does not fit layout {lay.name}")
    return Target(lay.name, lengths, face.reshape(-1, 2), center, shoulder, None, rest)

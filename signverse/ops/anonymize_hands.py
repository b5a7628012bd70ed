"""Hand-shape prototypes: a part of anonymisation that acts on what is left of the person once
the skeleton is canonical (``signverse.ops.anonymize``).

Handshapes in a sign language are categorical (a few dozen shapes), but each person forms them
their own way (how far a finger bends, how the thumb sits), and that is what still singles a
signer out after retargeting (README privacy ablation: the dominant hand). A ``HandCodebook``
holds K prototype shapes per hand, learned by k-means from the corpus itself (signers weigh
equally, like the canonical skeleton): a shape is the direction of every finger bone relative to
the hand's own orientation (the wrist -> middle-finger knuckle bone), so the same shape held at
another angle is the same shape. ``snap_hands`` pulls each frame's hand towards its nearest
prototype by a fraction ``alpha`` of every bone's angle difference, and optionally the hand's
orientation towards the nearest of a few prototype orientations; every bone keeps its length
(canonical after retargeting). Frames where the hand is not wholly present are left as they are:
nothing is invented, missing stays missing.

Measured on the shared ISLR data (README privacy section), snapping lowered re-identification
little (which prototype a person's hand falls into is itself personal) and cost recognition more
than the random hand turn does, so no method uses it; it stays for further work.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.ops.retarget import kinematic_tree, wrap_angle

SIDES = ("left", "right")
# how many frames per hand the k-means sees at most (drawn with signers weighing equally)
FIT_FRAMES = 30000
FIT_ITERATIONS = 25


@lru_cache(maxsize=None)
def hand_bones(layout: str, side: str) -> tuple[tuple[int, int], ...] | None:
    """(parent, child) of every bone inside ``side``'s hand component, parents first, the
    reference bone (wrist -> middle knuckle, else the wrist's first bone) first; None when the
    layout has no such hand."""
    lay = get_layout(layout)
    comp = f"{side}_hand"
    if not lay.has(comp):
        return None
    sl = lay.slice(comp)
    sk = kinematic_tree(lay.name)
    inside = set(range(sl.start, sl.stop))
    bones = [(int(sk.parent[k]), k) for k in sk.order if k in inside and int(sk.parent[k]) in inside]
    if not bones:
        return None
    names = lay.point_names
    ref = next((i for i, (p, c) in enumerate(bones)
                if names[p] == f"{comp}.wrist" and names[c] == f"{comp}.middle_mcp"), None)
    if ref is None:
        ref = next((i for i, (p, _) in enumerate(bones) if p == bones[0][0]), 0)
    # the reference bone first; the order stays parents-first (its parent is the hand's root)
    return tuple([bones[ref]] + bones[:ref] + bones[ref + 1:])


def hand_angles(pose: PoseSeq, side: str, *, person: int = 0):
    """(absolute bone angles [T, B] in radians, bone lengths [T, B], frames where every bone of
    the hand is present [T]) of ``side``'s hand, or None when the layout has none."""
    bones = hand_bones(get_layout(pose.layout).name, side)
    if bones is None:
        return None
    xy = pose.xy[:, person].astype(np.float64)
    par = np.array([p for p, _ in bones])
    chi = np.array([c for _, c in bones])
    vec = xy[:, chi] - xy[:, par]
    angles = np.arctan2(vec[..., 1], vec[..., 0])
    lengths = np.linalg.norm(vec, axis=-1)
    whole = np.isfinite(vec).all((-1, -2)) & (lengths > 1e-9).all(-1)
    return angles, lengths, whole


def _shape_vectors(relative: np.ndarray) -> np.ndarray:
    """Relative bone angles [N, B] as unit vectors [N, 2B]: a distance that respects wrap-around."""
    return np.concatenate([np.cos(relative), np.sin(relative)], -1)


@dataclass(frozen=True)
class HandCodebook:
    """Prototype hand shapes (relative bone angles [K, B] per side, the reference bone's 0) and
    prototype orientations (angles [M] per side) of one layout."""

    layout: str
    shapes: dict          # side -> [K, B] radians, relative to the hand's orientation
    orientations: dict    # side -> [M] radians

    def to_json(self) -> dict:
        return {"layout": self.layout,
                "shapes": {s: np.round(v, 6).tolist() for s, v in self.shapes.items()},
                "orientations": {s: np.round(v, 6).tolist() for s, v in self.orientations.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "HandCodebook":
        lay = get_layout(data["layout"])
        shapes = {s: np.asarray(v, np.float64) for s, v in data["shapes"].items()}
        orients = {s: np.asarray(v, np.float64) for s, v in data.get("orientations", {}).items()}
        for side, protos in shapes.items():
            bones = hand_bones(lay.name, side)
            if bones is None or protos.ndim != 2 or protos.shape[1] != len(bones) \
                    or not np.isfinite(protos).all():
                raise SignverseError(f"hand prototypes of '{side}' do not fit layout {lay.name}")
        return cls(lay.name, shapes, orients)


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Plain k-means (k-means++ start) of the rows of ``x``; returns the centres [k, D]."""
    k = min(k, len(x))
    centres = [x[rng.integers(len(x))]]
    dist = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = dist.sum()
        pick = rng.choice(len(x), p=dist / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
        dist = np.minimum(dist, ((x - x[pick]) ** 2).sum(1))
    c = np.array(centres)
    sq = (x ** 2).sum(1)
    for _ in range(iterations):
        assign = np.argmin(sq[:, None] - 2 * x @ c.T + (c ** 2).sum(1)[None], 1)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(c)
        np.add.at(sums, assign, x)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], c)
        if np.allclose(moved, c):
            break
        c = moved
    return c


def fit_codebook(poses: Iterable[PoseSeq], layout: str | None = None, *,
                 groups: Sequence[str | None] | None = None, shapes: int = 32,
                 orientations: int = 4, seed: int = 0, person: int = 0) -> HandCodebook:
    """K prototype hand shapes and M prototype orientations per hand, by k-means over every
    frame with a whole hand (``groups``, e.g. signer ids aligned with ``poses``, weigh equally:
    each group's frames share one unit of weight). Poses in another layout are skipped."""
    rel: dict[str, list] = {s: [] for s in SIDES}
    ori: dict[str, list] = {s: [] for s in SIDES}
    who: dict[str, list] = {s: [] for s in SIDES}
    lay = None
    for i, pose in enumerate(poses):
        lay = lay or get_layout(layout or pose.layout)
        if get_layout(pose.layout).name != lay.name:
            continue
        key = str(groups[i]) if groups is not None and groups[i] is not None else f"#{i}"
        for side in SIDES:
            got = hand_angles(pose, side, person=person)
            if got is None or not got[2].any():
                continue
            angles = got[0][got[2]]
            rel[side].append(wrap_angle(angles - angles[:, :1]))
            ori[side].append(angles[:, 0])
            who[side].extend([key] * len(angles))
    if lay is None:
        raise SignverseError("no pose to learn hand shapes from")
    rng = np.random.default_rng(seed)
    out_shapes, out_orients = {}, {}
    for side in SIDES:
        if not rel[side]:
            continue
        r, o, w = np.concatenate(rel[side]), np.concatenate(ori[side]), np.array(who[side])
        _, inverse, counts = np.unique(w, return_inverse=True, return_counts=True)
        weight = 1.0 / counts[inverse]
        take = rng.choice(len(r), size=min(FIT_FRAMES, len(r)), replace=False, p=weight / weight.sum())
        centres = _kmeans(_shape_vectors(r[take]), shapes, rng, FIT_ITERATIONS)
        b = r.shape[1]
        out_shapes[side] = np.arctan2(centres[:, b:], centres[:, :b])
        out_shapes[side][:, 0] = 0.0
        if orientations > 0:
            unit = np.stack([np.cos(o[take]), np.sin(o[take])], 1)
            oc = _kmeans(unit, orientations, rng, FIT_ITERATIONS)
            out_orients[side] = np.arctan2(oc[:, 1], oc[:, 0])
    if not out_shapes:
        raise SignverseError("no frame with a whole hand to learn hand shapes from")
    return HandCodebook(lay.name, out_shapes, out_orients)


def snap_hands(pose: PoseSeq, codebook: HandCodebook, *, alpha: float = 0.5,
               orient: float = 0.0, person: int = 0) -> PoseSeq:
    """Each whole hand pulled towards its nearest prototype shape: every bone turned by
    ``alpha`` of its angle difference to the prototype (relative to the hand's orientation),
    the orientation by ``orient`` of its difference to the nearest prototype orientation; the
    wrist stays, every bone keeps its length. ``alpha = orient = 0`` returns ``pose``; frames
    where a hand is not wholly present, and layouts the codebook has no shapes for, are kept."""
    if not 0 <= alpha <= 1 or not 0 <= orient <= 1:
        raise SignverseError(f"hand snapping fractions must be in [0, 1], got {alpha} and {orient}")
    if (alpha == 0 and orient == 0) or get_layout(pose.layout).name != codebook.layout:
        return pose
    xy = pose.xy.astype(np.float64)
    for side, protos in codebook.shapes.items():
        got = hand_angles(pose, side, person=person)
        if got is None or not got[2].any():
            continue
        angles, lengths, whole = got
        bones = hand_bones(codebook.layout, side)
        theta = angles[whole, :1]
        relative = wrap_angle(angles[whole] - theta)
        # nearest prototype: the smallest sum over bones of 1 - cos(difference)
        score = np.cos(relative) @ np.cos(protos).T + np.sin(relative) @ np.sin(protos).T
        nearest = protos[np.argmax(score, 1)]
        relative = relative + alpha * wrap_angle(nearest - relative)
        if orient > 0 and len(codebook.orientations.get(side, ())):
            o = codebook.orientations[side]
            closest = o[np.argmax(np.cos(theta - o[None]), 1)][:, None]
            theta = theta + orient * wrap_angle(closest - theta)
        new = theta + relative
        p = xy[whole, person]                                  # [W, K, 2] copy
        for b, (par, chi) in enumerate(bones):                 # parents first
            p[:, chi] = p[:, par] + lengths[whole, b, None] * np.stack(
                [np.cos(new[:, b]), np.sin(new[:, b])], -1)
        xy[whole, person] = p
    return pose.replace(xy=xy.astype(np.float32))

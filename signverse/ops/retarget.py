"""Skeleton retargeting: give a pose sequence someone else's bone lengths, keep its motion.

The layout's limbs form a kinematic tree (``kinematic_tree``) rooted at the neck (or, for
layouts without one, at the shoulder midpoint); hands hang from the body's wrists, feet from the
ankles. Retargeting walks that tree from the root and rebuilds every point as
``parent + target_length * direction``, where ``direction`` is the source bone's unit vector in
that frame, so every joint angle and every finger articulation is the source's exactly; only the
lengths change. The root follows the source's root motion, moved to the target's position and
scaled by the ratio of shoulder widths.

Face points carry no limbs: they are rebuilt as the target's mean face shape (around the nose)
plus the source's own per-frame displacement from its mean face shape, scaled by the ratio of
the two faces' sizes, i.e. the target's face making the source's expressions.

Missing points stay missing: nothing is invented. A present point whose parent is missing in a
frame hangs from its nearest present ancestor, with the source offset scaled by the ratio of
target to source path lengths. Components that are not drawn (MediaPipe's world points, metres
around the hips) cannot be retargeted in pixels and come out missing.

Two uses: ``signverse retarget SRC --to REF`` (fit a signer's motion to the person in a reference
image) and ``signverse.ops.anonymize`` (fit everyone to one canonical skeleton).
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Iterable

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout
from signverse.layouts.base import Layout

log = logging.getLogger(__name__)

VIRTUAL_ROOT = -1        # parent index meaning "the shoulder midpoint" (layouts without a neck)
NOT_IN_TREE = -2         # face points and undrawn components
# Links between components: (child, parent) by "component.point" name, used where both exist.
_COMPONENT_LINKS = (("left_hand.wrist", "body.left_wrist"), ("right_hand.wrist", "body.right_wrist"),
                    ("feet.left_heel", "body.left_ankle"), ("feet.right_heel", "body.right_ankle"))
_EPS = 1e-9


@dataclass(frozen=True)
class Skeleton:
    """The kinematic tree of a layout.

    ``parent[k]`` is the parent of point ``k`` (``VIRTUAL_ROOT`` for children of the shoulder
    midpoint, ``NOT_IN_TREE`` for face points, the root and undrawn points); ``order`` lists the
    tree's points parents-first; ``root`` is the neck's index or ``VIRTUAL_ROOT``; ``face`` the
    face points and ``face_anchor`` the point the face shape is measured from (the nose), or -1.
    """

    layout: str
    parent: np.ndarray
    order: tuple[int, ...]
    root: int
    face: np.ndarray
    face_anchor: int
    dropped: np.ndarray      # undrawn points (not pixels): always missing after retargeting

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) of every bone, parents-first."""
        return [(int(self.parent[k]), k) for k in self.order]


@lru_cache(maxsize=None)
def kinematic_tree(layout_name: str) -> Skeleton:
    """The tree of ``layout_name`` built from its limbs and named anchors (cached)."""
    layout = get_layout(layout_name)
    for name in ("left_shoulder", "right_shoulder"):
        if not layout.has_anchor(name):
            raise SignverseError(f"layout {layout.name} has no '{name}' anchor: cannot retarget it")
    n = layout.num_points
    parent = np.full(n, NOT_IN_TREE, np.int64)
    face = np.arange(layout.slice("face").start, layout.slice("face").stop) if layout.has("face") \
        else np.zeros(0, np.int64)
    undrawn = [i for c in layout.components if not c.drawn
               for i in range(layout.slice(c.name).start, layout.slice(c.name).stop)]
    in_tree = np.ones(n, bool)
    in_tree[face] = False
    in_tree[undrawn] = False

    graph: dict[int, list[int]] = {i: [] for i in range(n)}
    for a, b in layout.limbs:
        graph[a].append(b)
        graph[b].append(a)
    names = set(layout.point_names)
    for child, par in _COMPONENT_LINKS:
        if child in names and par in names:
            c, p = layout.index(child), layout.index(par)
            graph[c].append(p)
            graph[p].append(c)

    if layout.has_anchor("neck"):
        root = layout.anchor("neck")
        start = [root]
    else:
        root = VIRTUAL_ROOT
        start = [layout.anchor("left_shoulder"), layout.anchor("right_shoulder")]
        parent[start] = VIRTUAL_ROOT
    order: list[int] = [] if root != VIRTUAL_ROOT else list(start)
    seen = set(start)

    def attach(queue: deque) -> None:
        while queue:                  # breadth first: the shortest chain from the root wins
            p = queue.popleft()
            for c in graph[p]:
                if c not in seen and in_tree[c]:
                    seen.add(c)
                    parent[c] = p
                    order.append(c)
                    queue.append(c)

    attach(deque(start))
    # Points the limbs do not connect (MediaPipe's nose and mouth corners have no limb to the
    # shoulders) hang from the root, then their own limbs attach what hangs from them.
    for k in range(n):
        if in_tree[k] and k not in seen and k != root:
            seen.add(k)
            parent[k] = root
            order.append(k)
            attach(deque([k]))
    anchor = layout.anchor("nose") if layout.has_anchor("nose") else -1
    return Skeleton(layout.name, parent, tuple(order), root, face, anchor,
                    np.asarray(undrawn, np.int64))


# -- measuring -----------------------------------------------------------------------------------
def root_xy(pose: PoseSeq, layout: Layout | None = None) -> np.ndarray:
    """``[T, P, 2]`` the skeleton's root: the neck, else the shoulder midpoint (NaN if missing)."""
    layout = layout or get_layout(pose.layout)
    if layout.has_anchor("neck"):
        return pose.xy[:, :, layout.anchor("neck")].astype(np.float64)
    return shoulder_mid(pose, layout)


def shoulder_mid(pose: PoseSeq, layout: Layout) -> np.ndarray:
    left = pose.xy[:, :, layout.anchor("left_shoulder")].astype(np.float64)
    right = pose.xy[:, :, layout.anchor("right_shoulder")].astype(np.float64)
    return (left + right) / 2


def shoulder_width(pose: PoseSeq, layout: Layout | None = None) -> np.ndarray:
    """``[T, P]`` distance between the shoulders (NaN where one is missing)."""
    layout = layout or get_layout(pose.layout)
    left = pose.xy[:, :, layout.anchor("left_shoulder")].astype(np.float64)
    right = pose.xy[:, :, layout.anchor("right_shoulder")].astype(np.float64)
    return np.linalg.norm(left - right, axis=-1)


def _with_root(xy: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``xy [T, K, 2]`` with the root appended as point K, so VIRTUAL_ROOT (-1) indexes it."""
    return np.concatenate([xy, root[:, None]], axis=1)


def bone_vectors(pose: PoseSeq, person: int = 0, skeleton: Skeleton | None = None) -> np.ndarray:
    """``[T, B, 2]`` child - parent of every bone of the tree (NaN where an end is missing)."""
    sk = skeleton or kinematic_tree(get_layout(pose.layout).name)
    xy = _with_root(pose.xy[:, person].astype(np.float64), _root_track(pose, sk)[:, person])
    bones = np.array(sk.bones, np.int64).reshape(-1, 2)
    return xy[:, bones[:, 1]] - xy[:, bones[:, 0]]


def _root_track(pose: PoseSeq, sk: Skeleton) -> np.ndarray:
    layout = get_layout(pose.layout)
    return root_xy(pose, layout) if sk.root != VIRTUAL_ROOT else shoulder_mid(pose, layout)


def nanmedian0(values: np.ndarray) -> np.ndarray:
    """NaN-median over axis 0 without warnings for all-NaN columns."""
    out = np.full(values.shape[1:], np.nan)
    has = np.isfinite(values).any(0)
    if has.any():
        out[has] = np.nanmedian(values[:, has], axis=0)
    return out


def wrap_angle(a):
    """Angles (radians) wrapped into [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


# -- the target --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Whom to retarget to, in body units so one target fits any frame size.

    ``lengths [K]``: length of the bone ending at point ``k`` in shoulder widths (NaN: no target,
    the source's own length is kept, scaled); ``face_shape [F, 2]``: the face points around the
    face anchor in shoulder widths (NaN rows: keep the source's); ``center``: the root's position
    as fractions of the frame (x / width, y / height); ``shoulder``: the shoulder width as a
    fraction of the frame height; ``frame``: the output (width, height), or None to keep the
    source's. ``layout``: the layout the indices refer to.
    """

    layout: str
    lengths: np.ndarray
    face_shape: np.ndarray
    center: tuple[float, float]
    shoulder: float
    frame: tuple[int, int] | None = None
    rest_angles: np.ndarray | None = None    # [K] radians; NaN: the bone keeps its own angles
    rotations: np.ndarray | None = None      # [K] radians added to a bone's angle in every frame
    # how much of a rest bone's movement around its usual direction is kept (1: all of it, 0: the
    # bone holds the rest direction throughout); bones without a rest angle keep all of theirs
    rest_motion: float = 1.0

    def jittered(self, rng: np.random.Generator, amount: float, rotate_deg: float = 0.0) -> "Target":
        """A copy with every bone length and the placement scaled by ``1 + N(0, amount)`` and,
        with ``rotate_deg``, every bone turned by a constant ``N(0, rotate_deg)`` degrees (left and
        right twins get the same factor, so the skeleton stays symmetric)."""
        layout = get_layout(self.layout)
        twin = layout.mirror_permutation
        first = np.arange(layout.num_points) <= twin

        def symmetric(values: np.ndarray) -> np.ndarray:
            return np.where(first, values, values[twin])

        factors = symmetric(1 + amount * rng.standard_normal(layout.num_points))
        face = self.face_shape * (1 + amount * rng.standard_normal())
        center = (self.center[0] + amount * 0.1 * rng.standard_normal(),
                  self.center[1] + amount * 0.1 * rng.standard_normal())
        rotations = self.rotations
        if rotate_deg > 0:
            # mirrored twins turn the opposite way, so a symmetric pose stays symmetric
            turn = np.radians(rotate_deg) * rng.standard_normal(layout.num_points)
            turn = np.where(first, turn, -turn[twin])
            rotations = turn if rotations is None else rotations + turn
        return replace(self, lengths=self.lengths * factors, face_shape=face, center=center,
                       shoulder=self.shoulder * (1 + amount * rng.standard_normal()),
                       rotations=rotations)


def measure(pose: PoseSeq, layout: str | Layout | None = None, *, person: int = 0,
            frame: int | None = None, rest: Iterable[int] = ()) -> Target:
    """The ``Target`` a pose defines: its median bone lengths and face shape over frames (or of
    one ``frame``), placement and frame size, expressed for ``layout`` (default: the pose's own).
    ``rest``: bones (by child index) whose usual direction is measured too (``rest_angles``).

    Points are matched by name, so a reference in another layout works as far as the names
    agree (MediaPipe variants share theirs; a DWPose reference gives body and hands to a
    COCO-WholeBody source). Where a reference lacks the neck, the shoulder midpoint stands in.
    """
    ref_layout = get_layout(pose.layout)
    dst = get_layout(layout or pose.layout)
    if not 0 <= person < pose.n_persons:
        raise SignverseError(f"person {person} does not exist (the reference has {pose.n_persons})")
    if frame is not None:
        if not -pose.n_frames <= frame < pose.n_frames:
            raise SignverseError(f"frame {frame} does not exist (the reference has {pose.n_frames})")
        pose = pose.frames(frame % pose.n_frames, frame % pose.n_frames + 1)
    sk = kinematic_tree(dst.name)
    width = nanmedian0(shoulder_width(pose, ref_layout)[:, person][:, None])[0]
    if not np.isfinite(width) or width <= _EPS:
        raise SignverseError("the reference has no shoulders in any frame: cannot measure its size")
    # The root means the same point on both sides: the neck where the destination has one,
    # else the shoulder midpoint (a detected neck, as in BODY_25, is not the midpoint).
    ref_root = (root_xy(pose, ref_layout) if sk.root != VIRTUAL_ROOT
                else shoulder_mid(pose, ref_layout))[:, person]
    # The reference's points in the destination's order (NaN where it has no such point), plus
    # its root as the last slot, so VIRTUAL_ROOT (-1) and a missing neck both find the root.
    index = {name: i for i, name in enumerate(ref_layout.point_names)}
    where = np.array([index.get(name, -1) for name in dst.point_names] + [-1])
    xy = pose.xy[:, person].astype(np.float64)
    tracks = np.where((where >= 0)[None, :, None], xy[:, np.maximum(where, 0)], np.nan)
    tracks[:, -1] = ref_root
    if sk.root != VIRTUAL_ROOT and where[sk.root] < 0:
        tracks[:, sk.root] = ref_root
    bones = np.array(sk.bones, np.int64).reshape(-1, 2)
    vectors = tracks[:, bones[:, 1]] - tracks[:, bones[:, 0]]
    lengths = np.full(dst.num_points, np.nan)
    lengths[bones[:, 1]] = nanmedian0(np.linalg.norm(vectors, axis=-1))
    rest_angles = None
    rest = [k for k in rest if k in set(bones[:, 1].tolist())]
    if rest:
        rest_angles = np.full(dst.num_points, np.nan)
        column = {int(k): i for i, k in enumerate(bones[:, 1])}
        rest_angles[rest] = [_usual_angle(vectors[:, column[k]]) for k in rest]
    face_shape = np.full((len(sk.face), 2), np.nan)
    if len(sk.face) and sk.face_anchor >= 0:
        face_shape = nanmedian0(tracks[:, sk.face] - tracks[:, sk.face_anchor, None])
    center = nanmedian0(ref_root)
    if not np.isfinite(center).all():
        center = np.array([pose.width / 2, pose.height / 2])
    return Target(dst.name, lengths / width, face_shape / width,
                  (float(center[0] / pose.width), float(center[1] / pose.height)),
                  float(width / pose.height), (pose.width, pose.height), rest_angles)


def _usual_angle(vectors: np.ndarray) -> float:
    """The mean direction (radians) of ``[T, 2]`` vectors (NaN rows and zero vectors ignored)."""
    norm = np.linalg.norm(vectors, axis=-1)
    ok = np.isfinite(norm) & (norm > _EPS)
    if not ok.any():
        return float("nan")
    mean = (vectors[ok] / norm[ok, None]).mean(0)
    return float(np.arctan2(mean[1], mean[0]))


# -- retargeting -------------------------------------------------------------------------------
def retarget(pose: PoseSeq, target: Target | PoseSeq, *, frame: int | None = None,
             ref_person: int = 0) -> PoseSeq:
    """``pose`` with ``target``'s bone lengths, face shape, position and scale, keeping every
    bone direction (joint angles, finger articulation), facial expression and missing point.

    ``target`` is a ``Target`` (see ``measure``) or a reference pose (its person ``ref_person``,
    all frames or one ``frame``). The output frame is the target's frame size when it has one,
    else the source's.

    >>> import numpy as np
    >>> from signverse.core import PoseSeq
    >>> from signverse.layouts import get_layout
    >>> dw = get_layout("dwpose")
    >>> def person(neck, half, arm):
    ...     xy = np.full((1, 1, dw.num_points, 2), np.nan, np.float32)
    ...     xy[0, 0, dw.anchor("neck")] = neck
    ...     xy[0, 0, dw.anchor("left_shoulder")] = (neck[0] + half, neck[1])
    ...     xy[0, 0, dw.anchor("right_shoulder")] = (neck[0] - half, neck[1])
    ...     xy[0, 0, dw.anchor("left_elbow")] = (neck[0] + half, neck[1] + arm)
    ...     return PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 25, 200, 200, "dwpose")
    >>> out = retarget(person((100, 50), 20, 30), person((60, 80), 10, 40))
    >>> out.xy[0, 0, dw.anchor("left_elbow")].tolist()    # ref's elbow: 40 below the shoulder
    [70.0, 120.0]
    """
    if isinstance(target, PoseSeq):
        target = measure(target, pose.layout, person=ref_person, frame=frame)
    layout = get_layout(pose.layout)
    if get_layout(target.layout).name != layout.name:
        raise SignverseError(f"the target is measured for layout {target.layout}, the pose is "
                             f"{layout.name}")
    sk = kinematic_tree(layout.name)
    width, height = target.frame or (pose.width, pose.height)
    xy = np.full(pose.xy.shape, np.nan, np.float64)
    # The first person goes where the target stands; the others keep their place relative to
    # it (scaled), so people do not pile up on one spot.
    centers = [_source_center(pose, p, sk) for p in range(pose.n_persons)]
    first = next((c for c in centers if np.isfinite(c).all()), None)
    unit = target.shoulder * height
    first_width = nanmedian0(shoulder_width(pose)[:, 0][:, None])[0] if pose.n_persons else np.nan
    lead_scale = unit / first_width if np.isfinite(first_width) and first_width > _EPS else 1.0
    for p in range(pose.n_persons):
        shift = np.zeros(2) if first is None or not np.isfinite(centers[p]).all() \
            else (centers[p] - first) * lead_scale
        xy[:, p] = _retarget_person(pose, p, target, sk, width, height, shift)
    xy = xy.astype(np.float32)
    conf = np.where(np.isfinite(xy[..., 0]), pose.conf, 0.0).astype(np.float32)
    return pose.replace(xy=xy, conf=conf, width=int(width), height=int(height))


def _source_center(pose: PoseSeq, person: int, sk: Skeleton) -> np.ndarray:
    """The person's root position, median over frames (else the median of all its points)."""
    center = nanmedian0(_root_track(pose, sk)[:, person])
    if not np.isfinite(center).all():
        flat = pose.xy[:, person].reshape(-1, 2).astype(np.float64)
        center = nanmedian0(flat)
    return center


def _retarget_person(pose: PoseSeq, person: int, target: Target, sk: Skeleton, width: int,
                     height: int, shift: np.ndarray) -> np.ndarray:
    n_frames, n_points = pose.n_frames, pose.n_points
    out = np.full((n_frames, n_points + 1, 2), np.nan)      # the last slot is the virtual root
    src = _with_root(pose.xy[:, person].astype(np.float64), _root_track(pose, sk)[:, person])
    present = np.isfinite(src).all(-1)
    if not present[:, :n_points].any():
        return out[:, :n_points]
    src_width = nanmedian0(shoulder_width(pose)[:, person][:, None])[0]
    unit = target.shoulder * height                           # target pixels per shoulder width
    if not np.isfinite(src_width) or src_width <= _EPS:
        log.info("retarget: person %d has no shoulders in any frame; kept at its own scale", person)
        src_width = unit
    scale = unit / src_width                                  # source pixels -> target pixels
    root = n_points if sk.root == VIRTUAL_ROOT else sk.root
    src_center = _source_center(pose, person, sk)
    dst_center = np.array([target.center[0] * width, target.center[1] * height]) + shift

    def similarity(points: np.ndarray) -> np.ndarray:
        # Where no ancestor is present: the body-level move and scale, nothing more.
        return dst_center + (points - src_center) * scale

    out[:, root] = similarity(src[:, root])
    src_len = nanmedian0(np.linalg.norm(
        src[:, [k for k in sk.order]] - src[:, [n_points if sk.parent[k] == VIRTUAL_ROOT
                                                else sk.parent[k] for k in sk.order]], axis=-1))
    src_len = dict(zip(sk.order, src_len))
    dst_len = {k: (target.lengths[k] * unit if np.isfinite(target.lengths[k])
                   else src_len[k] * scale) for k in sk.order}

    # Per point: where its nearest present ancestor is (source and output) and the path lengths
    # from there, so a point whose parent is missing still hangs at the right distance.
    anchor_src = {root: src[:, root]}
    anchor_out = {root: out[:, root]}
    path_src = {root: np.zeros(n_frames)}
    path_dst = {root: np.zeros(n_frames)}
    anchor_ok = {root: present[:, root]}
    for k in sk.order:
        par = n_points if sk.parent[k] == VIRTUAL_ROOT else int(sk.parent[k])
        par_here = present[:, par]
        a_src = np.where(par_here[:, None], src[:, par], anchor_src[par])
        a_out = np.where(par_here[:, None], out[:, par], anchor_out[par])
        p_src = np.where(par_here, 0.0, path_src[par]) + (src_len[k] if np.isfinite(src_len[k]) else np.nan)
        p_dst = np.where(par_here, 0.0, path_dst[par]) + dst_len[k]
        a_ok = par_here | anchor_ok[par]
        offset = src[:, k] - a_src
        norm = np.linalg.norm(offset, axis=-1)
        # A zero-length source bone (two estimates on one pixel) has no direction of its own:
        # it takes the bone's usual direction in this sequence, so its length still comes out right.
        flat = par_here & (norm <= _EPS)
        if flat.any():
            offset, norm = _usual_direction(offset, norm, flat, par_here)
        direct = par_here & (norm > _EPS)
        turn = _turn(target, k, offset, direct)
        if turn is not None:
            c, s_ = np.cos(turn), np.sin(turn)
            offset = np.stack([c * offset[:, 0] - s_ * offset[:, 1],
                               s_ * offset[:, 0] + c * offset[:, 1]], -1)
        ratio = np.where(np.isfinite(p_src) & (p_src > _EPS), p_dst / np.where(p_src > _EPS, p_src, 1), scale)
        placed = np.where(direct[:, None],
                          a_out + offset / np.where(norm > _EPS, norm, 1)[:, None] * dst_len[k],
                          a_out + offset * ratio[:, None])
        placed = np.where(a_ok[:, None], placed, similarity(src[:, k]))
        out[:, k] = np.where(present[:, k, None], placed, np.nan)
        anchor_src[k], anchor_out[k] = a_src, a_out
        path_src[k], path_dst[k], anchor_ok[k] = p_src, p_dst, a_ok
    _place_face(out, src, present, sk, target, unit, scale, similarity)
    out[:, sk.dropped] = np.nan
    return out[:, :n_points]


def _turn(target: Target, k: int, offset: np.ndarray, direct: np.ndarray) -> np.ndarray | None:
    """Per-frame rotation (radians) of bone ``k``: to the target's rest direction (keeping the
    source's movement around its own usual direction) plus any constant jitter; None if none."""
    turn = None
    if target.rest_angles is not None and np.isfinite(target.rest_angles[k]):
        own = _usual_angle(np.where(direct[:, None], offset, np.nan))
        if np.isfinite(own):
            turn = np.full(len(offset), target.rest_angles[k] - own)
            if target.rest_motion != 1.0:
                # the movement around the usual direction, scaled (missing frames: no turn needed)
                moved = np.where(direct, np.arctan2(offset[:, 1], offset[:, 0]) - own, 0.0)
                turn = turn + (target.rest_motion - 1.0) * wrap_angle(moved)
    if target.rotations is not None and target.rotations[k] != 0:
        turn = (0.0 if turn is None else turn) + np.full(len(offset), target.rotations[k])
    return turn


def _usual_direction(offset, norm, flat, par_here):
    """``offset`` with the zero-length rows replaced by the median unit direction of the others."""
    good = par_here & (norm > _EPS)
    if not good.any():
        return offset, norm
    usual = np.median(offset[good] / norm[good, None], axis=0)
    length = np.linalg.norm(usual)
    if length <= _EPS:
        return offset, norm
    offset = np.where(flat[:, None], usual / length, offset)
    return offset, np.where(flat, 1.0, norm)


def _place_face(out, src, present, sk: Skeleton, target: Target, unit: float, scale: float,
                similarity) -> None:
    """Target face shape + the source's displacement from its own mean face (its expression)."""
    if not len(sk.face):
        return
    face = sk.face
    if sk.face_anchor < 0:
        out[:, face] = similarity(src[:, face])
        return
    a = sk.face_anchor
    rel = src[:, face] - src[:, a, None]                       # [T, F, 2] source pixels
    src_shape = nanmedian0(rel)
    dst_shape = np.where(np.isfinite(target.face_shape), target.face_shape * unit, src_shape * scale)
    # Expressions are movements of one's own face: they scale with the ratio of face sizes.
    both = np.isfinite(src_shape).all(-1) & np.isfinite(dst_shape).all(-1)
    src_size = np.sqrt((src_shape[both] ** 2).sum(-1).mean()) if both.any() else 0.0
    face_scale = np.sqrt((dst_shape[both] ** 2).sum(-1).mean()) / src_size if src_size > _EPS else scale
    placed = out[:, a, None] + dst_shape[None] + (rel - src_shape[None]) * face_scale
    anchored = present[:, a, None, None] & np.isfinite(out[:, a, None])
    placed = np.where(anchored, placed, similarity(src[:, face]))
    out[:, face] = np.where(present[:, face, None], placed, np.nan)


# -- checking ------------------------------------------------------------------------------------
def bone_length_error(pose: PoseSeq, target: Target, *, person: int = 0) -> np.ndarray:
    """Per (frame, bone) ``|length - target length| / target shoulder width`` over the bones the
    target defines and the frame holds (a flat array; empty if none)."""
    sk = kinematic_tree(get_layout(pose.layout).name)
    vec = bone_vectors(pose, person, sk)
    unit = target.shoulder * pose.height
    want = np.array([target.lengths[k] for _, k in sk.bones]) * unit
    err = np.abs(np.linalg.norm(vec, axis=-1) - want[None]) / unit
    return err[np.isfinite(err)]


def joint_angle_change(a: PoseSeq, b: PoseSeq, *, person: int = 0) -> np.ndarray:
    """Per (frame, joint) change in degrees of the angle between a bone and its parent bone, from
    ``a`` to ``b`` (same layout and frames), where both hold all three points (a flat array)."""
    if a.n_frames != b.n_frames or a.layout != b.layout:
        raise SignverseError("joint angles compare two sequences of the same layout and length")
    sk = kinematic_tree(get_layout(a.layout).name)
    bone_of = {k: i for i, (_, k) in enumerate(sk.bones)}
    pairs = [(bone_of[p], i) for i, (p, k) in enumerate(sk.bones) if p in bone_of]
    if not pairs:
        return np.zeros(0)
    idx = np.array(pairs)

    def angles(pose: PoseSeq) -> np.ndarray:
        vec = bone_vectors(pose, person, sk)
        u, v = vec[:, idx[:, 0]], vec[:, idx[:, 1]]
        cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
        angle = np.degrees(np.arctan2(cross, (u * v).sum(-1)))
        # a zero-length bone has no direction, so no angle to keep
        degenerate = (np.linalg.norm(u, axis=-1) <= 1e-6) | (np.linalg.norm(v, axis=-1) <= 1e-6)
        return np.where(degenerate, np.nan, angle)

    diff = angles(b) - angles(a)
    diff = np.abs((diff + 180) % 360 - 180)
    return diff[np.isfinite(diff)]

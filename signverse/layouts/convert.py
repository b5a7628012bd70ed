"""Conversions between layouts as a graph of point maps; a request walks the shortest path."""
from __future__ import annotations

from collections import deque
from functools import lru_cache
from typing import Callable

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.registry import Registry
from signverse.layouts.base import Layout
from signverse.layouts.face_mesh import MESH_TO_FACE68
from signverse.layouts.pointmap import PointMap, name_map

# (source layout, target layout) -> builder of the direct PointMap
CONVERTERS: Registry[Callable[[], PointMap]] = Registry("layout conversion")


def register_conversion(src: str, dst: str):
    """Decorator for a function building the direct ``PointMap`` from ``src`` to ``dst``."""
    def wrap(builder: Callable[[], PointMap]) -> Callable[[], PointMap]:
        CONVERTERS.register(f"{src}->{dst}", builder)
        _path.cache_clear()
        return builder
    return wrap


def _edges() -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for key in CONVERTERS:
        src, dst = key.split("->")
        graph.setdefault(src, []).append(dst)
    return graph


@lru_cache(maxsize=None)
def _path(src: str, dst: str) -> tuple[str, ...] | None:
    graph, prev = _edges(), {src: ""}
    queue = deque([src])
    while queue:
        node = queue.popleft()
        if node == dst:
            path = [dst]
            while prev[path[-1]]:
                path.append(prev[path[-1]])
            return tuple(reversed(path))
        for nxt in graph.get(node, ()):
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    return None


@lru_cache(maxsize=None)
def conversion(src: str, dst: str) -> PointMap:
    """The composed point map from layout ``src`` to ``dst``."""
    path = _path(src, dst)
    if path is None:
        raise SignverseError(f"no conversion from layout '{src}' to '{dst}'")
    result = CONVERTERS[f"{path[0]}->{path[1]}"]()
    for a, b in zip(path[1:], path[2:]):
        result = result.then(CONVERTERS[f"{a}->{b}"]())
    return result


def can_convert(src: str, dst: str) -> bool:
    return src == dst or _path(src, dst) is not None


def convert(pose: PoseSeq, dst: str) -> PoseSeq:
    """Convert a pose sequence to layout ``dst``; points without a counterpart become missing."""
    from signverse.layouts import get_layout
    target = get_layout(dst).name
    source = get_layout(pose.layout).name
    if source == target:
        return pose
    return conversion(source, target).apply(pose)


def _layouts(*names: str) -> list[Layout]:
    from signverse.layouts import get_layout
    return [get_layout(n) for n in names]


def _holistic_to_coco(variant: str) -> PointMap:
    src, dst = _layouts(variant, "coco-wholebody")
    return name_map(src, dst, overrides={
        "feet.left_big_toe": ["body.left_foot_index"], "feet.right_big_toe": ["body.right_foot_index"],
        "feet.left_heel": ["body.left_heel"], "feet.right_heel": ["body.right_heel"],
        "feet.left_small_toe": None, "feet.right_small_toe": None,   # Holistic has no small toe
    }, component_maps={"face": ("face", MESH_TO_FACE68)})


for _variant in ("mediapipe-holistic", "mediapipe-holistic-world", "mediapipe-holistic-refined"):
    register_conversion(_variant, "coco-wholebody")(lambda v=_variant: _holistic_to_coco(v))


@register_conversion("coco-wholebody", "mediapipe-holistic")
def _coco_to_holistic() -> PointMap:
    """The inverse of Holistic -> COCO-WholeBody: body, feet, hands by name, the 68 face points onto
    their face-mesh vertices. Holistic's body eye corners and mouth corners come from the 68-point
    eye and mouth corners (median 2-4 px apart on poses_FOOTBALL); the other 400 mesh vertices and
    the body's pinky/index/thumb (which sit on no single hand joint) have no source and stay missing."""
    src, dst = _layouts("coco-wholebody", "mediapipe-holistic")
    face = src.component("face").points
    overrides: dict[str, list[str] | None] = {
        f"face.{vertex}": [f"face.{face[i]}"] for i, vertex in enumerate(MESH_TO_FACE68)}
    for side in ("left", "right"):
        overrides[f"body.{side}_heel"] = [f"feet.{side}_heel"]
        overrides[f"body.{side}_foot_index"] = [f"feet.{side}_big_toe"]
        for part in ("pinky", "index", "thumb"):
            overrides[f"body.{side}_{part}"] = None
    corners = {"right_eye_outer": 36, "right_eye_inner": 39, "left_eye_inner": 42, "left_eye_outer": 45,
               "mouth_right": 48, "mouth_left": 54}
    overrides |= {f"body.{name}": [f"face.{face[i]}"] for name, i in corners.items()}
    return name_map(src, dst, overrides=overrides)


@register_conversion("coco-wholebody", "dwpose")
def _coco_to_dwpose() -> PointMap:
    src, dst = _layouts("coco-wholebody", "dwpose")
    # DWPose synthesises the neck as the mean of the shoulders; the 6 foot points are dropped.
    return name_map(src, dst, overrides={"body.neck": ["body.left_shoulder", "body.right_shoulder"]})


@register_conversion("dwpose", "coco-wholebody")
def _dwpose_to_coco() -> PointMap:
    return name_map(*_layouts("dwpose", "coco-wholebody"))


@register_conversion("openpose-137", "dwpose")
def _openpose_to_dwpose() -> PointMap:
    return name_map(*_layouts("openpose-137", "dwpose"))


@register_conversion("openpose-137", "coco-wholebody")
def _openpose_to_coco() -> PointMap:
    src, dst = _layouts("openpose-137", "coco-wholebody")
    feet = {f"feet.{p}": [f"body.{p}"] for p in dst.component("feet").points}
    return name_map(src, dst, overrides=feet)


@register_conversion("coco-wholebody", "openpose-137")
def _coco_to_openpose() -> PointMap:
    src, dst = _layouts("coco-wholebody", "openpose-137")
    overrides = {f"body.{p}": [f"feet.{p}"] for p in src.component("feet").points}
    overrides["body.neck"] = ["body.left_shoulder", "body.right_shoulder"]
    overrides["body.mid_hip"] = ["body.left_hip", "body.right_hip"]
    return name_map(src, dst, overrides=overrides)


@register_conversion("mediapipe-holistic-world", "mediapipe-holistic")
def _drop_world() -> PointMap:
    return name_map(*_layouts("mediapipe-holistic-world", "mediapipe-holistic"))


@register_conversion("mediapipe-holistic", "mediapipe-holistic-world")
def _add_world() -> PointMap:
    # World points are not pixels and cannot be derived from image points: they stay missing.
    src, dst = _layouts("mediapipe-holistic", "mediapipe-holistic-world")
    return name_map(src, dst, overrides={n: None for n in dst.point_names if n.startswith("body_world.")})

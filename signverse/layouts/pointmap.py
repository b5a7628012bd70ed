"""Sparse point maps: each target point is a weighted mean of source points (or missing).

A target point is valid only when every source point it uses is valid, and its confidence is the
lowest of theirs, so conversions never invent a point that the source did not have.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts.base import Layout

Sources = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class PointMap:
    src: str
    dst: str
    sources: tuple[Sources, ...]   # one entry per target point; empty = always missing

    def then(self, other: "PointMap") -> "PointMap":
        """This map followed by ``other`` as one map."""
        composed = []
        for target in other.sources:
            acc: dict[int, float] = {}
            for mid, w_mid in target:
                if not self.sources[mid]:
                    acc = {}
                    break
                for s, w in self.sources[mid]:
                    acc[s] = acc.get(s, 0.0) + w * w_mid
            composed.append(tuple(sorted(acc.items())))
        return PointMap(self.src, other.dst, tuple(composed))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``idx [K, S]`` (-1 padded) and ``weight [K, S]`` for vectorised application."""
        width = max((len(s) for s in self.sources), default=1) or 1
        idx = np.full((len(self.sources), width), -1, np.int64)
        weight = np.zeros((len(self.sources), width), np.float32)
        for k, srcs in enumerate(self.sources):
            for j, (s, w) in enumerate(srcs):
                idx[k, j], weight[k, j] = s, w
        return idx, weight

    def apply(self, pose: PoseSeq) -> PoseSeq:
        idx, weight = self.arrays()
        used = idx >= 0
        safe = np.where(used, idx, 0)
        xy = np.nan_to_num(pose.xy)[:, :, safe]                      # [T, P, K, S, 2]
        conf = np.where(used, pose.conf[:, :, safe], np.inf)         # [T, P, K, S]
        out_xy = (xy * weight[..., None]).sum(-2)
        out_conf = conf.min(-1)
        missing = ~used.any(-1) | (out_conf <= 0) | ~np.isfinite(out_conf)
        out_xy[missing] = np.nan
        out_conf[missing] = 0.0
        out_z = None
        if pose.z is not None:   # depth maps like the coordinates (a mean for synthesised points)
            out_z = (np.nan_to_num(pose.z)[:, :, safe] * weight).sum(-1)
            out_z[missing | ~np.isfinite(np.where(used, pose.z[:, :, safe], 0)).all(-1)] = np.nan
        return pose.replace(xy=out_xy, conf=out_conf, layout=self.dst, z=out_z)


def name_map(src: Layout, dst: Layout,
             overrides: Mapping[str, Sequence[str] | None] | None = None,
             component_maps: Mapping[str, tuple[str, Sequence[int]]] | None = None) -> PointMap:
    """Map points that share a ``component.point`` name, with explicit exceptions.

    ``overrides`` maps a target point to the source points it averages (None = missing);
    ``component_maps`` maps a target component to ``(source component, source local indices)``.
    """
    overrides = dict(overrides or {})
    for comp_name, (src_comp, local) in (component_maps or {}).items():
        start = src.slice(src_comp).start
        for point, i in zip(dst.component(comp_name).points, local):
            overrides[f"{comp_name}.{point}"] = [src.point_names[start + i]]
    known = set(src.point_names)
    sources = []
    for name in dst.point_names:
        if name in overrides:
            picks = overrides[name] or []
            sources.append(tuple((src.index(p), 1.0 / len(picks)) for p in picks))
        elif name in known:
            sources.append(((src.index(name), 1.0),))
        else:
            sources.append(())
    return PointMap(src.name, dst.name, tuple(sources))

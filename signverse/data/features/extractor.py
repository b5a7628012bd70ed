"""Pose -> per-frame model features, with train-set statistics that travel in checkpoints.

A ``FeatureConfig`` chooses the layout (poses are converted with ``signverse.layouts.convert``),
the points kept, normalisation and velocity. ``FeatureExtractor(config).fit(train_samples)``
measures per-feature mean/std (``FeatureStats``); calling it on a pose gives ``Features``:
``x [T, F]`` float32 (missing values 0 after standardisation), ``mask [T]`` (frame has a point)
and ``point_mask [T, K]``. Feature order: for each kept point, (x, y); with velocity, the same
again for frame-to-frame differences.

Normalisation is per sequence (so motion is kept): centre on the median neck (shoulder midpoint
when the layout has no neck), divide by the median shoulder width; without visible shoulders,
centre on the mean point and divide by the larger frame side (``signverse.ops.normalize`` does
the first case).

>>> cfg = feature_preset("holistic-upper")
>>> cfg.layout, len(FeatureExtractor(cfg).point_indices())
('mediapipe-holistic', 65)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.data.features.stats import FeatureStats

_LOWER_BODY = ("hip", "knee", "ankle", "heel", "foot")


@dataclass(frozen=True)
class FeatureConfig:
    """What the model sees.

    ``layout``: target layout (None keeps each pose's own layout). ``components``: layout
    components kept (None = all). ``drop_lower_body``: drop hips, knees, ankles, feet (rarely in
    frame in signing videos). ``points``: explicit ``component.point`` names, overriding the two
    above. ``normalize``: see the module docstring. ``velocity``: append frame differences.
    """

    layout: str | None = "dwpose"
    components: tuple[str, ...] | None = None
    drop_lower_body: bool = True
    points: tuple[str, ...] | None = None
    normalize: bool = True
    velocity: bool = False
    person: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("components", "points"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        data = dict(data)
        for k in ("components", "points"):
            if data.get(k) is not None:
                data[k] = tuple(data[k])
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


FEATURE_PRESETS: dict[str, FeatureConfig] = {
    # SignVerse-2M's own layout: the 12 upper-body points (lower body dropped), 68 face points
    # and both hands.
    "dwpose": FeatureConfig("dwpose"),
    "dwpose-hands-body": FeatureConfig("dwpose", components=("body", "left_hand", "right_hand")),
    # MediaPipe data without conversion: 23 upper-body points + both hands, no face mesh.
    "holistic-upper": FeatureConfig("mediapipe-holistic", components=("body", "left_hand", "right_hand")),
    "native": FeatureConfig(None),
}


def feature_preset(name: str) -> FeatureConfig:
    """A named ``FeatureConfig`` (dwpose, dwpose-hands-body, holistic-upper, native)."""
    try:
        return FEATURE_PRESETS[name]
    except KeyError:
        raise SignverseError(f"unknown feature preset '{name}' "
                             f"(known: {', '.join(sorted(FEATURE_PRESETS))})") from None


@dataclass
class Features:
    """Model input of one sequence."""

    x: np.ndarray            # [T, F] float32
    mask: np.ndarray         # [T] bool: the frame has at least one kept point
    point_mask: np.ndarray   # [T, K] bool

    @property
    def n_frames(self) -> int:
        return self.x.shape[0]


def normalize_pose(pose: PoseSeq) -> PoseSeq:
    """One-person pose -> neck-centred, shoulder-width units (``signverse.ops.normalize``), or,
    when the shoulders are never visible, centred on the mean point and divided by the larger
    frame side (so features stay O(1) instead of staying in pixels)."""
    from signverse.layouts import get_layout
    lay = get_layout(pose.layout)
    if lay.has_anchor("left_shoulder") and lay.has_anchor("right_shoulder"):
        li, ri = lay.anchor("left_shoulder"), lay.anchor("right_shoulder")
        if (pose.valid[:, :, li] & pose.valid[:, :, ri]).any():
            from signverse.ops import normalize
            return normalize(pose, "neck_shoulder")[0]
    pts = pose.xy[pose.valid]
    centre = pts.mean(0) if len(pts) else np.zeros(2, np.float32)
    return pose.replace(xy=(pose.xy - centre) / float(max(pose.width, pose.height, 1)))


class FeatureExtractor:
    """Turns poses into ``Features`` for one ``FeatureConfig`` (and optional ``FeatureStats``).

    Save ``to_dict()`` in checkpoints and rebuild with ``from_dict`` at inference time.
    """

    def __init__(self, config: FeatureConfig | str = "dwpose", stats: FeatureStats | None = None):
        self.config = feature_preset(config) if isinstance(config, str) else config
        self.stats = stats
        self._indices: dict[str, np.ndarray] = {}

    # -- geometry --------------------------------------------------------------------------
    def point_indices(self, layout: str | None = None) -> np.ndarray:
        """Indices of the kept points in ``layout`` (the config's layout by default)."""
        from signverse.layouts import get_layout
        name = self.config.layout or layout
        if name is None:
            raise SignverseError("a 'native' feature config needs the pose's layout")
        lay = get_layout(name)
        if lay.name in self._indices:
            return self._indices[lay.name]
        cfg = self.config
        if cfg.points is not None:
            idx = [lay.index(p) for p in cfg.points]
        else:
            comps = cfg.components or tuple(c.name for c in lay.components
                                            if c.drawn and c.name != "body_world")
            idx = []
            for comp in comps:
                s = lay.slice(comp)
                for i in range(s.start, s.stop):
                    name_i = lay.point_names[i]
                    if cfg.drop_lower_body and comp == "body" and any(w in name_i for w in _LOWER_BODY):
                        continue
                    idx.append(i)
        arr = np.asarray(idx, np.int64)
        self._indices[lay.name] = arr
        return arr

    def dim(self, layout: str | None = None) -> int:
        """Feature size F."""
        return len(self.point_indices(layout)) * 2 * (2 if self.config.velocity else 1)

    def point_names(self, layout: str | None = None) -> list[str]:
        from signverse.layouts import get_layout
        lay = get_layout(self.config.layout or layout)
        return [lay.point_names[i] for i in self.point_indices(layout)]

    # -- extraction ------------------------------------------------------------------------
    def raw(self, pose: PoseSeq) -> Features:
        """Features before standardisation (NaN where missing)."""
        from signverse.layouts import convert, get_layout
        cfg = self.config
        if cfg.layout is not None and get_layout(pose.layout).name != get_layout(cfg.layout).name:
            pose = convert(pose, cfg.layout)
        if pose.n_persons == 0:
            raise SignverseError("pose has no person")
        pose = pose.persons([min(cfg.person, pose.n_persons - 1)])
        if cfg.normalize:
            pose = normalize_pose(pose)
        xy = pose.xy[:, 0].astype(np.float32)
        valid = pose.conf[:, 0] > 0
        idx = self.point_indices(pose.layout)
        xy, valid = xy[:, idx], valid[:, idx]
        xy = np.where(valid[..., None], xy, np.nan)
        feats = [xy.reshape(len(xy), -1)]
        if cfg.velocity:
            vel = np.zeros_like(xy)
            vel[1:] = xy[1:] - xy[:-1]       # NaN where either frame misses the point
            vel[0] = np.where(valid[0, :, None], 0.0, np.nan)
            feats.append(vel.reshape(len(vel), -1))
        x = np.concatenate(feats, axis=1).astype(np.float32)
        return Features(x, valid.any(-1), valid)

    def __call__(self, pose: PoseSeq) -> Features:
        """Standardised features (missing -> 0)."""
        f = self.raw(pose)
        x = f.x
        if self.stats is not None:
            x = (x - self.stats.mean) / self.stats.std
        f.x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        return f

    def fit(self, items: Iterable, *, max_items: int | None = None) -> "FeatureExtractor":
        """Measure mean/std over the valid values of ``items`` (Samples or PoseSeqs): call on the
        TRAIN part only. Returns self."""
        total = None
        n = 0
        for k, item in enumerate(items):
            if max_items is not None and k >= max_items:
                break
            pose = item if isinstance(item, PoseSeq) else item.pose
            x = self.raw(pose).x.astype(np.float64)
            ok = np.isfinite(x)
            vals = np.where(ok, x, 0.0)
            acc = np.stack([ok.sum(0), vals.sum(0), (vals ** 2).sum(0)])
            total = acc if total is None else total + acc
            n += 1
        if total is None:
            raise SignverseError("cannot fit feature statistics on no data")
        count, s1, s2 = total
        mean = np.where(count > 0, s1 / np.maximum(count, 1), 0.0)
        var = np.where(count > 1, s2 / np.maximum(count, 1) - mean ** 2, 1.0)
        std = np.sqrt(np.maximum(var, 0.0))
        std = np.where(std > 1e-6, std, 1.0)   # constant / never-seen features: leave unscaled
        self.stats = FeatureStats(mean.astype(np.float32), std.astype(np.float32), n)
        return self

    def to_pose(self, x: np.ndarray, point_mask: np.ndarray | None = None, *, fps: float = 25.0,
                width: int = 512, height: int = 512, scale: float | None = None) -> PoseSeq:
        """Features ``[T, F]`` (e.g. a text2pose model's output) back to a one-person PoseSeq in
        the config's layout: un-standardised, the normalised origin (neck) placed at the frame
        centre and one shoulder width = ``scale`` px (default ``width / 4``). Points outside the
        feature set, or off in ``point_mask [T, K]``, are missing."""
        from signverse.layouts import get_layout
        if self.config.layout is None:
            raise SignverseError("to_pose needs a feature config with a fixed layout")
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim():
            raise SignverseError(f"features must be [T, {self.dim()}], got {x.shape}")
        if self.stats is not None:
            x = x * self.stats.std + self.stats.mean
        idx = self.point_indices()
        lay = get_layout(self.config.layout)
        t, k = x.shape[0], len(idx)
        pts = x[:, :2 * k].reshape(t, k, 2)
        if self.config.normalize:
            pts = pts * (scale or width / 4) + np.array([width / 2, height / 2], np.float32)
        xy = np.full((t, 1, lay.num_points, 2), np.nan, np.float32)
        xy[:, 0, idx] = pts
        conf = np.zeros((t, 1, lay.num_points), np.float32)
        conf[:, 0, idx] = 1.0 if point_mask is None else np.asarray(point_mask, bool)
        return PoseSeq(xy, conf, fps=fps, width=width, height=height, layout=lay.name)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(),
                "stats": None if self.stats is None else self.stats.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureExtractor":
        stats = data.get("stats")
        return cls(FeatureConfig.from_dict(data["config"]),
                   None if stats is None else FeatureStats.from_dict(stats))

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.config}, fitted={self.stats is not None})"

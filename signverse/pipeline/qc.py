"""Per-clip quality measures and the filters built on them.

Measures (all floats, stored in ``Clip.qc``):

- ``signer_frac``: frames where the selected signer has any body point;
- ``left_hand_frac`` / ``right_hand_frac`` / ``face_frac``: frames where that part has any point;
- ``mean_conf``: mean confidence of the signer's detected points;
- ``multi_person_frac``: frames where the estimator saw two or more people; ``None`` (unknown,
  stored as null) for one-person backends such as MediaPipe Holistic, which cannot see a second
  person, so a 0.0 would be a false claim;
- ``motion``: mean speed of the signer's body and hand points, in shoulder widths per second
  (frame diagonals per second when shoulders are never seen), a cheap "is anyone signing" signal.

>>> import numpy as np
>>> from signverse.core import PoseSeq
>>> xy = np.zeros((4, 1, 543, 2), np.float32); conf = np.zeros((4, 1, 543), np.float32)
>>> conf[:2, :, :33] = 1
>>> m = clip_qc(PoseSeq(xy, conf, 24, 64, 64, "mediapipe-holistic"))
>>> m["signer_frac"], m["left_hand_frac"], m["mean_conf"]
(0.5, 0.0, 1.0)
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout

QC_KEYS = ("signer_frac", "left_hand_frac", "right_hand_frac", "face_frac", "mean_conf",
           "multi_person_frac", "motion")


def _frac(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else 0.0


def clip_qc(pose: PoseSeq, persons_per_frame: np.ndarray | None = None, *,
            multi_person_known: bool = True) -> dict[str, float | None]:
    """QC measures of one signer's clip (``pose`` has one person; extra people are ignored).

    ``persons_per_frame`` is the estimator's count before signer selection; without it the
    count comes from ``pose`` itself. ``multi_person_known=False`` (a one-person estimator)
    makes ``multi_person_frac`` ``None``.
    """
    layout = get_layout(pose.layout)
    valid = pose.valid[:, 0] if pose.n_persons else np.zeros((pose.n_frames, pose.n_points), bool)
    conf = pose.conf[:, 0] if pose.n_persons else np.zeros((pose.n_frames, pose.n_points), np.float32)
    out: dict[str, float] = {}
    parts = {"signer_frac": "body", "left_hand_frac": "left_hand", "right_hand_frac": "right_hand",
             "face_frac": "face"}
    for key, comp in parts.items():
        out[key] = _frac(valid[:, layout.slice(comp)].any(-1)) if layout.has(comp) else 0.0
    out["mean_conf"] = float(conf[valid].mean()) if valid.any() else 0.0
    if not multi_person_known:
        out["multi_person_frac"] = None
    else:
        if persons_per_frame is None:
            persons_per_frame = pose.persons_per_frame()
        out["multi_person_frac"] = _frac(np.asarray(persons_per_frame) >= 2)
    out["motion"] = _motion(pose, layout)
    return out


def _motion(pose: PoseSeq, layout) -> float:
    if pose.n_frames < 2 or pose.n_persons == 0:
        return 0.0
    keep = np.zeros(pose.n_points, bool)
    for comp in ("body", "left_hand", "right_hand"):
        if layout.has(comp):
            keep[layout.slice(comp)] = True
    xy = pose.xy[:, 0, keep]
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)          # NaN where either frame misses it
    if not np.isfinite(step).any():
        return 0.0
    scale = float(np.hypot(pose.width, pose.height)) or 1.0
    if layout.has_anchor("left_shoulder") and layout.has_anchor("right_shoulder"):
        width = np.linalg.norm(pose.xy[:, 0, layout.anchor("left_shoulder")]
                               - pose.xy[:, 0, layout.anchor("right_shoulder")], axis=-1)
        width = width[np.isfinite(width) & (width > 0)]
        if width.size:
            scale = float(np.median(width))
    return float(np.nanmean(step) * pose.fps / scale)


@dataclass(frozen=True)
class QCFilter:
    """Thresholds a clip must meet to enter the corpus (``None`` = no limit)."""

    min_signer_frac: float | None = None
    min_hand_frac: float | None = None        # either hand
    max_multi_person_frac: float | None = None
    min_frames: int | None = None
    min_motion: float | None = None

    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def reject_reason(self, qc: dict[str, float | None], n_frames: int) -> str | None:
        """Why a clip of ``n_frames`` frames with measures ``qc`` is rejected, or ``None``.

        An unknown measure (``None``) is not filtered on; ``extract`` refuses a filter on a measure
        its backend cannot provide before any work.
        """
        checks = [
            ("min_signer_frac", qc.get("signer_frac", 0.0), ">="),
            ("min_hand_frac", max(qc.get("left_hand_frac", 0.0), qc.get("right_hand_frac", 0.0)), ">="),
            ("max_multi_person_frac", qc.get("multi_person_frac", 0.0), "<="),
            ("min_frames", float(n_frames), ">="),
            ("min_motion", qc.get("motion", 0.0), ">="),
        ]
        for name, value, op in checks:
            limit = getattr(self, name)
            if limit is None or value is None:
                continue
            ok = value >= limit if op == ">=" else value <= limit
            if not ok:
                return f"{name[4:]} {value:.3g} {'<' if op == '>=' else '>'} {limit:g}"
        return None

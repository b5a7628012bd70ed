"""Plain-dict summaries of pose sequences (what ``signverse info`` prints)."""
from __future__ import annotations

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout


# A point counts as visible at this confidence or above (estimators report near-zero confidence
# for points they guess, e.g. Holistic feet out of frame at < 0.003).
VISIBLE_CONF = 0.5


def describe_pose(pose: PoseSeq, min_conf: float = VISIBLE_CONF) -> dict:
    """Layout, size, timing, people per frame and how often each part of the signer is visible.

    ``points`` counts the points the data actually holds (detected in at least one frame), not
    the layout's size: a reduced 178-point Holistic file read into the 543-point layout says 178
    (and ``layout_points`` 543). ``visible`` is, per part, the fraction of frames where at least
    one of its points has confidence >= ``min_conf`` (stated as ``visible_min_conf``).
    """
    layout = get_layout(pose.layout)
    persons = pose.persons_per_frame()
    held = pose.valid.any(axis=(0, 1)) if pose.n_frames and pose.n_persons else np.zeros(pose.n_points, bool)
    info = {
        "layout": layout.name, "points": int(held.sum()), "layout_points": pose.n_points,
        "frames": pose.n_frames,
        "fps": round(pose.fps, 3), "duration_s": round(pose.duration, 3),
        "width": pose.width, "height": pose.height,
        "persons_per_frame": ({"min": int(persons.min()), "mean": round(float(persons.mean()), 3),
                               "max": int(persons.max())} if persons.size
                              else {"min": 0, "mean": 0.0, "max": 0}),
        "visible_min_conf": min_conf,
        "visible": {},
    }
    if pose.n_persons:
        valid = pose.valid[:, 0]
        seen = pose.conf[:, 0] >= min_conf
        for comp in layout.components:
            if comp.drawn:
                part = seen[:, layout.slice(comp.name)]
                info["visible"][comp.name] = round(float(part.any(-1).mean()), 3) if part.size else 0.0
        conf = pose.conf[:, 0][valid]
        info["mean_confidence"] = round(float(conf.mean()), 3) if conf.size else 0.0
    return info


def pose_file_points(path) -> int | None:
    """Points per person a ``.pose`` file's header declares (None when it cannot be read)."""
    try:
        from pose_format.pose_header import PoseHeader
        from pose_format.utils.reader import BufferReader
        with open(path, "rb") as handle:
            header = PoseHeader.read(BufferReader(handle.read()))
        return sum(len(c.points) for c in header.components)
    except Exception:   # only a detail of the report: the pose itself was read (or reported) elsewhere
        return None


def format_pose_info(name: str, info: dict) -> str:
    p = info["persons_per_frame"]
    visible = ", ".join(f"{k} {v:.0%}" for k, v in info["visible"].items())
    points = info["points"]
    layout_points = info.get("layout_points", points)
    held = f"{points} points" if points == layout_points else f"{points} of {layout_points} points detected"
    if info.get("points_in_file") not in (None, layout_points):
        held += f"; {info['points_in_file']} in the file"
    return (f"{name}: {info['layout']} ({held}), {info['frames']} frames at "
            f"{info['fps']:g} fps ({info['duration_s']:.2f} s), {info['width']}x{info['height']}, "
            f"persons/frame {p['min']}-{p['max']} (mean {p['mean']:g}); visible (person 0, confidence "
            f">= {info.get('visible_min_conf', VISIBLE_CONF):g}): {visible}")

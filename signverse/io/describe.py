"""Plain-dict summaries of pose sequences (what ``signverse info`` prints)."""
from __future__ import annotations

import numpy as np

from signverse.core.pose import PoseSeq
from signverse.layouts import get_layout


def describe_pose(pose: PoseSeq) -> dict:
    """Layout, size, timing, people per frame and how often each part of the signer is visible."""
    layout = get_layout(pose.layout)
    persons = pose.persons_per_frame()
    info = {
        "layout": layout.name, "points": pose.n_points, "frames": pose.n_frames,
        "fps": round(pose.fps, 3), "duration_s": round(pose.duration, 3),
        "width": pose.width, "height": pose.height,
        "persons_per_frame": ({"min": int(persons.min()), "mean": round(float(persons.mean()), 3),
                               "max": int(persons.max())} if persons.size
                              else {"min": 0, "mean": 0.0, "max": 0}),
        "visible": {},
    }
    if pose.n_persons:
        valid = pose.valid[:, 0]
        for comp in layout.components:
            if comp.drawn:
                part = valid[:, layout.slice(comp.name)]
                info["visible"][comp.name] = round(float(part.any(-1).mean()), 3) if part.size else 0.0
        conf = pose.conf[:, 0][valid]
        info["mean_confidence"] = round(float(conf.mean()), 3) if conf.size else 0.0
    return info


def format_pose_info(name: str, info: dict) -> str:
    p = info["persons_per_frame"]
    visible = ", ".join(f"{k} {v:.0%}" for k, v in info["visible"].items())
    return (f"{name}: {info['layout']} ({info['points']} points), {info['frames']} frames at "
            f"{info['fps']:g} fps ({info['duration_s']:.2f} s), {info['width']}x{info['height']}, "
            f"persons/frame {p['min']}-{p['max']} (mean {p['mean']:g}); visible (person 0): {visible}")

"""Poses and drawing plans as strict JSON for the browser.

The browser draws with the same plan ``signverse render`` uses (:func:`signverse.render.style.
draw_plan`): the components in drawing order, their limbs and colours, limb shape (``ellipse`` /
``line``), width, alpha and point radius. So the page shows what ``render`` writes.

>>> import numpy as np
>>> from signverse.layouts import get_layout
>>> xy = np.full((1, 1, get_layout("dwpose").num_points, 2), np.nan, np.float32)
>>> xy[0, 0, 0] = (20, 10)
>>> p = pose_payload(PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 24, 64, 48, "dwpose"))
>>> p["frames"][0][0], p["frames"][0][1], p["layout"]
([20.0, 10.0, 1.0], [None, None, 0.0], 'dwpose')
"""
from __future__ import annotations

from typing import Any

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq


def draw_plan_json(layout: str, style: str = "dwpose") -> list[dict[str, Any]]:
    """The render plan of a layout as JSON: one entry per drawn component, in drawing order."""
    from signverse.render.style import draw_plan
    out = []
    for plan in draw_plan(layout, style):
        st = plan.style
        out.append({
            "name": plan.name, "limb_shape": st.limbs, "limb_width": st.limb_width,
            "limb_alpha": st.limb_alpha, "point_radius": st.point_radius, "min_conf": st.min_conf,
            "points": plan.points.tolist(), "point_colors": plan.point_colors.tolist(),
            "limbs": plan.limbs.tolist(), "limb_colors": plan.limb_colors.tolist(),
        })
    return out


def _frames(xy: np.ndarray, conf: np.ndarray) -> list:
    """``[T][K][x, y, conf]`` with x and y null where missing (strict JSON: no NaN)."""
    xy = np.round(xy.astype(np.float64), 2)
    conf = np.round(np.nan_to_num(conf.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0), 3)
    missing = ~np.isfinite(xy).all(-1)
    values = np.concatenate([xy, conf[..., None]], -1).astype(object)
    values[missing, 0] = None
    values[missing, 1] = None
    return values.tolist()


def pose_payload(pose: PoseSeq, *, style: str = "dwpose", person: int | None = None) -> dict[str, Any]:
    """One person of a sequence, prepared as ``render`` prepares it (converted to the style's
    layout where possible), with the drawing plan.

    ``person``: that slot; default the signer (:func:`signverse.ops.persons.select_person`) when
    the sequence holds several people.
    """
    from signverse.render.draw import prepare
    from signverse.render.style import STYLES
    if style not in STYLES:
        raise SignverseError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
    if pose.n_persons == 0:
        raise SignverseError("the sequence has no person to draw")
    if person is None:
        person = 0
        if pose.n_persons > 1:
            from signverse.ops.persons import select_person
            person = select_person(pose)[1]
    prepared, used = prepare(pose, style, person)
    return {"fps": float(prepared.fps), "width": int(prepared.width), "height": int(prepared.height),
            "layout": prepared.layout, "style": used, "n_frames": int(prepared.n_frames),
            "person": int(person), "n_persons": int(pose.n_persons),
            "components": draw_plan_json(prepared.layout, used),
            "frames": _frames(prepared.xy[:, 0], prepared.conf[:, 0])}

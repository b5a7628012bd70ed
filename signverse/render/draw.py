"""Drawing skeleton frames (OpenCV rasterisation, as the DWPose / ControlNet renderer uses, so our
frames match the conditioning images pose-to-video models were trained on pixel for pixel)."""
from __future__ import annotations

import logging
import math
from typing import Iterable, Iterator

import numpy as np

from signverse.core.errors import InputError, SignverseError, require
from signverse.core.limits import MAX_RENDER_PIXELS
from signverse.core.pose import PoseSeq
from signverse.layouts import can_convert, convert, get_layout
from signverse.render.style import STYLES, ComponentPlan, draw_plan

log = logging.getLogger(__name__)
# cv2 wants int32 pixel coordinates; far-away points are clipped to stay representable.
_LIMIT = 1 << 20


def _cv2():
    return require("cv2", "render")


def prepare(pose: PoseSeq, style: str = "dwpose", person: int | None = None) -> tuple[PoseSeq, str]:
    """Select the person and convert to the style's layout once per sequence.

    Returns the pose to draw and the style actually used: a layout that cannot be converted to
    the style's layout is drawn natively (with a warning) rather than refused.
    """
    sty = STYLES[style]
    if person is not None:
        if not -pose.n_persons <= person < pose.n_persons:
            raise SignverseError(f"person {person} does not exist (the sequence has "
                                 f"{pose.n_persons} person slot(s))")
        pose = pose.persons(person % pose.n_persons)
    if sty.layout is not None and get_layout(pose.layout).name != sty.layout:
        if can_convert(get_layout(pose.layout).name, sty.layout):
            pose = convert(pose, sty.layout)
        else:
            log.warning("layout %s cannot be converted to %s: drawing it natively",
                        pose.layout, sty.layout)
            style = "native"
    return pose, style


def check_frame_size(width: int, height: int, source=None) -> None:
    """Refuse a frame size that cannot be drawn: not positive, or more pixels than
    ``SIGNVERSE_MAX_RENDER_PIXELS`` (8K UHD by default; a header claiming 65535x65535 would
    otherwise allocate 12 GiB per frame)."""
    if width <= 0 or height <= 0:
        raise InputError(source, f"cannot render a {width}x{height} frame (set the pose's width and height)")
    limit = MAX_RENDER_PIXELS.value()
    if width * height > limit:
        raise InputError(source, f"cannot render a {width}x{height} frame: more than {limit} pixels "
                                 f"(set {MAX_RENDER_PIXELS.env} to raise the limit, or rescale the pose)")


def blank(pose: PoseSeq, size: tuple[int, int] | None = None) -> np.ndarray:
    """A black ``H x W x 3`` canvas of the pose's frame size (or ``size = (W, H)``)."""
    w, h = size or (pose.width, pose.height)
    check_frame_size(w, h)
    return np.zeros((h, w, 3), np.uint8)


def _pixels(xy: np.ndarray) -> np.ndarray:
    # Truncation, as the DWPose renderer does with int(x * W).
    return np.clip(np.nan_to_num(xy), -_LIMIT, _LIMIT).astype(np.int64)


def _draw_limbs(canvas: np.ndarray, plan: ComponentPlan, xy: np.ndarray, ok: np.ndarray) -> None:
    cv2 = _cv2()
    st = plan.style
    if st.limbs == "none" or not len(plan.limbs):
        return
    use = ok[plan.limbs].all(-1)
    if not use.any():
        return
    blend = st.limb_alpha < 1.0
    target = np.zeros_like(canvas) if blend else canvas
    mask = np.zeros(canvas.shape[:2], np.uint8) if blend else None
    for (a, b), color in zip(plan.limbs[use], plan.limb_colors[use]):
        color = tuple(int(c) for c in color)
        if st.limbs == "ellipse":
            (x0, y0), (x1, y1) = xy[a], xy[b]
            length = math.hypot(x0 - x1, y0 - y1)
            angle = math.degrees(math.atan2(y0 - y1, x0 - x1))
            centre = tuple(int(v) for v in np.clip(((x0 + x1) / 2, (y0 + y1) / 2), -_LIMIT, _LIMIT))
            poly = cv2.ellipse2Poly(centre, (int(min(length / 2, _LIMIT)), st.limb_width),
                                    int(angle), 0, 360, 1)
            cv2.fillConvexPoly(target, poly, color)
            if blend:
                cv2.fillConvexPoly(mask, poly, 255)
        else:
            p0, p1 = _pixels(xy[[a, b]])
            cv2.line(target, tuple(map(int, p0)), tuple(map(int, p1)), color, st.limb_width)
            if blend:
                cv2.line(mask, tuple(map(int, p0)), tuple(map(int, p1)), 255, st.limb_width)
    if blend:
        # Blend only inside the drawn area's bounding box: whole-image blending dominated the cost.
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows.size:
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            hit = mask[box] > 0
            below, above = canvas[box], target[box]
            # float blend then truncation, as DWPose's (canvas * 0.6).astype(uint8) over black
            below[hit] = (below[hit] * (1.0 - st.limb_alpha) + above[hit] * st.limb_alpha).astype(np.uint8)


def _draw_points(canvas: np.ndarray, plan: ComponentPlan, xy: np.ndarray, ok: np.ndarray) -> None:
    if plan.style.point_radius <= 0:
        return
    cv2 = _cv2()
    use = ok[plan.points]
    for (x, y), color in zip(_pixels(xy[plan.points[use]]), plan.point_colors[use]):
        cv2.circle(canvas, (int(x), int(y)), plan.style.point_radius,
                   tuple(int(c) for c in color), -1)


def draw(canvas: np.ndarray, pose: PoseSeq, t: int, style: str = "dwpose") -> np.ndarray:
    """Draw frame ``t`` of an already prepared pose (see ``prepare``) onto ``canvas`` in place.

    Coordinates are scaled from the pose's frame size to the canvas size. Per component, all
    people's limbs are drawn before their points (as DWPose does).
    """
    h, w = canvas.shape[:2]
    # A pose without a frame size (0) is taken to be in the canvas's pixels.
    sx = w / pose.width if pose.width > 0 else 1.0
    sy = h / pose.height if pose.height > 0 else 1.0
    xy = pose.xy[t].astype(np.float64) * np.array([sx, sy])
    conf = pose.conf[t]
    for plan in draw_plan(pose.layout, style):
        ok = (conf >= plan.style.min_conf) & (conf > 0)       # [P, K]
        for p in range(pose.n_persons):
            _draw_limbs(canvas, plan, xy[p], ok[p])
        for p in range(pose.n_persons):
            _draw_points(canvas, plan, xy[p], ok[p])
    return canvas


def render_frame(pose: PoseSeq, t: int, person: int | None = None, style: str = "dwpose", *,
                 base: np.ndarray | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """Frame ``t`` as an ``H x W x 3`` uint8 RGB image: black of the pose's frame size, or a copy
    of ``base`` (an overlay), or ``size = (W, H)``; coordinates scale to the image size.

    >>> import numpy as np
    >>> from signverse.layouts import get_layout
    >>> dw = get_layout("dwpose")
    >>> xy = np.full((1, 1, dw.num_points, 2), np.nan, np.float32)
    >>> xy[0, 0, dw.anchor("nose")] = (20, 10)
    >>> pose = PoseSeq(xy, np.isfinite(xy[..., 0]).astype(np.float32), 24, 64, 48, "dwpose")
    >>> img = render_frame(pose, 0)
    >>> img.shape, img[10, 20].tolist(), img[40, 60].tolist()
    ((48, 64, 3), [255, 0, 0], [0, 0, 0])
    """
    if not -pose.n_frames <= t < pose.n_frames:
        raise SignverseError(f"frame {t} does not exist (the sequence has {pose.n_frames} frames)")
    t %= pose.n_frames
    prepared, used = prepare(pose.frames(t, t + 1), style, person)
    canvas = np.array(base, np.uint8, copy=True) if base is not None else blank(pose, size)
    return draw(canvas, prepared, 0, used)


def render_frames(pose: PoseSeq, person: int | None = None, style: str = "dwpose", *,
                  frames: Iterable[int] | None = None,
                  bases: Iterable[np.ndarray] | None = None,
                  size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Render frames (default: all) lazily; ``bases`` supplies one background image per frame."""
    prepared, used = prepare(pose, style, person)
    indices = range(pose.n_frames) if frames is None else frames
    base_iter = iter(bases) if bases is not None else None
    for t in indices:
        base = next(base_iter, None) if base_iter is not None else None
        canvas = np.array(base, np.uint8, copy=True) if base is not None else blank(pose, size)
        yield draw(canvas, prepared, t, used)

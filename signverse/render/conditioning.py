"""Conditioning export for pose-driven generators: the skeleton on the generator's canvas.

A generator (ControlNet, Animate-Anyone / MimicMotion-style pipelines, ComfyUI workflows) works
at its own resolution; the reference image and the pose frames are resized to it. ``fit_pose``
moves the keypoints exactly as that resize moves the pixels, so the skeleton stays on the person:

* ``stretch``: each axis scaled to the canvas (the aspect changes);
* ``pad``: scaled by the smaller ratio (whole frame visible, aspect kept), centred, bars around;
* ``crop``: scaled by the larger ratio (canvas filled, aspect kept), centred, the overflow cut;
  points that fall outside the canvas are cut too (marked missing: the generator never sees them).

The scaled frame has whole-pixel size ``round(W * s) x round(H * s)`` and a whole-pixel offset
(``(w - new_w) // 2`` for pad, ``-((new_w - w) // 2)`` for crop), as image libraries resize and
centre. ``export_frames`` writes one PNG per frame; the POSE_KEYPOINT JSON of the same frames is
``signverse.io.openpose_json.write_pose_keypoint``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq

FITS = ("pad", "crop", "stretch")


def parse_size(text: str) -> tuple[int, int]:
    """``"512x768"`` -> ``(512, 768)`` (width x height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SignverseError(f"size must be WIDTHxHEIGHT (e.g. 512x768), got '{text}'") from None
    if not (0 < w <= 65535 and 0 < h <= 65535):
        raise SignverseError(f"size {w}x{h} is out of range (1..65535 per side)")
    return w, h


def fit_geometry(src: tuple[int, int], dst: tuple[int, int], fit: str) -> tuple[np.ndarray, np.ndarray]:
    """``(scale [2], offset [2])`` with ``dst_xy = src_xy * scale + offset`` for a ``src`` frame
    (W, H) resized into a ``dst`` canvas (w, h) by ``fit``."""
    (W, H), (w, h) = src, dst
    if W <= 0 or H <= 0:
        raise SignverseError(f"the pose has no frame size ({W}x{H}) to fit from")
    if fit == "stretch":
        return np.array([w / W, h / H]), np.zeros(2)
    if fit not in FITS:
        raise SignverseError(f"unknown fit '{fit}' (known: {', '.join(FITS)})")
    s = min(w / W, h / H) if fit == "pad" else max(w / W, h / H)
    new_w, new_h = max(1, round(W * s)), max(1, round(H * s))
    if fit == "pad":
        offset = np.array([(w - new_w) // 2, (h - new_h) // 2], np.float64)
    else:
        offset = -np.array([(new_w - w) // 2, (new_h - h) // 2], np.float64)
    return np.array([new_w / W, new_h / H]), offset


def fit_pose(pose: PoseSeq, size: tuple[int, int], fit: str = "pad") -> PoseSeq:
    """The pose on a ``size = (w, h)`` canvas, placed as the image would be resized by ``fit``."""
    scale, offset = fit_geometry((pose.width, pose.height), size, fit)
    xy = pose.xy.astype(np.float64) * scale + offset
    conf = pose.conf
    if fit == "crop":
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < size[0]) & (xy[..., 1] >= 0) & (xy[..., 1] < size[1])
        xy = np.where(inside[..., None], xy, np.nan)
        conf = np.where(inside, conf, 0.0)
    return pose.replace(xy=xy.astype(np.float32), conf=conf.astype(np.float32),
                        width=int(size[0]), height=int(size[1]))


def export_frames(pose: PoseSeq, folder: str | Path, *, style: str = "dwpose",
                  person: int | None = None) -> list[Path]:
    """One conditioning PNG per frame into ``folder`` (``000000.png`` ...; names zero-padded to at
    least six digits so they sort in frame order)."""
    from signverse.core.errors import require
    from signverse.render.output import Renderer
    Image = require("PIL.Image", "render")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    if pose.n_frames == 0:
        raise SignverseError("the sequence has no frames to render")
    digits = max(6, len(str(pose.n_frames - 1)))
    renderer = Renderer(pose, style=style, person=person)
    written = []
    for t, image in enumerate(renderer.frames()):
        path = folder / f"{t:0{digits}d}.png"
        Image.fromarray(image).save(path)
        written.append(path)
    return written

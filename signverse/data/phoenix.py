"""RWTH-PHOENIX-Weather 2014T in the Progressive Transformers text format.

``{split}.skels``: one line per sequence, frames concatenated, 151 floats per frame = 50 joints x
(x, y, z) + a trailing counter in 0..1; ``{split}.gloss`` / ``.text`` / ``.files``: one line per
sequence. The 50 joints are the OpenPose upper body (nose, neck, right shoulder/elbow/wrist, left
shoulder/elbow/wrist) then the left hand (21, rooted at the left wrist) and the right hand (21).

Coordinates are neck-centred and about +-0.5 in size; we keep x, y only and map them to pixels of a
nominal 512 x 512 frame (``px = 256 + 256 * v``) so that rendering and pixel metrics work.
Zeros are real values here (the neck is the origin), so nothing is marked missing except
non-finite numbers. The layout ``phoenix-50`` is registered, with a conversion to ``dwpose``
(body and hands by name; face missing).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.data.sample import Sample
from signverse.layouts import Component, Layout, get_layout, list_layouts, register_layout
from signverse.layouts.convert import CONVERTERS, register_conversion
from signverse.layouts.parts import hand
from signverse.layouts.pointmap import PointMap, name_map

log = logging.getLogger(__name__)

PHOENIX_LAYOUT_NAME = "phoenix-50"
PHOENIX_FRAME = 151
PHOENIX_SIZE = 512
PHOENIX_FPS = 25.0
PHOENIX_SPLITS = ("train", "dev", "test")
_BODY_POINTS = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
                "left_shoulder", "left_elbow", "left_wrist")
_BODY_LIMBS = ((1, 0), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7))

PHOENIX_LAYOUT = Layout(
    PHOENIX_LAYOUT_NAME,
    (Component("body", _BODY_POINTS, _BODY_LIMBS,
               limb_colors=((0, 0, 255), (255, 0, 0), (255, 85, 0), (255, 170, 0), (85, 255, 0),
                            (0, 255, 0), (0, 255, 85))),
     hand("left_hand"), hand("right_hand")),
    anchors=(("nose", "body.nose"), ("neck", "body.neck"),
             ("left_shoulder", "body.left_shoulder"), ("right_shoulder", "body.right_shoulder"),
             ("left_elbow", "body.left_elbow"), ("right_elbow", "body.right_elbow"),
             ("left_wrist", "body.left_wrist"), ("right_wrist", "body.right_wrist"),
             ("left_hand_root", "left_hand.wrist"), ("right_hand_root", "right_hand.wrist")),
    description="PHOENIX-2014T Progressive Transformers skeleton: 8 upper-body joints + 2x21 hands",
    aliases=("phoenix",))


def _phoenix_to_dwpose() -> PointMap:
    return name_map(get_layout(PHOENIX_LAYOUT_NAME), get_layout("dwpose"))


def _dwpose_to_phoenix() -> PointMap:
    return name_map(get_layout("dwpose"), get_layout(PHOENIX_LAYOUT_NAME))


def ensure_phoenix_layout() -> Layout:
    """Register the ``phoenix-50`` layout and its dwpose conversions (idempotent)."""
    if PHOENIX_LAYOUT_NAME not in list_layouts():
        register_layout(PHOENIX_LAYOUT)
    if f"{PHOENIX_LAYOUT_NAME}->dwpose" not in CONVERTERS:
        register_conversion(PHOENIX_LAYOUT_NAME, "dwpose")(_phoenix_to_dwpose)
        register_conversion("dwpose", PHOENIX_LAYOUT_NAME)(_dwpose_to_phoenix)
    return get_layout(PHOENIX_LAYOUT_NAME)


ensure_phoenix_layout()


def parse_skels_line(line: str, *, path: str | Path | None = None) -> PoseSeq:
    """One ``.skels`` line -> a ``phoenix-50`` PoseSeq (see the module docstring)."""
    try:
        values = np.array(line.split(), dtype=np.float32)
    except ValueError:
        raise InputError(path, "a .skels line holds a non-number") from None
    if values.size == 0 or values.size % PHOENIX_FRAME:
        raise InputError(path, f"{values.size} values is not a multiple of {PHOENIX_FRAME} per frame")
    frames = values.reshape(-1, PHOENIX_FRAME)[:, :150].reshape(-1, 50, 3)
    xy = PHOENIX_SIZE / 2 + PHOENIX_SIZE / 2 * frames[..., :2]
    conf = np.isfinite(xy).all(-1).astype(np.float32)
    return PoseSeq(xy[:, None], conf[:, None], fps=PHOENIX_FPS, width=PHOENIX_SIZE,
                   height=PHOENIX_SIZE, layout=PHOENIX_LAYOUT_NAME)


def _lines(path: Path) -> list[str] | None:
    if not path.exists():
        return None
    return path.read_text(encoding="utf-8").splitlines()


def is_phoenix_folder(folder: str | Path) -> bool:
    folder = Path(folder)
    return folder.is_dir() and any((folder / f"{s}.skels").exists() for s in PHOENIX_SPLITS)


def read_phoenix(folder: str | Path, splits: str | tuple[str, ...] = PHOENIX_SPLITS, *,
                 errors: str = "skip") -> list[Sample]:
    """Samples of the given splits: label = gloss sequence, text = German sentence,
    sample_id = video_id = the ``.files`` entry, split = the file prefix, sign_language ``gsg``."""
    folder = Path(folder)
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    out: list[Sample] = []
    for split in splits:
        skels_path = folder / f"{split}.skels"
        skels = _lines(skels_path)
        if skels is None:
            raise InputError(skels_path, "no such file")
        skels = [s for s in skels if s.strip()]
        files = _lines(folder / f"{split}.files") or [f"{split}/{i:05d}" for i in range(len(skels))]
        gloss = _lines(folder / f"{split}.gloss") or [None] * len(skels)
        text = _lines(folder / f"{split}.text") or [None] * len(skels)
        if not (len(files) >= len(skels) and len(gloss) >= len(skels) and len(text) >= len(skels)):
            raise InputError(skels_path, f"{len(skels)} sequences but {len(files)} files, "
                                         f"{len(gloss)} gloss and {len(text)} text lines")
        for i, line in enumerate(skels):
            try:
                pose = parse_skels_line(line, path=f"{skels_path}:{i + 1}")
            except InputError as exc:
                if errors == "raise":
                    raise
                log.warning("skipping %s", exc)
                continue
            sid = files[i].strip()
            out.append(Sample(sid, pose, label=gloss[i] and gloss[i].strip(),
                              text=text[i] and text[i].strip(), sign_language="gsg",
                              video_id=sid, split=split))
    return out

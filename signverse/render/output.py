"""Rendered sequences to files: PNG (a frame or a contact sheet), GIF, MP4; overlays on the source
video and labelled side-by-side comparisons of two sequences."""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError, require
from signverse.core.pose import PoseSeq
from signverse.render.draw import blank, check_frame_size, draw, prepare

log = logging.getLogger(__name__)


def _pil():
    require("PIL", "render")
    from PIL import Image, ImageDraw, ImageFont
    return Image, ImageDraw, ImageFont


def label(image: np.ndarray, text: str, *, bottom: bool = False) -> np.ndarray:
    """Write ``text`` in the top-left (or bottom-left) corner, white on a dark box; a new image."""
    Image, ImageDraw, ImageFont = _pil()
    img = Image.fromarray(image)
    size = max(10, image.shape[0] // 24)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:   # Pillow < 10.1: fixed-size bitmap font
        font = ImageFont.load_default()
    pen = ImageDraw.Draw(img)
    box = pen.textbbox((4, 2), text, font=font)
    # Bottom labels (frame numbers on a contact sheet) leave the top for the sequence labels.
    at = (4, image.shape[0] - (box[3] - box[1]) - 6) if bottom else (4, 2)
    box = pen.textbbox(at, text, font=font)
    pen.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(40, 40, 40))
    pen.text(at, text, fill=(255, 255, 255), font=font)
    return np.asarray(img)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    Image, _, _ = _pil()
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str] | None = None, *,
                  columns: int | None = None, thumb_width: int = 320) -> np.ndarray:
    """Tile images (downscaled to ``thumb_width`` if wider) into one image, labelled if given."""
    if not images:
        raise SignverseError("a contact sheet needs at least one image")
    columns = columns or math.ceil(math.sqrt(len(images)))
    h, w = images[0].shape[:2]
    tw = min(w, thumb_width)
    th = max(1, round(h * tw / w))
    rows = math.ceil(len(images) / columns)
    sheet = np.full((rows * th + (rows - 1) * 2, columns * tw + (columns - 1) * 2, 3), 64, np.uint8)
    for i, image in enumerate(images):
        thumb = _resize(image, (tw, th)) if (tw, th) != image.shape[1::-1] else image
        if labels is not None:
            thumb = label(thumb, labels[i], bottom=True)
        r, c = divmod(i, columns)
        sheet[r * (th + 2):r * (th + 2) + th, c * (tw + 2):c * (tw + 2) + tw] = thumb
    return sheet


class Renderer:
    """Renders a sequence frame by frame, optionally over its video and beside a second sequence.

    ``overlay``: a video file whose frames are drawn under the skeleton (resampled to the pose fps;
    coordinates are scaled to the video's size). ``compare``: a second sequence shown on the right,
    at the same times (resampled to the first's fps) and scaled to the same height; ``labels``
    name the two panels.
    """

    def __init__(self, pose: PoseSeq, *, style: str = "dwpose", person: int | None = None,
                 overlay: str | Path | None = None, compare: PoseSeq | None = None,
                 labels: Sequence[str] | None = None, compare_person: int | None = None):
        self.pose, self.style = prepare(pose, style, person)
        self.fps = pose.fps
        self.n_frames = pose.n_frames
        self.overlay = None if overlay is None else Path(overlay)
        self.size = (pose.width, pose.height)
        if self.overlay is not None:
            from signverse.render.video import video_size
            if not self.overlay.exists():
                raise InputError(self.overlay, "no such file")
            self.size = video_size(self.overlay)
        check_frame_size(*self.size, source=self.overlay)   # before any drawing allocates it
        self.other = self.other_style = None
        if compare is not None:
            from signverse.ops.resample import resample
            other = compare if np.isclose(compare.fps, self.fps) else resample(compare, self.fps)
            self.other, self.other_style = prepare(other, style, compare_person)
            check_frame_size(*self._panel_size())
        self.labels = list(labels) if labels else None

    def _panel_size(self) -> tuple[int, int]:
        w, h = self.size
        ow, oh = self.other.width, self.other.height
        return max(1, round(ow * h / oh)) if oh > 0 else w, h

    def frames(self, indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
        """Composited frames at ``indices`` (ascending; default all)."""
        indices = list(range(self.n_frames)) if indices is None else list(indices)
        bases: Iterator[np.ndarray | None]
        if self.overlay is not None:
            from signverse.render.video import sample_video
            bases = sample_video(self.overlay, [t / self.fps for t in indices])
        else:
            bases = iter([None] * len(indices))
        for t, base in zip(indices, bases):
            canvas = np.array(base, copy=True) if base is not None else blank(self.pose, self.size)
            image = draw(canvas, self.pose, t, self.style)
            if self.other is not None:
                image = self._beside(image, t, base)
            yield image

    def _beside(self, image: np.ndarray, t: int, base: np.ndarray | None) -> np.ndarray:
        size = self._panel_size()
        right = _resize(base, size) if base is not None else blank(self.other, size)
        if t < self.other.n_frames:
            right = draw(np.array(right, copy=True), self.other, t, self.other_style)
        left = image
        if self.labels:
            left, right = label(left, self.labels[0]), label(right, self.labels[-1])
        gap = np.full((image.shape[0], 4, 3), 128, np.uint8)
        return np.concatenate([left, gap, right], axis=1)


def _renderer(source: PoseSeq | Renderer, options: dict) -> Renderer:
    return source if isinstance(source, Renderer) else Renderer(source, **options)


def save_png(source: PoseSeq | Renderer, path: str | Path, frame: int | None = None, *,
             sheet_frames: int = 12, **options) -> Path:
    """One frame (``frame``), or, when ``frame`` is None, a contact sheet of up to
    ``sheet_frames`` evenly spaced frames labelled with their index and time.

    ``source`` is a pose (``options`` go to ``Renderer``) or a ready ``Renderer``.
    """
    Image, _, _ = _pil()
    renderer = _renderer(source, options)
    n = renderer.n_frames
    if n == 0:
        raise SignverseError("the sequence has no frames to render")
    if frame is not None:
        if not -n <= frame < n:
            raise SignverseError(f"frame {frame} does not exist (the sequence has {n} frames)")
        image = next(renderer.frames([frame % n]))
    else:
        picks = sorted(set(np.linspace(0, n - 1, min(n, sheet_frames)).round().astype(int).tolist()))
        images = list(renderer.frames(picks))
        image = images[0] if len(images) == 1 else contact_sheet(
            images, [f"#{k} {k / renderer.fps:.2f}s" for k in picks])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def save_gif(source: PoseSeq | Renderer, path: str | Path, **options) -> Path:
    """An animated GIF at the sequence's fps (GIF delays are whole hundredths of a second).

    Note: Pillow merges identical consecutive frames into one longer frame.
    """
    Image, _, _ = _pil()
    renderer = _renderer(source, options)
    images = [Image.fromarray(f) for f in renderer.frames()]
    if not images:
        raise SignverseError("the sequence has no frames to render")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], loop=0,
                   duration=max(20, round(1000 / renderer.fps)), disposal=1)
    return path


def save_mp4(source: PoseSeq | Renderer, path: str | Path, **options) -> Path:
    """An MP4 at the sequence's fps (see ``signverse.render.video.write_mp4``)."""
    from signverse.render.video import write_mp4
    renderer = _renderer(source, options)
    write_mp4(renderer.frames(), path, renderer.fps)
    return Path(path)


WRITERS: dict[str, Callable[..., Path]] = {
    ".png": lambda r, p, frame=None: save_png(r, p, frame),
    ".gif": lambda r, p, frame=None: save_gif(r, p),
    ".mp4": lambda r, p, frame=None: save_mp4(r, p),
}


def render_to(pose: PoseSeq, out: str | Path, *, overlay: str | Path | None = None,
              compare: PoseSeq | None = None, labels: Sequence[str] | None = None,
              frame: int | None = None, style: str = "dwpose", person: int | None = None,
              fps: float | None = None) -> Path:
    """Render ``pose`` to ``out``; the format follows the suffix (``.png``, ``.gif``, ``.mp4``).

    ``fps`` resamples the sequence first (time-preserving); ``frame`` picks one PNG frame (else a
    contact sheet; ignored by GIF/MP4); see ``Renderer`` for ``overlay``, ``compare``, ``labels``.
    """
    out = Path(out)
    writer = WRITERS.get(out.suffix.lower())
    if writer is None:
        raise InputError(out, f"unknown output type '{out.suffix}' (known: {', '.join(WRITERS)})")
    if fps is not None and not np.isclose(fps, pose.fps):
        from signverse.ops.resample import resample
        pose = resample(pose, fps)
    renderer = Renderer(pose, style=style, person=person, overlay=overlay, compare=compare,
                        labels=labels)
    return writer(renderer, out, frame=frame)

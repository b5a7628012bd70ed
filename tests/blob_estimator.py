"""A tiny real pose estimator for pipeline tests: every bright blob in a frame is a person.

It implements the estimator contract (``__call__``, ``reset``, ``close``, ``layout``) on real
decoded frames, in milliseconds, so tests can exercise decoding, spilling, signer selection and
clip cutting over hundreds of frames without running MediaPipe. Each blob's bounding box is
covered by the 543 ``mediapipe-holistic`` points on a grid, so layout conversion to ``dwpose``
works as for the real backend. ``seen`` records the shape of every frame it was given.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

K = 543


class BlobEstimator:
    name: ClassVar[str] = "test-blobs"
    single_person: ClassVar[bool] = False
    layout = "mediapipe-holistic"
    seen: ClassVar[list[tuple[int, ...]]] = []

    def __init__(self, threshold: int = 200):
        self.config = {"threshold": threshold}
        self.threshold = threshold

    def __call__(self, frames):
        from scipy import ndimage
        out = []
        for rgb in frames:
            type(self).seen.append(rgb.shape)
            mask = rgb.mean(-1) > self.threshold
            labels, n = ndimage.label(mask)
            people = []
            for sl in ndimage.find_objects(labels)[:n]:
                y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
                grid = np.linspace(0, 1, K, dtype=np.float32)
                xs = x0 + (x1 - x0) * ((grid * 23) % 1)
                ys = y0 + (y1 - y0) * grid
                people.append(np.stack([xs, ys], -1))
            if self.single_person:
                people = people[:1]
            xy = np.asarray(people, np.float32).reshape(len(people), K, 2)
            out.append((xy, np.ones(xy.shape[:2], np.float32)))
        return out

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


class OneBlobEstimator(BlobEstimator):
    """The same, but it reports at most one person (the first blob), like MediaPipe Holistic."""

    name: ClassVar[str] = "test-one-blob"
    single_person: ClassVar[bool] = True


def blob_video(path, *, frames: int, size=(96, 64), fps: int = 24, blocks=((8, 24),), gap_at=None,
               gap_s: float = 0.0):
    """Bright 16x16 blocks at the given ``(x, y)`` on a dark background, drifting right by 1 px a
    frame; optionally a ``gap_s`` timestamp jump before frame ``gap_at``."""
    from fractions import Fraction

    import av
    from video_files import encode_frames
    width, height = size
    time_base = Fraction(1, 1000)

    def image(i: int) -> np.ndarray:
        img = np.full((height, width, 3), 20, np.uint8)
        for bx, by in blocks:
            x = min(width - 16, bx + i % 8)
            img[by:by + 16, x:x + 16] = 255
        return img

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        encode_frames(out, stream, ((image(i), i / fps + (gap_s if gap_at is not None and i >= gap_at else 0.0))
                                    for i in range(frames)), time_base)
    return path

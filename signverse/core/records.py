"""Small immutable records that travel through the pipeline: videos, caption segments, clips."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from signverse.core.pose import PoseSeq


class _DictMixin:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if f.name != "pose"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class VideoRecord(_DictMixin):
    """One source video: where it is and what is known about it."""

    video_id: str
    path: str | None = None
    url: str | None = None
    sign_language: str | None = None
    signer: str | None = None
    split: str | None = None
    captions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment(_DictMixin):
    """A caption cue: a time span of a video with its text in one spoken/written language."""

    start: float
    end: float
    text: str
    language: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Clip(_DictMixin):
    """A caption-aligned span of a video with its metadata and (optionally) its poses.

    >>> Clip(clip_id="v1-0001", video_id="v1", start=1.0, end=2.5).duration
    1.5
    """

    clip_id: str
    video_id: str
    start: float = 0.0
    end: float = 0.0
    sign_language: str | None = None
    signer: str | None = None
    text: str | None = None
    text_language: str | None = None
    gloss: str | None = None
    split: str | None = None
    qc: dict[str, float] = field(default_factory=dict)
    pose: PoseSeq | None = field(default=None, compare=False, repr=False)

    @property
    def duration(self) -> float:
        return self.end - self.start

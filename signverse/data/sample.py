"""The training sample record: a pose sequence with its targets and provenance."""
from __future__ import annotations

from typing import Any, Callable

from signverse.core.pose import PoseSeq

PoseSource = PoseSeq | Callable[[], PoseSeq]


class Sample:
    """One training/evaluation example.

    ``pose`` may be given as a ``PoseSeq`` or as a zero-argument callable that builds it on access
    (importers use this to keep compact arrays in memory and build float32 poses per item, which
    also keeps DataLoader workers cheap to fork). ``n_frames`` lets samplers batch by length
    without building the pose.

    >>> import numpy as np
    >>> pose = PoseSeq(np.zeros((4, 1, 2, 2)), np.ones((4, 1, 2)), fps=25, width=1, height=1, layout="x")
    >>> s = Sample("a", pose, label="hello", signer="p1")
    >>> s.n_frames, s.label, s.to_dict()["signer"]
    (4, 'hello', 'p1')
    """

    __slots__ = ("sample_id", "_pose", "label", "text", "signer", "sign_language", "video_id",
                 "split", "_n_frames", "meta")

    def __init__(self, sample_id: str, pose: PoseSource, label: str | None = None,
                 text: str | None = None, signer: str | None = None,
                 sign_language: str | None = None, video_id: str | None = None, *,
                 split: str | None = None, n_frames: int | None = None,
                 meta: dict[str, Any] | None = None):
        self.sample_id = str(sample_id)
        self._pose = pose
        self.label = label
        self.text = text
        self.signer = signer
        self.sign_language = sign_language
        self.video_id = video_id
        self.split = split
        self._n_frames = n_frames
        self.meta = dict(meta or {})

    @property
    def pose(self) -> PoseSeq:
        """The pose sequence (built now when the sample holds a loader)."""
        pose = self._pose
        return pose if isinstance(pose, PoseSeq) else pose()

    @property
    def is_lazy(self) -> bool:
        return not isinstance(self._pose, PoseSeq)

    @property
    def n_frames(self) -> int:
        if self._n_frames is None:
            self._n_frames = self.pose.n_frames
        return self._n_frames

    def replace(self, **changes: Any) -> "Sample":
        """A copy with some fields changed (``pose=`` replaces the pose and its frame count)."""
        fields = {"sample_id": self.sample_id, "pose": self._pose, "label": self.label,
                  "text": self.text, "signer": self.signer, "sign_language": self.sign_language,
                  "video_id": self.video_id, "split": self.split, "n_frames": self._n_frames,
                  "meta": self.meta}
        if "pose" in changes and "n_frames" not in changes:
            fields["n_frames"] = None
        fields.update(changes)
        return Sample(**fields)

    def to_dict(self) -> dict[str, Any]:
        """Metadata only (no pose), JSON-friendly."""
        return {"sample_id": self.sample_id, "label": self.label, "text": self.text,
                "signer": self.signer, "sign_language": self.sign_language,
                "video_id": self.video_id, "split": self.split, "n_frames": self._n_frames,
                "meta": self.meta}

    def __repr__(self) -> str:
        return (f"Sample({self.sample_id!r}, label={self.label!r}, signer={self.signer!r}, "
                f"frames={self._n_frames if self._n_frames is not None else '?'})")

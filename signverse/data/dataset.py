"""Training data plumbing: label vocabulary, a Dataset over Samples, a frame-budget batch sampler
and a padding collate. torch is imported only inside the functions that build tensors, so the
Dataset and sampler are plain picklable objects that ``torch.utils.data.DataLoader`` accepts
(``DataLoader(ds, batch_sampler=FrameBudgetSampler(ds.lengths, 4096), collate_fn=collate_pad)``).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from signverse.core.errors import SignverseError
from signverse.core.pose import PoseSeq
from signverse.data.features import FeatureExtractor
from signverse.data.sample import Sample

Augment = Callable[[PoseSeq, np.random.Generator], PoseSeq]


class Vocabulary:
    """Label <-> index mapping (sorted labels, so it is the same on every machine).

    >>> v = Vocabulary.from_labels(["b", "a", "b"])
    >>> v.tokens, v.encode("b"), v.decode(0), len(v)
    (['a', 'b'], 1, 'a', 2)
    """

    def __init__(self, tokens: Sequence[str], *, unknown: str | None = None):
        self.tokens = list(tokens)
        if len(set(self.tokens)) != len(self.tokens):
            raise SignverseError("vocabulary tokens are not unique")
        self.unknown = unknown
        if unknown is not None and unknown not in self.tokens:
            self.tokens.insert(0, unknown)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_labels(cls, labels: Iterable[str | None], *, min_count: int = 1,
                    unknown: str | None = None) -> "Vocabulary":
        counts: dict[str, int] = {}
        for lab in labels:
            if lab not in (None, ""):
                counts[lab] = counts.get(lab, 0) + 1
        return cls(sorted(t for t, c in counts.items() if c >= min_count), unknown=unknown)

    @classmethod
    def from_samples(cls, samples: Iterable[Sample], field: str = "label", **kw) -> "Vocabulary":
        return cls.from_labels((getattr(s, field) for s in samples), **kw)

    def encode(self, label: str | None) -> int:
        """Index of ``label``; -1 for None; unknown labels map to ``unknown`` or raise."""
        if label is None:
            return -1
        i = self.index.get(label)
        if i is None:
            if self.unknown is None:
                raise SignverseError(f"label '{label}' is not in the vocabulary")
            return self.index[self.unknown]
        return i

    def decode(self, index: int) -> str:
        return self.tokens[int(index)]

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, label: object) -> bool:
        return label in self.index

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "unknown": self.unknown}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Vocabulary":
        return cls(data["tokens"], unknown=data.get("unknown"))


class PoseDataset:
    """Map-style dataset of feature tensors over Samples (or a corpus path / iterable of Clips).

    Item ``i`` is a dict: ``x`` float32 tensor ``[T, F]``, ``mask`` bool ``[T]``, ``point_mask``
    bool ``[T, K]``, ``target`` (vocabulary index of ``sample.<target>``, -1 when absent or when
    there is no vocabulary), ``text``, ``label``, ``sample_id``, ``index``, ``length``.

    ``augment(pose, rng) -> pose`` (e.g. ``signverse.ops.random_augment()``) runs before feature extraction
    with a generator seeded from (seed, epoch, index): reproducible, and different per epoch
    (call ``set_epoch``). ``max_frames`` crops longer sequences (centre crop; a random crop when
    augmenting), and ``lengths`` reports the cropped lengths for the sampler. ``cache=True``
    keeps each item's features after the first access when there is no augmentation (per
    process: each DataLoader worker fills its own copy).
    """

    def __init__(self, samples: Sequence[Sample] | str | Iterable, extractor: FeatureExtractor,
                 *, vocab: Vocabulary | None = None, target: str = "label",
                 augment: Augment | None = None, seed: int = 0, max_frames: int | None = None,
                 cache: bool = False):
        if isinstance(samples, str) or hasattr(samples, "__fspath__"):
            from signverse.data.loaders import samples_from_corpus
            samples = samples_from_corpus(samples)
        elif not isinstance(samples, Sequence):
            from signverse.data.loaders import sample_from_clip
            samples = [s if isinstance(s, Sample) else sample_from_clip(s) for s in samples]
        self.samples = list(samples)
        self.extractor = extractor
        self.vocab = vocab
        self.target = target
        self.augment = augment
        self.seed = int(seed)
        self.max_frames = max_frames
        self.epoch = 0
        self.cache = cache
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def lengths(self) -> list[int]:
        """Frames of each item after cropping (what the sampler budgets)."""
        cap = self.max_frames or math.inf
        return [int(min(s.n_frames, cap)) for s in self.samples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _crop(self, pose: PoseSeq, limit: int, rng: np.random.Generator | None) -> PoseSeq:
        if pose.n_frames <= limit:
            return pose
        extra = pose.n_frames - limit
        start = int(rng.integers(0, extra + 1)) if rng is not None else extra // 2
        return pose.frames(start, start + limit)

    def features(self, index: int):
        """``Features`` of item ``index`` (numpy, no torch)."""
        cacheable = self.cache and self.augment is None
        if cacheable and index in self._cache:
            return self._cache[index]
        f = self._compute(index)
        if cacheable:
            self._cache[index] = f
        return f

    def _compute(self, index: int):
        sample = self.samples[index]
        pose = sample.pose
        rng = None
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            pose = self.augment(pose, rng)
        # Never longer than ``lengths`` says (max_frames, or an augmentation that lengthened the
        # sequence), so the sampler's frame budget holds.
        limit = min(sample.n_frames, self.max_frames or sample.n_frames)
        return self.extractor(self._crop(pose, limit, rng))

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch
        sample = self.samples[index]
        f = self.features(index)
        value = getattr(sample, self.target, None)
        target = self.vocab.encode(value) if self.vocab is not None else -1
        # cached arrays are copied so a caller that edits its tensor in place cannot corrupt them
        own = (lambda a: a.copy()) if self.cache else (lambda a: a)
        return {"x": torch.from_numpy(own(f.x)), "mask": torch.from_numpy(own(f.mask)),
                "point_mask": torch.from_numpy(own(f.point_mask)), "target": target,
                "label": sample.label, "text": sample.text, "sample_id": sample.sample_id,
                "index": index, "length": f.n_frames}


def collate_pad(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad items of ``PoseDataset`` to the longest: ``x [B, T, F]`` (zeros), ``mask [B, T]`` (True
    = real frame with a point), ``padding_mask [B, T]`` (True = padding), ``point_mask [B, T, K]``,
    ``lengths [B]``, ``target [B]`` long, plus lists ``text``, ``label``, ``sample_id``, ``index``."""
    import torch
    if not batch:
        raise SignverseError("cannot collate an empty batch")
    b = len(batch)
    t = max(item["x"].shape[0] for item in batch)
    f = batch[0]["x"].shape[1]
    k = batch[0]["point_mask"].shape[1]
    x = torch.zeros(b, t, f, dtype=torch.float32)
    mask = torch.zeros(b, t, dtype=torch.bool)
    point_mask = torch.zeros(b, t, k, dtype=torch.bool)
    padding = torch.ones(b, t, dtype=torch.bool)
    for i, item in enumerate(batch):
        n = item["x"].shape[0]
        x[i, :n] = item["x"]
        mask[i, :n] = item["mask"]
        point_mask[i, :n] = item["point_mask"]
        padding[i, :n] = False
    return {"x": x, "mask": mask, "padding_mask": padding, "point_mask": point_mask,
            "lengths": torch.tensor([item["x"].shape[0] for item in batch], dtype=torch.long),
            "target": torch.tensor([item["target"] for item in batch], dtype=torch.long),
            "text": [item.get("text") for item in batch], "label": [item.get("label") for item in batch],
            "sample_id": [item["sample_id"] for item in batch],
            "index": [item["index"] for item in batch]}


class FrameBudgetSampler:
    """Batch sampler by frame budget: each batch's padded size (count x longest) stays within
    ``max_frames``; similar lengths go together.

    Per epoch: lengths are put in buckets of ``bucket_width`` frames, order inside a bucket is
    shuffled (seeded by ``seed`` and the epoch), batches are cut greedily along that order and the
    batch order is shuffled. Every index appears in exactly one batch per epoch. Same seed and
    epoch -> same batches. ``shuffle=False`` gives length-sorted batches, the same every epoch.
    A sequence longer than the budget raises (crop with ``PoseDataset(max_frames=...)``) unless
    ``oversize="single"`` (own batch) or ``"drop"``.
    """

    def __init__(self, lengths: Sequence[int], max_frames: int, *, seed: int = 0, shuffle: bool = True,
                 bucket_width: int = 8, max_batch_size: int | None = None, oversize: str = "error"):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if max_frames < 1:
            raise SignverseError(f"max_frames must be positive, got {max_frames}")
        if oversize not in ("error", "single", "drop"):
            raise SignverseError(f"oversize must be error, single or drop, got {oversize!r}")
        too_long = np.flatnonzero(self.lengths > max_frames)
        if too_long.size and oversize == "error":
            raise SignverseError(f"{too_long.size} sequences are longer than the frame budget "
                                 f"{max_frames} (longest {int(self.lengths.max())}); crop them or "
                                 "raise the budget")
        self.max_frames = int(max_frames)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.bucket_width = max(1, int(bucket_width))
        self.max_batch_size = max_batch_size
        self.oversize = oversize
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """The batches of ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.lengths)
        fits = self.lengths <= self.max_frames
        idx = np.flatnonzero(fits)
        out: list[list[int]] = []
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            noise = rng.permutation(n)
            order = idx[np.lexsort((noise[idx], self.lengths[idx] // self.bucket_width))]
        else:
            rng = None
            order = idx[np.argsort(self.lengths[idx], kind="stable")]
        batch: list[int] = []
        longest = 0
        cap = self.max_batch_size or n or 1
        for i in order.tolist():
            length = int(self.lengths[i])
            new_longest = max(longest, length)
            if batch and (new_longest * (len(batch) + 1) > self.max_frames or len(batch) >= cap):
                out.append(batch)
                batch, new_longest = [], length
            batch.append(i)
            longest = new_longest
        if batch:
            out.append(batch)
        if self.oversize == "single":
            out.extend([int(i)] for i in np.flatnonzero(~fits))
        if rng is not None:
            out = [out[j] for j in rng.permutation(len(out))]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


def make_loader(dataset: PoseDataset, max_frames: int, *, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0, bucket_width: int = 8, **loader_options):
    """A ``torch.utils.data.DataLoader`` with a ``FrameBudgetSampler`` and ``collate_pad``.
    Call ``loader.batch_sampler.set_epoch(e)`` and ``dataset.set_epoch(e)`` each epoch."""
    from signverse.core.errors import require
    data = require("torch.utils.data", "train")
    sampler = FrameBudgetSampler(dataset.lengths, max_frames, seed=seed, shuffle=shuffle,
                                 bucket_width=bucket_width)
    return data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pad,
                           num_workers=num_workers, **loader_options)

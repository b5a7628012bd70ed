"""Task recipes: how each task turns Samples into batches, scores a model and writes predictions.

A recipe is the bridge between ``signverse.data`` Samples, a registered model and
``signverse.tasks`` metrics. Its ``state()`` (labels / vocabulary / feature statistics / settings)
is saved with the run so that evaluation and prediction rebuild exactly the training inputs.

* ``islr`` / ``langid``: pose -> class (``label`` / ``sign_language``), signer-invariant features
  (``signverse.data.features.encoder``), augmentation, scores -> top-k metrics.
* ``pose2text``: pose -> text (word vocabulary), greedy/beam decoding, BLEU / chrF.
* ``text2pose``: text (character or word vocabulary) -> DWPose frames (384 values), generation
  scored by DTW-MJE on neck-centred, shoulder-width-scaled coordinates.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable, Iterable, Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.registry import Registry
from signverse.models.text import LabelMap, Vocab
from signverse.data.features import FeatureStats
from signverse.data.features.encoder import (DEPTH_FEATURES, FEATURE_DIM, FEATURE_DIMS, AugmentConfig,
                                             augment_points, fill_hand_gaps, frame_features, prepare_points)

log = logging.getLogger(__name__)


def _settings_from(cls, values: dict | None):
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    for key in ("augment", "tta_augment"):
        if key in known and isinstance(values.get(key), dict):
            values[key] = AugmentConfig(**values[key])
    return cls(**{k: v for k, v in values.items() if k in known})


def settings_with(settings, overrides: dict | None):
    """Copy of a recipe's ``settings`` with ``overrides`` (``--set``); an augmentation given as a
    dict changes only the ranges it names (``augment={"rotate_deg": 20}``)."""
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        current = getattr(settings, key, None)
        if isinstance(current, AugmentConfig) and isinstance(value, dict):
            overrides[key] = replace(current, **value)
    return replace(settings, **overrides)


def _pad(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    T = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), T) + seqs[0].shape[1:], np.float32)
    mask = np.zeros((len(seqs), T), bool)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
        mask[i, :len(s)] = True
    return out, mask


def _pad_ids(rows: Sequence[Sequence[int]], max_len: int) -> np.ndarray:
    L = max(1, min(max_len, max(len(r) for r in rows)))
    out = np.zeros((len(rows), L), np.int64)
    for i, r in enumerate(rows):
        r = list(r)[:L]
        out[i, :len(r)] = r
    return out


def _item_rng(sample_id: str, copy: int) -> np.random.Generator:
    """A generator fixed by (clip id, copy number): test-time augmentation is repeatable."""
    import zlib
    return np.random.default_rng([zlib.crc32(str(sample_id).encode()), copy])


def _safe(fn: Callable, sample, what: str):
    """Run ``fn(sample)``; a bad sample is logged and skipped (the rest carries on)."""
    try:
        return fn(sample)
    except (InputError, SignverseError, ValueError) as exc:
        log.warning("skipping sample %s (%s): %s", getattr(sample, "sample_id", "?"), what, exc)
        return None


class Recipe:
    """Base class; subclasses set ``task``, ``default_model``, ``Settings`` and the hooks."""

    task = ""
    default_model = ""
    monitor = ""
    higher_is_better = True
    Settings: type = object

    def __init__(self, settings=None):
        self.settings = settings if settings is not None else self.Settings()
        self.report: dict = {}          # data facts worth keeping (truncated clips, skipped samples)

    # -- hooks ---------------------------------------------------------------------------------
    def fit_data(self, samples: list) -> list:
        """Build labels / vocabulary / statistics from the training samples; returns the usable ones."""
        raise NotImplementedError

    def io_sizes(self) -> dict:
        raise NotImplementedError

    def init_model(self, model) -> None:
        """Give a freshly built model what it takes from the training data (after ``fit_data``);
        most models take nothing."""

    def prepare(self, samples: list) -> list:
        """Per-sample cached inputs for ``batches``/``evaluate`` (bad samples dropped)."""
        raise NotImplementedError

    def batches(self, prepared: list, batch_size: int, rng: np.random.Generator,
                train: bool) -> Iterable[dict]:
        raise NotImplementedError

    def evaluate(self, model, prepared: list, device: str = "cpu") -> dict:
        raise NotImplementedError

    def predict(self, model, prepared: list, device: str = "cpu") -> list[dict]:
        raise NotImplementedError

    def state(self) -> tuple[dict, dict]:
        """(config part, vocab part) to store in config.json / vocab.json."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, config: dict, vocab: dict) -> "Recipe":
        raise NotImplementedError


RECIPES: Registry[type] = Registry("task recipe")


def get_recipe(task: str) -> type:
    return RECIPES[task]


# ------------------------------------------------------------------------------------------------
# pose -> class (islr, langid)
# Milder than training: small re-timing (speed, end crop) and pose changes, no dropped hands or jitter.
TTA_AUGMENT = AugmentConfig(rotate_deg=8.0, scale=0.1, shear=0.05, shift=0.05, jitter=0.0, speed=0.15,
                            crop=0.1, hand_drop=0.0, hand_rotate_deg=5.0)


@dataclass
class ClassifierSettings:
    """Input settings of the pose classifiers (saved with the run)."""

    label_field: str = "label"
    canonical: bool = True           # mirror so the more active hand is the right hand
    max_frames: int = 128            # longer clips: centre window (counted in the report)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    class_balance: float = 0.5       # loss weight per class ~ frequency ** -class_balance
    fill_hand_gaps: int = 3          # interpolate a hand missing for up to this many frames
    # Frame feature set (signverse.data.features.encoder.FEATURE_DIMS). "shape" adds rotation-free handshape
    # distances: unseen-signer top-1 0.827 -> 0.877 on folds 0-1 (benchmarks/islr.py ablation);
    # "shape3d" measures them in 3D where the source has depth (no gain on 5 folds: an option).
    features: str = "shape"
    # Test-time augmentation: evaluate / predict average the class probabilities of the clip and
    # ``tta`` mildly re-timed / re-posed copies of it (0 = the clip alone). Each copy's randomness
    # is seeded by the clip's id, so a clip's prediction does not depend on its batch.
    tta: int = 0
    tta_augment: AugmentConfig = field(default_factory=lambda: TTA_AUGMENT)
    # Weight of the classical clip classifier (signverse.train.clip_classifier) in the averaged
    # class probabilities; 0 = the network alone (no classical model is fitted).
    clip_weight: float = 0.0


@dataclass
class _Item:
    sample_id: str
    points: np.ndarray
    target: object = None
    extra: dict = field(default_factory=dict)


class ClassifierRecipe(Recipe):
    task = "islr"
    default_model = "signdw-islr"
    monitor = "top1"
    Settings = ClassifierSettings

    def __init__(self, settings=None, labels: LabelMap | None = None, stats: FeatureStats | None = None,
                 clip_model=None):
        super().__init__(settings)
        self.labels, self.stats = labels, stats
        self.class_weight: np.ndarray | None = None
        self.clip_model = clip_model        # ClipClassifier, fitted when settings.clip_weight > 0

    def _points(self, sample) -> np.ndarray:
        pts = prepare_points(sample.pose, canonical=self.settings.canonical,
                             depth=self.settings.features in DEPTH_FEATURES)
        pts = fill_hand_gaps(pts, self.settings.fill_hand_gaps)
        if len(pts) == 0:
            raise InputError(sample.sample_id, "no frames")
        m = self.settings.max_frames
        if len(pts) > m:
            self.report["truncated_clips"] = self.report.get("truncated_clips", 0) + 1
            start = (len(pts) - m) // 2
            pts = pts[start:start + m]
        return pts

    def _label(self, sample):
        return getattr(sample, self.settings.label_field, None)

    def prepare(self, samples: list) -> list[_Item]:
        out = []
        for s in samples:
            pts = _safe(self._points, s, "pose features")
            if pts is None:
                self.report["skipped_samples"] = self.report.get("skipped_samples", 0) + 1
                continue
            label = self._label(s)
            target = self.labels.encode(label) if (self.labels and label is not None) else -1
            out.append(_Item(s.sample_id, pts, target, {"label": label}))
        return out

    def fit_data(self, samples: list) -> list[_Item]:
        samples = [s for s in samples if self._label(s) not in (None, "")]
        if not samples:
            raise SignverseError(f"no training sample has a '{self.settings.label_field}'")
        self.labels = LabelMap.build(self._label(s) for s in samples)
        items = self.prepare(samples)
        self.stats = FeatureStats.fit([frame_features(it.points, self.settings.features) for it in items])
        counts = np.bincount([it.target for it in items], minlength=len(self.labels)).astype(float)
        w = np.maximum(counts, 1) ** -self.settings.class_balance
        self.class_weight = (w / (w * counts).sum() * counts.sum()).astype(np.float32)
        if self.settings.clip_weight > 0:
            from signverse.train.clip_classifier import ClipClassifier, clip_vector
            self.clip_model = ClipClassifier.fit(np.stack([clip_vector(it.points) for it in items]),
                                                 np.array([it.target for it in items]), len(self.labels),
                                                 class_balance=self.settings.class_balance)
        return items

    def io_sizes(self) -> dict:
        return {"n_features": FEATURE_DIMS[self.settings.features], "n_classes": len(self.labels)}

    def _features(self, pts: np.ndarray, rng=None, augment: AugmentConfig | None = None) -> np.ndarray:
        if rng is not None:
            pts = augment_points(pts, rng, augment or self.settings.augment)
        return self.stats.apply(frame_features(pts, self.settings.features))

    def batches(self, prepared, batch_size, rng, train):
        """Training batches (shuffled, augmented) or, with ``train=False``, the clips in order."""
        return self._batches(prepared, batch_size, rng, train)

    def _batches(self, prepared, batch_size, rng, train, tta_copy: int = 0):
        """``batches``; ``tta_copy`` k > 0 gives the k-th test-time-augmented copy of each clip."""
        order = rng.permutation(len(prepared)) if train else np.arange(len(prepared))
        for i in range(0, len(order), batch_size):
            chunk = [prepared[j] for j in order[i:i + batch_size]]
            if train and len(chunk) < 2 and len(order) > 1:
                continue   # a batch of one is a poor gradient estimate and breaks nothing else
            if train:
                feats = [self._features(it.points, rng) for it in chunk]
            elif tta_copy:
                feats = [self._features(it.points, _item_rng(it.sample_id, tta_copy), self.settings.tta_augment)
                         for it in chunk]
            else:
                feats = [self._features(it.points) for it in chunk]
            x, mask = _pad(feats)
            batch = {"x": x, "mask": mask, "y": np.array([it.target for it in chunk], np.int64)}
            if train and self.class_weight is not None:
                batch["class_weight"] = self.class_weight
            yield batch

    def scores(self, model, prepared, device="cpu", batch_size: int = 128, tta: int | None = None,
               clip_weight: float | None = None) -> np.ndarray:
        """Log class probabilities ``[N, n_classes]``: the network's, averaged over ``tta`` (default:
        the settings') test-time-augmented copies plus the clip itself, then averaged with the clip
        classifier's at ``clip_weight`` (default: the settings'; 1 = the clip classifier alone)."""
        w = self.settings.clip_weight if clip_weight is None else clip_weight
        if w > 0 and self.clip_model is None:
            raise SignverseError("this run has no clip classifier (trained with clip_weight=0)")
        nn_part = self._network_scores(model, prepared, device, batch_size, tta) if w < 1 else None
        if w <= 0:
            return nn_part
        from signverse.train.clip_classifier import clip_vector
        clip_part = (self.clip_model.log_probs(np.stack([clip_vector(it.points) for it in prepared]))
                     if prepared else np.zeros((0, len(self.labels)), np.float32))
        if nn_part is None:
            return clip_part
        with np.errstate(divide="ignore"):
            return np.log((1 - w) * np.exp(nn_part) + w * np.exp(clip_part)).astype(np.float32)

    def _network_scores(self, model, prepared, device, batch_size, tta) -> np.ndarray:
        import torch
        from signverse.train.trainer import to_device
        model.eval()
        copies = []
        for k in range(1 + (self.settings.tta if tta is None else tta)):
            out = []
            with torch.no_grad():
                batches = (self._batches(prepared, batch_size, None, False, tta_copy=k) if k
                           else self.batches(prepared, batch_size, np.random.default_rng(0), train=False))
                for batch in batches:
                    b = to_device(batch, device)
                    out.append(model(b["x"], b["mask"]).float().log_softmax(-1).cpu().numpy())
            copies.append(np.concatenate(out, 0) if out else np.zeros((0, len(self.labels)), np.float32))
        if len(copies) == 1:
            return copies[0]
        with np.errstate(divide="ignore"):
            return np.log(np.mean(np.exp(np.stack(copies)), 0)).astype(np.float32)

    def evaluate(self, model, prepared, device="cpu") -> dict:
        from signverse.tasks import get_task
        known = [it for it in prepared if it.target is not None and it.target >= 0]
        unknown = len(prepared) - len(known)
        if not known:
            raise SignverseError("no evaluation sample has a label the model knows")
        t0 = time.perf_counter()
        scores = self.scores(model, known, device)
        seconds = time.perf_counter() - t0
        targets = np.array([it.target for it in known])
        if self.task == "islr":
            res = get_task("islr").evaluate(scores, targets, num_classes=len(self.labels))
        else:
            res = get_task(self.task).evaluate(scores, targets)
            res["top1"] = res["accuracy"]
        if unknown:
            res["n_unknown_label"] = unknown
        # inference cost with every ensemble member, features included (batched, this device)
        res["ms_per_clip"] = round(1000 * seconds / len(known), 3)
        return {k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else v) for k, v in res.items()}

    def predict(self, model, prepared, device="cpu", top: int = 5) -> list[dict]:
        t0 = time.perf_counter()
        scores = self.scores(model, prepared, device)
        # inference cost per clip of the whole ensemble (TTA copies, clip classifier), batched
        ms = round(1000 * (time.perf_counter() - t0) / max(1, len(prepared)), 3)
        probs = np.exp(scores - scores.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        out = []
        for it, p in zip(prepared, probs):
            idx = np.argsort(-p)[:top]
            out.append({"id": it.sample_id, "prediction": self.labels.labels[idx[0]],
                        "top": [{"label": self.labels.labels[i], "p": round(float(p[i]), 4)} for i in idx],
                        "ms_per_clip": ms,
                        **({"reference": it.extra["label"]} if it.extra.get("label") is not None else {})})
        return out

    def state(self):
        config = {"recipe": asdict(self.settings), "feature_stats": self.stats.to_dict(), "io": self.io_sizes()}
        if self.clip_model is not None:
            config["clip_classifier"] = self.clip_model.to_dict()
        return config, {"labels": self.labels.to_dict()}

    @classmethod
    def from_state(cls, config, vocab):
        return cls(_settings_from(ClassifierSettings, _with_legacy(config.get("recipe"))),
                   LabelMap.from_dict(vocab["labels"]), FeatureStats.from_dict(config["feature_stats"]),
                   _clip_model_from(config))


def _clip_model_from(config: dict):
    if not config.get("clip_classifier"):
        return None
    from signverse.train.clip_classifier import ClipClassifier
    return ClipClassifier.from_dict(config["clip_classifier"])


# Classifier settings added after runs were first saved, with the behaviour those runs had.
_ADDED_LATER = {"features": "base", "fill_hand_gaps": 0, "tta": 0, "clip_weight": 0.0}


def _with_legacy(saved: dict | None) -> dict:
    return {**_ADDED_LATER, **(saved or {})}


class LangidRecipe(ClassifierRecipe):
    task = "langid"
    default_model = "signdw-langid"
    monitor = "accuracy"

    def __init__(self, settings=None, labels=None, stats=None, clip_model=None):
        # The handshape features were measured for islr only: langid keeps its base features.
        settings = settings if settings is not None else ClassifierSettings(label_field="sign_language",
                                                                            features="base")
        super().__init__(settings, labels, stats, clip_model)

    @classmethod
    def from_state(cls, config, vocab):
        return cls(_settings_from(ClassifierSettings, _with_legacy(config.get("recipe"))),
                   LabelMap.from_dict(vocab["labels"]), FeatureStats.from_dict(config["feature_stats"]),
                   _clip_model_from(config))


RECIPES.register("islr", ClassifierRecipe)
RECIPES.register("langid", LangidRecipe)


# ------------------------------------------------------------------------------------------------
# pose -> text
@dataclass
class Pose2TextSettings:
    text_level: str = "word"
    max_frames: int = 256
    max_text_len: int = 48
    beam: int = 1
    canonical: bool = True
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(speed=0.1, crop=0.05))


def _text_of(sample) -> str | None:
    return sample.text if sample.text not in (None, "") else sample.label


class Pose2TextRecipe(Recipe):
    task = "pose2text"
    default_model = "signdw-pose2text"
    monitor = "chrf"
    Settings = Pose2TextSettings

    def __init__(self, settings=None, vocab: Vocab | None = None, stats: FeatureStats | None = None):
        super().__init__(settings)
        self.vocab, self.stats = vocab, stats

    def prepare(self, samples):
        out = []
        for s in samples:
            pts = _safe(lambda x: prepare_points(x.pose, self.settings.canonical), s, "pose features")
            if pts is None or not len(pts):
                self.report["skipped_samples"] = self.report.get("skipped_samples", 0) + 1
                continue
            if len(pts) > self.settings.max_frames:
                self.report["truncated_clips"] = self.report.get("truncated_clips", 0) + 1
                pts = pts[:self.settings.max_frames]
            text = _text_of(s)
            ids = self.vocab.encode(text, bos=True, eos=True)[:self.settings.max_text_len] if text else []
            out.append(_Item(s.sample_id, pts, ids, {"text": text}))
        return out

    def fit_data(self, samples):
        samples = [s for s in samples if _text_of(s)]
        if not samples:
            raise SignverseError("no training sample has a text (or label)")
        self.vocab = Vocab.build((_text_of(s) for s in samples), level=self.settings.text_level)
        items = self.prepare(samples)
        self.stats = FeatureStats.fit([frame_features(it.points) for it in items])
        return items

    def io_sizes(self):
        return {"n_features": FEATURE_DIM, "vocab_size": len(self.vocab)}

    def batches(self, prepared, batch_size, rng, train):
        order = rng.permutation(len(prepared)) if train else np.arange(len(prepared))
        aug = self.settings.augment
        for i in range(0, len(order), batch_size):
            chunk = [prepared[j] for j in order[i:i + batch_size]]
            feats = [self.stats.apply(frame_features(augment_points(it.points, rng, aug) if train else it.points))
                     for it in chunk]
            x, mask = _pad(feats)
            yield {"x": x, "mask": mask,
                   "tokens": _pad_ids([it.target or [Vocab.bos_id, Vocab.eos_id] for it in chunk],
                                      self.settings.max_text_len)}

    def _decode(self, model, prepared, device):
        import torch
        from signverse.train.trainer import to_device
        hyps = []
        with torch.no_grad():
            for batch in self.batches(prepared, 64, np.random.default_rng(0), train=False):
                b = to_device(batch, device)
                for ids in model.generate(b["x"], b["mask"], max_len=self.settings.max_text_len,
                                          beam=self.settings.beam):
                    hyps.append(self.vocab.decode(ids))
        return hyps

    def evaluate(self, model, prepared, device="cpu"):
        from signverse.tasks import get_task
        items = [it for it in prepared if it.extra.get("text")]
        if not items:
            raise SignverseError("no evaluation sample has a reference text")
        hyps = self._decode(model, items, device)
        refs = [" ".join(self.vocab.split(it.extra["text"])) if self.vocab.level == "word"
                else it.extra["text"] for it in items]
        res = get_task("pose2text").evaluate(hyps, refs)
        return {k: round(float(v), 4) if isinstance(v, float) else v for k, v in res.items()}

    def predict(self, model, prepared, device="cpu"):
        hyps = self._decode(model, prepared, device)
        return [{"id": it.sample_id, "prediction": h,
                 **({"reference": it.extra["text"]} if it.extra.get("text") else {})}
                for it, h in zip(prepared, hyps)]

    def state(self):
        return ({"recipe": asdict(self.settings), "feature_stats": self.stats.to_dict(),
                 "io": self.io_sizes()}, {"text": self.vocab.to_dict()})

    @classmethod
    def from_state(cls, config, vocab):
        return cls(_settings_from(Pose2TextSettings, config.get("recipe")), Vocab.from_dict(vocab["text"]),
                   FeatureStats.from_dict(config["feature_stats"]))


RECIPES.register("pose2text", Pose2TextRecipe)


# ------------------------------------------------------------------------------------------------
# text -> pose
@dataclass
class Text2PoseSettings:
    text_level: str = "char"
    max_frames: int = 256            # longer clips are truncated to their first max_frames frames
    max_text_len: int = 64
    eval_limit: int = 200            # dev samples scored per evaluation (DTW is not free)
    person: int = 0
    fps: float = 24.0                # frame rate of the training clips (set by fit_data)
    placement: dict | None = None    # typical frame size / neck / shoulder width in px (fit_data)
    template_min_clips: int = 2      # a text needs this many training clips to get a template
    max_templates: int = 1024


def pose_to_frames(pose: PoseSeq, person: int = 0) -> np.ndarray:
    """Pose -> ``[T, 384]`` DWPose frame vectors (x, y, conf per point), neck-centred and
    shoulder-width-scaled; missing points are (0, 0, 0)."""
    from signverse.layouts import convert, get_layout
    from signverse.ops.normalize import normalize
    if get_layout(pose.layout).name != "dwpose":
        pose = convert(pose, "dwpose")
    pose = pose.persons(min(person, pose.n_persons - 1))
    norm, _ = normalize(pose, "neck_shoulder")
    xy, conf = norm.xy[:, 0], norm.conf[:, 0]
    ok = (conf > 0) & np.isfinite(xy).all(-1)
    frames = np.concatenate([np.where(ok[..., None], np.nan_to_num(xy), 0.0),
                             np.where(ok, np.clip(conf, 0, 1), 0.0)[..., None]], -1)
    return frames.reshape(len(frames), -1).astype(np.float32)


def frames_to_points(frames: np.ndarray, min_conf: float = 0.0) -> np.ndarray:
    """``[T, 384]`` -> ``[T, 128, 2]`` with NaN where conf <= ``min_conf``."""
    f = np.asarray(frames, np.float32).reshape(len(frames), -1, 3)
    xy = f[..., :2].copy()
    xy[f[..., 2] <= min_conf] = np.nan
    return xy


def frames_to_pose(frames: np.ndarray, fps: float = 24.0, min_conf: float = 0.5) -> PoseSeq:
    """Generated frames -> a one-person DWPose ``PoseSeq`` in normalised units (width = height = 1)."""
    f = np.asarray(frames, np.float32).reshape(len(frames), -1, 3)
    conf = np.where(f[..., 2] > min_conf, f[..., 2], 0.0)
    return PoseSeq(f[:, None, :, :2], conf[:, None], fps=fps, width=1, height=1, layout="dwpose")


class Text2PoseRecipe(Recipe):
    task = "text2pose"
    # The default refines each training word's mean sequence with the soft-DTW field decoder: the
    # L1-trained parallel and autoregressive decoders produce the time-blurred mean motion, which
    # barely moves, and the soft-DTW decoder alone (signdw-text2pose-dtw) moves but was often not
    # recognised on unseen signers (benchmarks/text2pose.py); ``--model signdw-text2pose`` gives
    # the released autoregressive baseline (defects repaired).
    default_model = "signdw-text2pose-template"
    monitor = "dtw_mje"
    higher_is_better = False
    Settings = Text2PoseSettings

    def __init__(self, settings=None, vocab: Vocab | None = None, template_sizes: dict | None = None):
        super().__init__(settings)
        self.vocab = vocab
        # per-text templates (token ids, mean sequence) of the training data, for models that
        # refine them (signdw-text2pose-template); only their sizes are part of the run's config
        self.templates: tuple[list, list] = ([], [])
        self.template_sizes = template_sizes or {}

    def prepare(self, samples):
        out = []
        for s in samples:
            frames = _safe(lambda x: pose_to_frames(x.pose, self.settings.person), s, "pose frames")
            if frames is None or not len(frames):
                self.report["skipped_samples"] = self.report.get("skipped_samples", 0) + 1
                continue
            if len(frames) > self.settings.max_frames:
                # Explicit truncation, never resampling: timing of what is kept stays true.
                self.report["truncated_clips"] = self.report.get("truncated_clips", 0) + 1
                self.report["truncated_frames"] = (self.report.get("truncated_frames", 0)
                                                   + len(frames) - self.settings.max_frames)
                frames = frames[:self.settings.max_frames]
            text = _text_of(s) or ""
            out.append(_Item(s.sample_id, frames, self.vocab.encode(text)[:self.settings.max_text_len],
                             {"text": text}))
        if self.report.get("truncated_clips"):
            log.warning("text2pose: %d clip(s) longer than max_frames=%d were truncated (%d frames dropped)",
                        self.report["truncated_clips"], self.settings.max_frames,
                        self.report["truncated_frames"])
        return out

    def prepare_texts(self, texts: Sequence[str]) -> list[_Item]:
        """Generation inputs for bare texts (no reference pose)."""
        return [_Item(f"{i:05d}", np.zeros((1, 384), np.float32),
                      self.vocab.encode(t)[:self.settings.max_text_len], {"text": t})
                for i, t in enumerate(texts)]

    def fit_data(self, samples):
        samples = [s for s in samples if _text_of(s)]
        if not samples:
            raise SignverseError("no training sample has a text (or label)")
        self.vocab = Vocab.build((_text_of(s) for s in samples), level=self.settings.text_level)
        self.settings.fps = float(samples[0].pose.fps)
        from signverse.train.placement import measure_placement
        self.settings.placement = measure_placement([s.pose for s in samples])
        items = self.prepare(samples)
        self._fit_templates(items)
        return items

    def _fit_templates(self, items) -> None:
        """The median sequence of each training text with at least ``template_min_clips`` clips (the
        ``max_templates`` most frequent), resampled to a common frame count."""
        from signverse.models.signdw.text2pose_baselines import median_sequence
        per_text: dict[str, list] = {}
        for it in items:
            if it.extra["text"]:
                per_text.setdefault(it.extra["text"], []).append(it.points)
        kept = sorted((t for t, c in per_text.items() if len(c) >= self.settings.template_min_clips),
                      key=lambda t: (-len(per_text[t]), t))[:self.settings.max_templates]
        frames = [median_sequence(per_text[t]) for t in kept]
        tokens = [self.vocab.encode(t)[:self.settings.max_text_len] for t in kept]
        self.templates = (tokens, frames)
        self.template_sizes = {
            "n_templates": len(kept),
            "template_frames": int(min(self.settings.max_frames, max((len(f) for f in frames), default=1))),
            "template_text_len": max((len(t) for t in tokens), default=1)}

    def io_sizes(self):
        return {"vocab_size": len(self.vocab), **self.template_sizes}

    def init_model(self, model) -> None:
        if hasattr(model, "set_templates") and self.templates[0]:
            model.set_templates(*self.templates)

    def batches(self, prepared, batch_size, rng, train):
        order = rng.permutation(len(prepared)) if train else np.arange(len(prepared))
        for i in range(0, len(order), batch_size):
            chunk = [prepared[j] for j in order[i:i + batch_size]]
            pose, mask = _pad([it.points for it in chunk])
            yield {"tokens": _pad_ids([it.target or [Vocab.unk_id] for it in chunk], self.settings.max_text_len),
                   "pose": pose, "pose_mask": mask}

    def generate(self, model, prepared, device="cpu", batch_size: int = 64) -> list[np.ndarray]:
        """Generated ``[T_i, 384]`` frames per item (length from the model's length head)."""
        import torch
        out = []
        with torch.no_grad():
            for i in range(0, len(prepared), batch_size):
                chunk = prepared[i:i + batch_size]
                tokens = torch.from_numpy(_pad_ids([it.target or [Vocab.unk_id] for it in chunk],
                                                   self.settings.max_text_len)).to(device)
                frames, lengths = model.generate(tokens)
                frames = frames.cpu().numpy()
                out += [frames[j, :int(lengths[j])] for j in range(len(chunk))]
        return out

    def evaluate(self, model, prepared, device="cpu", limit: int | None = None) -> dict:
        limit = self.settings.eval_limit if limit is None else limit
        items = prepared if not limit or len(prepared) <= limit else \
            [prepared[i] for i in np.linspace(0, len(prepared) - 1, limit).astype(int)]
        gens = self.generate(model, items, device)
        return score_text2pose(gens, [it.points for it in items])

    def predict(self, model, prepared, device="cpu"):
        gens = self.generate(model, prepared, device)
        return [{"id": it.sample_id, "text": it.extra["text"], "frames": g.shape[0],
                 "fps": self.settings.fps, "pose": g}
                for it, g in zip(prepared, gens)]

    def state(self):
        return ({"recipe": asdict(self.settings), "io": self.io_sizes(),
                 "normalisation": "neck_shoulder (signverse.ops.normalize), DWPose 128 x (x, y, conf)"},
                {"text": self.vocab.to_dict()})

    @classmethod
    def from_state(cls, config, vocab):
        io = config.get("io", {})
        return cls(_settings_from(Text2PoseSettings, config.get("recipe")), Vocab.from_dict(vocab["text"]),
                   {k: io[k] for k in ("n_templates", "template_frames", "template_text_len") if k in io})


def score_text2pose(generated: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> dict:
    """DTW-MJE (and per-part figures) of generated vs reference ``[T, 384]`` frames.

    Every generated point counts as present (a model cannot lower its error by declaring points
    missing); reference points count where their confidence is > 0.
    """
    from signverse.tasks import get_task
    preds = [frames_to_points(g, min_conf=-1.0) for g in generated]
    refs = [frames_to_points(r, min_conf=0.0) for r in references]
    res = get_task("text2pose").evaluate(preds, refs, layout="dwpose")
    return {k: round(float(v), 5) if isinstance(v, (float, np.floating)) else v for k, v in res.items()}


RECIPES.register("text2pose", Text2PoseRecipe)

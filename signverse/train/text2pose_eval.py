"""Text->pose judged as the field judges it: next to DTW-MJE, back-translation (an ISLR model
trained on real clips recognises each generated sequence; top-1 / top-5 against the word that was
asked for) and motion realism (``velocity_ratio``: mean joint speed of the generated sequences over
that of the real ones; a static output scores about 0, the real data 1).

``evaluate_text2pose_run`` is what ``signverse evaluate T2P_RUN --recognizer ISLR_RUN --baselines``
calls; the baselines (``signverse.models.signdw.text2pose_baselines``) are rebuilt from the run's
own training samples (its ``split.json`` train part, read from the data path in its config).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from signverse.core.errors import InputError, SignverseError

log = logging.getLogger(__name__)


def mean_speed(frames: np.ndarray, min_conf: float = 0.0) -> tuple[float, int]:
    """(sum of per-point displacements between consecutive frames, their count) of ``[T, 384]``
    frames, over points with conf > ``min_conf`` in both frames (units: shoulder widths / frame)."""
    f = np.asarray(frames, np.float32).reshape(len(frames), -1, 3)
    if len(f) < 2:
        return 0.0, 0
    ok = (f[1:, :, 2] > min_conf) & (f[:-1, :, 2] > min_conf)
    step = np.linalg.norm(f[1:, :, :2] - f[:-1, :, :2], axis=-1)
    return float(step[ok].sum()), int(ok.sum())


def velocity_ratio(generated: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> float:
    """Mean joint speed of ``generated`` over that of ``references`` (all ``[T, 384]``).

    Generated points count where they are shown (conf > 0.5, as ``frames_to_pose`` renders them),
    reference points where conf > 0: points nobody shows (e.g. the legs of a webcam signer) would
    otherwise add zero speed to one side only. NaN when the references do not move at all.
    """
    g = np.array([mean_speed(x, 0.5) for x in generated], dtype=np.float64).reshape(-1, 2)
    r = np.array([mean_speed(x, 0.0) for x in references], dtype=np.float64).reshape(-1, 2)
    gs = g[:, 0].sum() / max(g[:, 1].sum(), 1)
    rs = r[:, 0].sum() / max(r[:, 1].sum(), 1)
    return float(gs / rs) if rs > 0 else float("nan")


def backtranslation(recognizer, generated: Sequence[np.ndarray], words: Sequence[str],
                    fps: float = 30.0, device: str = "cpu") -> dict:
    """Recognise each generated sequence with an ISLR run (path or ``LoadedRun``) and score it
    against the word asked for: ``backtranslation_top1`` / ``_top5`` (over all sequences; a word
    the recognizer does not know counts as wrong and is counted in ``backtranslation_n_unknown``)."""
    from signverse.data.sample import Sample
    from signverse.train.recipes import frames_to_pose
    from signverse.train.run import LoadedRun, load_run
    rec = recognizer if isinstance(recognizer, LoadedRun) else load_run(recognizer, device)
    if rec.files.task != "islr":
        raise SignverseError(f"recognizer {rec.files.path} "
                             f"is a '{rec.files.task}' run, not an islr run")
    labels = rec.recipe.labels
    samples = [Sample(f"gen{i:05d}", frames_to_pose(g, fps=fps), label=w)
               for i, (g, w) in enumerate(zip(generated, words))]
    items = rec.recipe.prepare(samples)
    kept = {it.sample_id for it in items}
    n_dropped = sum(1 for s in samples if s.sample_id not in kept)   # nothing to recognise: wrong
    if not items:
        return {"backtranslation_top1": 0.0, "backtranslation_top5": 0.0, "backtranslation_n": len(samples),
                "backtranslation_n_unknown": 0, "backtranslation_n_unreadable": n_dropped}
    scores = rec.recipe.scores(rec.model, items, device)
    known = set(labels.labels)
    target = np.array([labels.encode(it.extra["label"]) if it.extra["label"] in known else -1 for it in items])
    order = np.argsort(-scores, 1)
    top1 = float((order[:, 0] == target).sum())
    top5 = float((order[:, :5] == target[:, None]).any(1).sum())
    n = len(samples)
    return {"backtranslation_top1": round(top1 / n, 5), "backtranslation_top5": round(top5 / n, 5),
            "backtranslation_n": n, "backtranslation_n_unknown": int((target < 0).sum()),
            "backtranslation_n_unreadable": n_dropped}


def judge(generated: Sequence[np.ndarray], references: Sequence[np.ndarray], words: Sequence[str], *,
          recognizer=None, fps: float = 30.0, device: str = "cpu") -> dict:
    """DTW-MJE figures, ``velocity_ratio`` and (with a recognizer) back-translation of generated
    ``[T, 384]`` sequences against the real clips of the same words."""
    from signverse.train.recipes import score_text2pose
    out = score_text2pose(generated, references)
    out["velocity_ratio"] = round(velocity_ratio(generated, references), 5)
    if recognizer is not None:
        out.update(backtranslation(recognizer, generated, words, fps, device))
    return out


def training_samples(loaded) -> list:
    """The samples the run trained on: its config's data, restricted to its split's train ids."""
    from signverse.train.run import load_task_samples
    data = loaded.files.config.get("data")
    split = loaded.files.split or {}
    if not data or data == "None" or not Path(data).exists():
        raise InputError(data or loaded.files.path, "the run's training data (config 'data') is not "
                         "available, so its baselines cannot be built")
    ids = set(split.get("train") or [])
    samples = load_task_samples(data)
    return [s for s in samples if s.sample_id in ids] if ids else samples


def evaluate_text2pose_run(run: str | Path, data: str | Path | None = None, *, samples: list | None = None,
                           recognizer=None, baselines: bool = False, train_samples: list | None = None,
                           device: str = "cpu") -> dict:
    """Metrics of a text2pose run on every sample of ``data`` (or ``samples``): DTW-MJE figures,
    ``velocity_ratio``, back-translation with ``recognizer``, and with ``baselines`` the same
    figures for the mean-sequence and nearest-training-example baselines under ``"baselines"``."""
    from signverse.models.signdw.text2pose_baselines import word_baselines
    from signverse.train.run import load_run, load_task_samples
    loaded = load_run(run, device)
    if loaded.files.task != "text2pose":
        raise SignverseError(f"{run} is a '{loaded.files.task}' run, not text2pose")
    recipe = loaded.recipe
    samples = samples if samples is not None else load_task_samples(data)
    items = recipe.prepare(samples)
    if not items:
        raise InputError(data, "no usable samples")
    rec = None
    if recognizer is not None:
        rec = recognizer if not isinstance(recognizer, (str, Path)) else load_run(recognizer, device)
    words = [it.extra["text"] for it in items]
    refs = [it.points for it in items]
    fps = float(recipe.settings.fps)
    gens = recipe.generate(loaded.model, items, device)
    out = judge(gens, refs, words, recognizer=rec, fps=fps, device=device)
    if baselines:
        train = train_samples if train_samples is not None else training_samples(loaded)
        tr_items = recipe.prepare(train)
        built = word_baselines([it.extra["text"] for it in tr_items], [it.points for it in tr_items])
        out["baselines"] = {}
        for name, per_word in built.items():
            # a word with no training clip has no baseline output: scored on the words it has
            pairs = [(per_word[w], r, w) for w, r in zip(words, refs) if w in per_word]
            if not pairs:
                continue
            g, r, w = map(list, zip(*pairs))
            out["baselines"][name] = judge(g, r, w, recognizer=rec, fps=fps, device=device)
    return out

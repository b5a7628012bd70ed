"""Training data: Sample records, importers, features, Dataset, frame-budget sampler.

``import signverse.data`` is light (numpy only); torch is imported when tensors are built.

>>> from signverse.data import Sample, FeatureExtractor, FrameBudgetSampler
>>> [len(b) for b in FrameBudgetSampler([10, 10, 30], 40, shuffle=False).batches()]
[2, 1]
"""
from __future__ import annotations

from signverse.data.dataset import (FrameBudgetSampler, PoseDataset, Vocabulary, collate_pad,
                                    make_loader)
from signverse.data.features import (FEATURE_PRESETS, FeatureConfig, FeatureExtractor, Features,
                                     FeatureStats, feature_preset)
from signverse.data.loaders import (detect_source, load_samples, read_pose_index,
                                    sample_from_clip, samples_from_corpus)
from signverse.data.mediapipe import (load_islr, pose_to_vectors, read_islr_npz, read_mp_data,
                                      vectors_to_pose)
# Importing phoenix registers the ``phoenix-50`` layout and its dwpose conversion.
from signverse.data.phoenix import PHOENIX_LAYOUT, read_phoenix
from signverse.data.sample import Sample


__all__ = ["FEATURE_PRESETS", "PHOENIX_LAYOUT", "FeatureConfig", "FeatureExtractor", "FeatureStats", "Features",
           "FrameBudgetSampler", "PoseDataset", "Sample", "Vocabulary", "collate_pad",
           "detect_source", "feature_preset", "load_islr", "load_samples", "make_loader",
           "pose_to_vectors", "read_islr_npz", "read_mp_data", "read_phoenix", "read_pose_index",
           "sample_from_clip", "samples_from_corpus", "vectors_to_pose"]

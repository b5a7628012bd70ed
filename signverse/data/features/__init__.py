"""Pose -> model features, one package for every learned model.

- ``extractor``: config-driven per-frame features of any layout (``FeatureExtractor``,
  ``FeatureConfig`` and its presets), the input of ``PoseDataset`` and the text->pose models.
- ``encoder``: the signer-invariant features of the SignDW pose encoder (islr, langid,
  pose2text): dwpose upper body and hands, neck-centred and shoulder-scaled, dominant hand
  canonicalised, handshape distances, training augmentation.
- ``stats``: ``FeatureStats``, the training set's per-feature mean/std both save with a checkpoint.
"""
from signverse.data.features.extractor import (FEATURE_PRESETS, FeatureConfig, FeatureExtractor, Features,
                                               feature_preset, normalize_pose)
from signverse.data.features.stats import FeatureStats

__all__ = ["FEATURE_PRESETS", "FeatureConfig", "FeatureExtractor", "Features", "FeatureStats",
           "feature_preset", "normalize_pose"]

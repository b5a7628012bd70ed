"""Pure operations over PoseSeq (each returns a new sequence; inputs are never modified):
normalisation, time-preserving resampling, confidence masking, augmentation, person selection,
skeleton retargeting and anonymisation.

>>> import numpy as np
>>> from signverse.core import PoseSeq
>>> from signverse.ops import resample
>>> pose = PoseSeq(np.zeros((30, 1, 1, 2)), np.ones((30, 1, 1)), 30, 64, 64, "custom")
>>> resample(pose, 24).n_frames
24
"""
from signverse.ops.augment import (Compose, RandomFlip, RandomFrameDrop, RandomRotate, RandomScale,
                                   RandomShear, affine, drop_frames, flip, random_augment, rotate,
                                   scale, shear)
from signverse.ops.mask import mask_low_confidence
from signverse.ops.normalize import NORMALIZERS, NormTransform, denormalize, normalize
from signverse.ops.persons import CRITERIA, first_person, person_scores, select_person
from signverse.ops.resample import resample
from signverse.ops.retarget import Target, kinematic_tree, measure, retarget
from signverse.ops.anonymize import anonymize, canonical_target

__all__ = ["CRITERIA", "Compose", "NORMALIZERS", "NormTransform", "RandomFlip", "RandomFrameDrop",
           "RandomRotate", "RandomScale", "RandomShear", "Target", "affine", "anonymize",
           "canonical_target", "denormalize", "drop_frames", "first_person", "flip",
           "kinematic_tree", "mask_low_confidence", "measure", "normalize", "person_scores",
           "random_augment", "resample", "retarget", "rotate", "scale", "select_person", "shear"]

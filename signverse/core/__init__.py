"""Core types of signverse: numpy and the standard library only."""
from signverse.core.errors import InputError, MissingDependency, SignverseError
from signverse.core.pose import PoseSeq
from signverse.core.records import Clip, Segment, VideoRecord
from signverse.core.registry import Registry

__all__ = ["Clip", "InputError", "MissingDependency", "PoseSeq", "Registry", "Segment",
           "SignverseError", "VideoRecord"]

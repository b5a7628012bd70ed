"""Video input: ``probe`` a file and ``decode`` it to upright RGB frames at a fixed fps (PyAV).

>>> from signverse.video import VideoInfo, decode, probe   # PyAV is imported only when called
>>> VideoInfo.__name__
'VideoInfo'
"""
from signverse.video.decode import DecodeStats, VideoInfo, decode, probe, scaled_size

__all__ = ["DecodeStats", "VideoInfo", "decode", "probe", "scaled_size"]

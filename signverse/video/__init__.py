"""Video input: ``probe`` a file and ``decode`` it to upright RGB frames at a fixed fps (PyAV).

>>> from signverse.video import VideoInfo, decode, probe   # PyAV is imported only when called
>>> VideoInfo.__name__
'VideoInfo'
"""
from signverse.video.decode import VideoInfo, decode, probe

__all__ = ["VideoInfo", "decode", "probe"]

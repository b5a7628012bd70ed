"""SignDW: Transformer models over DWPose-style frame features.

* ``text2pose``: text -> pose, autoregressive (``signdw-text2pose``) and parallel
  (``signdw-text2pose-parallel``) decoders with a length head and a progress counter, the
  soft-DTW field decoder (``signdw-text2pose-dtw``) and the default, that decoder adding motion
  to per-word templates (``signdw-text2pose-template``).
* ``pose_encoder``: a pose-sequence encoder with heads for isolated sign recognition
  (``signdw-islr``), sign-language identification (``signdw-langid``) and an encoder-decoder for
  pose -> text (``signdw-pose2text``).
"""

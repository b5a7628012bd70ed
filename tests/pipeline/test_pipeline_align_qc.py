"""Caption cues -> clips at frame precision; QC measures and filters."""
from __future__ import annotations

import numpy as np

from signverse.core import PoseSeq, Segment
from signverse.layouts import get_layout
from signverse.core.align import caption_spans, clip_id, frame_range, window_spans
from signverse.pipeline.qc import QCFilter, clip_qc


def test_frame_k_is_at_k_over_fps_and_clips_are_half_open():
    # [0.5, 1.0) at 24 fps: frames 12..23 (frame 24 is at exactly 1.0, so it is not in).
    assert frame_range(0.5, 1.0, 24, 100) == (12, 24)
    # Boundaries that floating point puts a hair off a frame: 0.1 s at 30 fps is frame 3.
    assert frame_range(0.1, 0.2, 30, 100) == (3, 6)
    assert frame_range(0.501, 1.0, 24, 100) == (13, 24)
    # Clipped to the video; a cue past the end is empty.
    assert frame_range(3.0, 9.0, 24, 80) == (72, 80)
    assert frame_range(5.0, 6.0, 24, 80) == (80, 80)
    # Native (variable) frame times give the same rule.
    times = np.array([0.0, 0.04, 0.1, 0.13, 0.2])
    assert frame_range(0.04, 0.13, 0, 5, times) == (1, 3)


def test_caption_spans_keep_text_language_and_cue_index():
    segs = [Segment(0.0, 0.5, "hello", "en"), Segment(9.0, 10.0, "after the end", "en"),
            Segment(1.0, 1.02, "too short", "en"), Segment(1.25, 2.0, "hallo", "de")]
    spans = caption_spans("vid", segs, n_frames=48, fps=24)
    assert [(s.clip_id, s.first, s.stop, s.text, s.text_language) for s in spans] == [
        ("vid-0000", 0, 12, "hello", "en"), ("vid-0002", 24, 25, "too short", "en"),
        ("vid-0003", 30, 48, "hallo", "de")]
    assert [s.clip_id for s in caption_spans("vid", segs, n_frames=48, fps=24, min_frames=2)] == \
        ["vid-0000", "vid-0003"]
    assert clip_id("v", 12) == "v-0012"


def test_videos_without_captions_become_one_clip_or_windows():
    (whole,) = window_spans("v", n_frames=50, fps=24)
    assert (whole.clip_id, whole.first, whole.stop, whole.end) == ("v-0000", 0, 50, 50 / 24)
    wins = window_spans("v", n_frames=50, fps=24, window=1.0)
    assert [(w.clip_id, w.first, w.stop) for w in wins] == [("v-0000", 0, 24), ("v-0001", 24, 48),
                                                          ("v-0002", 48, 50)]
    assert window_spans("v", n_frames=0, fps=24) == []


def _holistic(n_frames=10, persons=1):
    layout = get_layout("mediapipe-holistic")
    xy = np.full((n_frames, persons, layout.num_points, 2), np.nan, np.float32)
    conf = np.zeros((n_frames, persons, layout.num_points), np.float32)
    return layout, xy, conf


def test_qc_measures():
    layout, xy, conf = _holistic()
    body, left, face = layout.slice("body"), layout.slice("left_hand"), layout.slice("face")
    conf[:8, 0, body] = 0.5
    xy[:8, 0, body] = 100.0
    ls, rs = layout.anchor("left_shoulder"), layout.anchor("right_shoulder")
    xy[:8, 0, ls] = [100.0, 100.0]
    xy[:8, 0, rs] = [150.0, 100.0]                  # shoulder width 50 px
    xy[:8, 0, layout.anchor("left_wrist")] = np.array([[100.0 + 5 * t, 100.0] for t in range(8)])
    conf[:4, 0, left] = 1.0
    xy[:4, 0, left] = 50.0
    conf[2, 0, face] = 1.0
    xy[2, 0, face] = 10.0
    pose = PoseSeq(xy, conf, fps=10, width=640, height=480, layout=layout.name)
    qc = clip_qc(pose, persons_per_frame=np.array([1, 2, 2, 1, 1, 1, 1, 1, 0, 0]))
    assert qc["signer_frac"] == 0.8 and qc["left_hand_frac"] == 0.4 and qc["right_hand_frac"] == 0.0
    assert qc["face_frac"] == 0.1 and qc["multi_person_frac"] == 0.2
    assert 0.5 < qc["mean_conf"] < 1.0
    # Only the wrist moves (5 px per step, 7 steps); still points: 7 x 33 body + 3 x 21 hand steps.
    # Mean step 35 / 294 px, at 10 fps, in shoulder widths (50 px) per second.
    assert np.isclose(qc["motion"], 35 / 294 * 10 / 50, rtol=1e-5)


def test_qc_filter_reasons():
    qc = {"signer_frac": 0.4, "left_hand_frac": 0.1, "right_hand_frac": 0.3, "multi_person_frac": 0.5,
          "motion": 0.0}
    assert QCFilter().reject_reason(qc, 10) is None and not QCFilter().active()
    assert QCFilter(min_signer_frac=0.5).reject_reason(qc, 10) == "signer_frac 0.4 < 0.5"
    assert QCFilter(min_hand_frac=0.3).reject_reason(qc, 10) is None
    assert QCFilter(max_multi_person_frac=0.2).reject_reason(qc, 10) == "multi_person_frac 0.5 > 0.2"
    assert QCFilter(min_frames=12).reject_reason(qc, 10) == "frames 10 < 12"


def test_a_cue_starting_before_the_video_starts_at_zero():
    """Found by fuzzing: a captions.json cue from -5 s to 0.5 s became a clip of 12 frames whose
    start was -5.0 (5.5 s long by its times, so durations and hours were overstated)."""
    (span,) = caption_spans("vid", [Segment(-5.0, 0.5, "early", "en")], n_frames=48, fps=24)
    assert (span.first, span.stop, span.start, span.end) == (0, 12, 0.0, 0.5)

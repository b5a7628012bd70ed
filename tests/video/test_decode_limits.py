"""Hostile videos: a truncated real file, a one-hour timestamp gap, frames larger than needed."""
from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from conftest import shared
from video_files import encode_frames
from signverse.core.errors import InputError
from signverse.video import DecodeStats, decode, probe, scaled_size

av = pytest.importorskip("av")


def truncated_copy(tmp_path, keep_bytes: int = 40_000):
    """asl_house.mp4 (73 frames, moov atom first) cut after ``keep_bytes``: ~24 frames decode."""
    data = shared("videos", "asl_house.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[:keep_bytes])
    return path


def gap_video(path, *, gap_s: float = 3600.0, n: int = 73, at: int = 36):
    """Real frames of asl_house.mp4 re-encoded with a ``gap_s`` jump in their timestamps."""
    src = shared("videos", "asl_house.mp4")
    time_base = Fraction(1, 1000)
    with av.open(str(src)) as inp, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"bf": "0"}
        frames = itertools.islice(inp.decode(video=0), n)
        encode_frames(out, stream, ((frame.to_ndarray(format="rgb24"), i / 25 + (gap_s if i >= at else 0.0))
                                    for i, frame in enumerate(frames)), time_base)
    return path


def test_truncated_mp4_is_reported_not_silent(tmp_path, caplog):
    path = truncated_copy(tmp_path)
    assert probe(path).n_frames == 73        # the container still claims every frame
    stats = DecodeStats()
    frames = list(decode(path, fps=None, stats=stats))
    assert 0 < len(frames) < 73
    assert stats.truncated and stats.expected_frames == 73 and stats.source_frames == len(frames)
    assert stats.warnings and f"{len(frames)} of 73 frames decodable" in stats.warnings[0]
    with pytest.raises(InputError, match="cut.mp4: truncated video"):
        list(decode(path, fps=24, strict=True))


def test_intact_real_videos_have_no_warning(tmp_path):
    for name in ("asl_house.mp4", "asl_different.mp4", "pose_test_video.mp4"):
        stats = DecodeStats()
        list(decode(shared("videos", name), fps=24, stats=stats))
        assert not stats.truncated and stats.warnings == [], name


def test_one_hour_timestamp_gap_yields_only_real_frames(tmp_path):
    path = gap_video(tmp_path / "gap.mp4")
    assert path.stat().st_size < 400_000
    stats = DecodeStats()
    out = list(decode(path, fps=24.0, stats=stats))
    # 73 real frames at 25 fps ~ 2.9 s of video -> ~70 output frames plus at most max_hold (1 s)
    # of the frame before the gap held on screen: not 86,471.
    assert 65 <= len(out) <= 70 + 24 + 2, len(out)
    assert stats.source_frames == 73 and len(stats.gaps) == 1
    at, missing = stats.gaps[0]
    assert at == pytest.approx(35 / 25 + 1.0, abs=0.01) and missing == pytest.approx(3599.0, abs=0.1)
    indices = [k for k, _, _ in out]
    assert indices == sorted(set(indices))
    jump = int(np.argmax(np.diff(indices)))
    # Times stay on the video's clock (captions after the gap still line up); frames do not.
    assert out[jump + 1][1] == pytest.approx(36 / 25 + 3600, abs=0.05)
    assert any("timestamp gap" in w for w in stats.warnings)
    native = DecodeStats()
    assert len(list(decode(path, fps=None, stats=native))) == 73 and len(native.gaps) == 1


def test_max_side_shrinks_frames_in_the_decoder(tmp_path):
    src = shared("videos", "asl_house.mp4")     # 320x240
    small = next(iter(decode(src, fps=None, max_side=160)))[2]
    assert small.shape == (120, 160, 3)
    full = next(iter(decode(src, fps=None)))[2]
    assert full.shape == (240, 320, 3)
    # The same picture, only smaller.
    assert abs(float(small.mean()) - float(full.mean())) < 2.0
    assert scaled_size(3840, 2160, 1280) == (1280, 720) and scaled_size(640, 480, 1280) == (640, 480)

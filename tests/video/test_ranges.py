"""decode_range: joined ranges are exactly one whole-video decode (frames, times, pixels, gaps)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from video_files import encode_frames
from signverse.core.errors import InputError
from signverse.video import DecodeStats, decode
from signverse.video.ranges import RangeStats, decode_range

av = pytest.importorskip("av")


def write_gop_video(path: Path, times: list[float], *, gop: int = 30, bframes: int = 2,
                    size: tuple[int, int] = (64, 48)) -> Path:
    """H.264 with keyframes every ``gop`` frames and B-frames (decode order != display order), so a
    range start mostly lands mid-GOP and needs a seek back to its keyframe."""
    width, height = size
    time_base = Fraction(1, 15360)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"g": str(gop), "bf": str(bframes), "sc_threshold": "0", "preset": "veryfast"}

        def image(i: int) -> np.ndarray:
            img = np.full((height, width, 3), (i * 7) % 200, np.uint8)
            img[10:20, i % (width - 10):i % (width - 10) + 10] = 255
            return img
        encode_frames(out, stream, ((image(i), t) for i, t in enumerate(times)), time_base)
    return path


def joined(path, fps: float, cuts: list[int], **kw):
    """(whole decode, joined ranges, whole stats, range stats) for ranges cut at ``cuts``."""
    whole_stats = DecodeStats()
    whole = [(k, t, rgb.copy()) for k, t, rgb in decode(path, fps, stats=whole_stats, **kw)]
    bounds = [0] + sorted(c for c in set(cuts) if 0 < c < len(whole)) + [None]
    parts, stats = [], []
    for first, stop in zip(bounds[:-1], bounds[1:]):
        rs = RangeStats()
        parts += [(k, t, rgb.copy()) for k, t, rgb in decode_range(path, fps, first, stop, stats=rs, **kw)]
        assert rs.reached_stop, (first, stop)
        stats.append(rs)
    return whole, parts, whole_stats, stats


def assert_same(whole, parts) -> None:
    assert [k for k, _, _ in parts] == [k for k, _, _ in whole]          # no frame missing or twice
    for (k, t1, a), (_, t2, b) in zip(whole, parts):
        assert t1 == t2 and np.array_equal(a, b), f"frame {k} differs"


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
def test_joined_ranges_equal_one_pass_across_keyframes_and_b_frames(tmp_path, fps):
    video = write_gop_video(tmp_path / "gop.mp4", [i / 30 for i in range(240)])
    n = {24.0: 192, 30.0: 240, 60.0: 480}[fps]
    cuts = [1, 29, 30, 31, 77, 100, 101, n // 2, n - 1]   # at, before and after keyframes, at the end
    whole, parts, whole_stats, stats = joined(video, fps, cuts)
    assert len(whole) == n
    assert_same(whole, parts)
    # Every source frame is owned by exactly one range, and seeks really happened.
    assert sum(s.source_frames for s in stats) == whole_stats.source_frames == 240
    assert sum(s.lead_in + s.seek_discarded for s in stats) > 0


def test_gaps_land_in_exactly_one_range(tmp_path):
    times = [i / 24 for i in range(48)] + [5.0 + i / 24 for i in range(48)]   # a 3 s jump at 2 s
    video = write_gop_video(tmp_path / "gap.mp4", times, gop=12, bframes=0)
    whole, parts, whole_stats, stats = joined(video, 24.0, [30, 47, 48, 49, 60, 100, 121])
    assert_same(whole, parts)
    assert len(whole_stats.gaps) == 1
    assert [g for s in stats for g in s.gaps] == whole_stats.gaps


def test_real_videos_split_anywhere_match_one_pass():
    for name in ("pose_test_video.mp4", "msl_doctor.mp4", "autsl_signer0_sample1000_color.mp4"):
        path = shared("videos", name)   # h264, hevc, mpeg4
        whole, parts, _, _ = joined(path, 24.0, [5, 17, 18, 33], max_side=160)
        assert_same(whole, parts)


def test_ranges_past_the_end_are_empty_and_say_so(tmp_path):
    video = write_gop_video(tmp_path / "short.mp4", [i / 30 for i in range(60)])
    stats = RangeStats()
    assert list(decode_range(video, 30.0, 500, 600, stats=stats)) == []
    assert not stats.reached_stop and stats.source_frames == 0
    stats = RangeStats()
    frames = list(decode_range(video, 30.0, 50, 100, stats=stats))
    assert [k for k, _, _ in frames] == list(range(50, 60)) and not stats.reached_stop


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="file does not exist"):
        list(decode_range(tmp_path / "missing.mp4", 24.0, 10, 20))
    (tmp_path / "junk.mp4").write_bytes(b"\x00junk" * 100)
    with pytest.raises(InputError, match="junk.mp4"):
        list(decode_range(tmp_path / "junk.mp4", 24.0, 10, 20))
    with pytest.raises(ValueError):
        list(decode_range(tmp_path / "junk.mp4", 24.0, 20, 10))

"""Tests of signverse.video on videos the tests write with PyAV and on the real shared videos."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from video_files import encode_frames
from signverse.core.errors import InputError
from signverse.video import decode, probe

av = pytest.importorskip("av")


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i``: grey level encodes the index (mod 50); a bright block marks the top-left corner."""
    img = np.full((height, width, 3), 16 + 4 * (i % 50), np.uint8)
    img[: height // 4, : width // 4] = (250, 250, 250)
    return img


def write_video(path: Path, times: list[float], width: int = 64, height: int = 48, *,
                codec: str = "libx264", pix_fmt: str = "yuv420p", rotation: int | None = None,
                time_base: Fraction = Fraction(1, 1000), rate: int = 24) -> Path:
    """Write one frame per timestamp (seconds) so the expected output of ``decode`` is known."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            # Intra-only and no B-frames: the shade of each frame survives and pts stay exact.
            stream.options = {"crf": "0", "g": "1", "bf": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        encode_frames(out, stream, ((frame_image(i, width, height), t) for i, t in enumerate(times)),
                      time_base)
    return path


def index_of(rgb: np.ndarray) -> int:
    """Recover the source index from a frame written by ``frame_image`` (bottom-right pixel)."""
    return int(round((float(rgb[-1, -1].mean()) - 16) / 4))


def test_constant_rate_native_and_resampled(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", [i / 25 for i in range(50)], rate=25)
    info = probe(path)
    assert (info.width, info.height, info.rotation, info.codec) == (64, 48, 0, "h264")
    assert info.n_frames == 50 and info.duration == pytest.approx(2.0, abs=0.05)
    native = list(decode(path, fps=None))
    assert [i for i, _, _ in native] == list(range(50))
    assert [index_of(f) for _, _, f in native] == list(range(50))
    assert native[10][1] == pytest.approx(10 / 25)
    out = list(decode(path, fps=10.0))
    # 2.0 s at 10 fps; frame k at k/10 s shows source frame floor(k * 2.5).
    assert len(out) == 20
    assert [index_of(f) for _, _, f in out] == [int(np.floor(k * 2.5 + 1e-9)) for k in range(20)]
    assert [t for _, t, _ in out] == pytest.approx([k / 10 for k in range(20)])
    up = list(decode(path, fps=50.0))
    assert len(up) == 100 and [index_of(f) for _, _, f in up] == [k // 2 for k in range(100)]


def test_variable_frame_rate_uses_timestamps(tmp_path):
    times = [0.0, 0.05, 0.1, 0.5, 0.52, 1.0, 1.2]   # a stall then a burst
    path = write_video(tmp_path / "vfr.mkv", times)
    native = list(decode(path, fps=None))
    assert [t for _, t, _ in native] == pytest.approx(times, abs=1e-3)
    out = list(decode(path, fps=10.0))
    expected = [int(np.searchsorted(times, k / 10 + 1e-9, side="right") - 1) for k in range(len(out))]
    assert [index_of(f) for _, _, f in out] == expected
    assert expected[:13] == [0, 2, 2, 2, 2, 3, 4, 4, 4, 4, 5, 5, 6]
    # The last source frame stays on screen for about one nominal period, no longer.
    assert 13 <= len(out) <= 14


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    path = write_video(tmp_path / f"rot{rotation}.mp4", [i / 24 for i in range(3)], 64, 48,
                       rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation % 360
    expect_w, expect_h = (48, 64) if rotation % 180 else (64, 48)
    assert (info.width, info.height) == (expect_w, expect_h)
    frames = [f for _, _, f in decode(path, fps=None)]
    assert frames[0].shape == (expect_h, expect_w, 3)
    # Where does the stored top-left marker end up after a counter-clockwise turn?
    corners = {90: (-1, 0), 270: (0, -1), 180: (-1, -1)}
    r, c = corners[rotation % 360]
    assert frames[0][r, c].mean() > 200
    assert frames[0][0 if r else -1, 0 if c else -1].mean() < 200


def test_odd_size(tmp_path):
    path = write_video(tmp_path / "odd.mkv", [i / 24 for i in range(5)], 321, 239,
                       codec="ffv1", pix_fmt="yuv444p")
    info = probe(path)
    assert (info.width, info.height) == (321, 239)
    frames = list(decode(path, fps=24.0))
    assert len(frames) == 5
    assert all(f.shape == (239, 321, 3) and f.dtype == np.uint8 for _, _, f in frames)
    assert [index_of(f) for _, _, f in frames] == list(range(5))


def _png_bytes() -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(frame_image(0, 32, 24)).save(buf, format="PNG")
    return buf.getvalue()


def test_bad_files_raise_input_error_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    audio_only = tmp_path / "noise.bin"
    audio_only.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    image = tmp_path / "still.png"
    image.write_bytes(_png_bytes())
    for bad in (empty, text, audio_only, image, tmp_path / "missing.mp4", tmp_path):
        with pytest.raises(InputError) as err:
            probe(bad)
        assert str(bad) in str(err.value)
        with pytest.raises(InputError):
            list(decode(bad))


def test_truncated_file_yields_what_decodes_then_stops(tmp_path, caplog):
    # mkv writes its index at the front-ish and tolerates a cut tail: frames before the cut decode.
    full = write_video(tmp_path / "full.mkv", [i / 24 for i in range(48)], 64, 48)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    frames = list(decode(cut, fps=None))
    assert 0 < len(frames) < 48
    assert [index_of(f) for _, _, f in frames] == list(range(len(frames)))
    header_only = tmp_path / "header.mkv"
    header_only.write_bytes(data[:200])
    with pytest.raises(InputError, match="header.mkv"):
        list(decode(header_only))


def test_memory_is_bounded_for_long_videos(tmp_path):
    # 200 frames of 147 KB streamed: holding them all would take 29 MB; the generator holds ~1.
    path = write_video(tmp_path / "long.mkv", [i / 30 for i in range(200)], 256, 192, rate=30)
    import tracemalloc
    tracemalloc.start()
    peak_after_start = None
    for i, _, frame in decode(path, fps=24.0):
        if i == 5:
            tracemalloc.reset_peak()
            peak_after_start = 0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak_after_start == 0 and peak < 2_000_000
    assert i == 159   # 6.67 s at 24 fps


def test_real_videos_frame_counts_match_probe():
    folder = shared("videos")
    files = sorted(folder.glob("*.mp4"))
    assert len(files) == 10
    total = 0
    for path in files:
        info = probe(path)
        frames = list(decode(path, fps=None))
        assert len(frames) == info.n_frames, path.name
        h, w, _ = frames[0][2].shape
        assert (w, h) == (info.width, info.height)
        assert info.duration == pytest.approx(len(frames) / info.fps, rel=0.05)
        total += len(frames)
    assert total == 643


def test_real_video_resampled_to_24fps():
    path = shared("videos", "asl_house.mp4")   # 73 frames at 25 fps = 2.92 s
    frames = list(decode(path, fps=24.0))
    assert len(frames) == 71   # k / 24 < 2.92 for k = 0..70
    assert [i for i, _, _ in frames] == list(range(71))

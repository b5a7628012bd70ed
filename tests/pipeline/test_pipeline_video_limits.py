"""Per-video processing under hostile or large input: truncated files, timestamp gaps, captions
that run past the video, memory that must not grow with length or resolution, signer choice."""
from __future__ import annotations

import json
import logging
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from conftest import shared
from signverse.core.records import VideoRecord
from signverse.estimators import ESTIMATORS
from signverse.pipeline.ledger import Ledger
from signverse.pipeline.run import RunOptions, extract
from signverse.pipeline.worker import ExtractConfig, VideoProcessor, _Decoder

from blob_estimator import BlobEstimator, OneBlobEstimator, blob_video   # tests/ is on sys.path

pytest.importorskip("av")
pytest.importorskip("scipy")


@pytest.fixture(autouse=True)
def blob_backends():
    ESTIMATORS.register("test-blobs", BlobEstimator, replace=True)
    ESTIMATORS.register("test-one-blob", OneBlobEstimator, replace=True)
    BlobEstimator.seen = []
    yield
    ESTIMATORS._items.pop("test-blobs", None)
    ESTIMATORS._items.pop("test-one-blob", None)


def run_inline(records, out, **config):
    config.setdefault("backend", "test-blobs")
    return extract(records, out, ExtractConfig(**config),
                   RunOptions(workers=0, retries=0, progress=False))


def test_truncated_video_keeps_its_decodable_part_and_records_why(tmp_path, capsys, caplog):
    data = shared("videos", "asl_house.mp4").read_bytes()       # 73 frames
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:40_000])
    summary = run_inline([VideoRecord("cut", path=str(cut))], tmp_path / "corpus", fps=24.0)
    assert summary.succeeded == 1 and summary.clips == 1
    assert "of 73 frames decodable" in summary.warnings["cut"][0]
    # Reported once (the run's summary and the ledger), not also as a log warning on the way.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "decodable" in r.getMessage()]
    with Ledger(tmp_path / "corpus") as ledger:
        (row,) = ledger.rows("done")
    assert row.frames < 73 and "of 73 frames decodable" in row.info["warnings"][0]
    from signverse.cli.main import main
    capsys.readouterr()
    assert main(["status", str(tmp_path / "corpus")]) == 0
    out = capsys.readouterr().out
    assert "done with warnings" in out and "cut: truncated or corrupt video" in out


def test_timestamp_gap_is_missing_data_not_86000_frames(tmp_path):
    video = blob_video(tmp_path / "gap.mp4", frames=73, fps=25, gap_at=36, gap_s=3600.0)
    assert video.stat().st_size < 200_000
    t0 = time.perf_counter()
    summary = run_inline([VideoRecord("gap", path=str(video))], tmp_path / "corpus", fps=24.0,
                         window=2.0)
    assert time.perf_counter() - t0 < 30
    assert summary.succeeded == 1 and summary.frames <= 73 + 24
    assert any("timestamp gap" in w for w in summary.warnings["gap"])
    from signverse.io.corpus import open_corpus
    clips = list(open_corpus(tmp_path / "corpus"))
    assert sum(c.pose.n_frames for c in clips) == summary.frames
    # Clips keep the video's clock: the frames after the gap are an hour later, and the clip
    # that holds the gap's start says how much of it is missing.
    assert max(c.start for c in clips) >= 3600
    assert max(c.qc.get("gap_s", 0.0) for c in clips) > 0.5


def test_caption_problems_and_language(tmp_path):
    video = blob_video(tmp_path / "v.mp4", frames=26, fps=24)               # 1.08 s
    caps = tmp_path / "v.captions.json"
    caps.write_text(json.dumps({"video_id": "v", "languages": {"en": {"segments": [
        {"start_sec": 0.0, "end_sec": 0.5, "text": "hello"},
        {"start_sec": 0.5, "end_sec": float("inf"), "text": "endless"},
        {"start_sec": 0.5, "end_sec": 5.0, "text": "past the end"}]}}}))
    summary = run_inline([VideoRecord("v", path=str(video), captions=(str(caps),))], tmp_path / "c1")
    assert summary.succeeded == 1 and summary.clips == 2
    assert any("not finite" in w for w in summary.warnings["v"])
    from signverse.io.corpus import open_corpus
    clips = {c.text: c for c in open_corpus(tmp_path / "c1")}
    # Ends where the frames end (26-27 frames at 24 fps), not at the cue's 5.0 s.
    assert clips["past the end"].end == pytest.approx(summary.frames / 24, abs=1e-3)
    assert clips["past the end"].end < 1.2
    assert clips["hello"].text_language == "en"

    # A .vtt without a language in its name: the language is unknown (null), not 'track0'.
    vtt = tmp_path / "v.vtt"
    vtt.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:00.500\nhi\n")
    run_inline([VideoRecord("v", path=str(video), captions=(str(vtt),))], tmp_path / "c2")
    (clip,) = list(open_corpus(tmp_path / "c2"))
    assert clip.text == "hi" and clip.text_language is None

    # Asking for a language the video does not have fails it, naming what it has.
    summary = run_inline([VideoRecord("v", path=str(video), captions=(str(caps), str(vtt)))],
                         tmp_path / "c3", caption_language="de")
    assert summary.failed == 1
    assert "no 'de' caption track (available: en, track1 (language unknown))" in summary.failures["v"]


def test_memory_does_not_grow_with_video_length(tmp_path):
    # 543 native points per person per frame: holding the whole video's pose cost ~32 KB a frame.
    short = blob_video(tmp_path / "short.mp4", frames=150, size=(64, 48))
    long = blob_video(tmp_path / "long.mp4", frames=750, size=(64, 48))
    proc = VideoProcessor(ExtractConfig(backend="test-blobs", fps=None, chunk_frames=64, window=1.0))

    def peak(path) -> int:
        tracemalloc.start()
        result = proc(VideoRecord(path.stem, path=str(path)))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert result.ok, result.error
        return top

    growth = peak(long) - peak(short)
    # What grows is the stored dwpose signer (~1.6 KB a frame, shared by its clips) plus the
    # clips' QC: far below the ~19 MB that 600 more frames of whole-video pose cost before.
    assert growth < 600 * 6_000, growth


def test_read_ahead_is_bounded_in_bytes(tmp_path):
    path = shared("videos", "asl_house.mp4")         # 320x240: 230 KB per RGB frame
    frame_bytes = 320 * 240 * 3
    decoder = _Decoder(str(path), 24.0, read_ahead=64, read_ahead_bytes=3 * frame_bytes)
    decoder.start()
    n = 0
    for batch in decoder.batches(2):
        time.sleep(0.005)                            # a slow model: the decoder runs ahead
        n += len(batch)
    decoder.finish()
    assert n == 71 and 0 < decoder.peak_bytes <= 3 * frame_bytes


def test_large_frames_shrink_before_the_model_and_points_keep_video_pixels(tmp_path):
    video = blob_video(tmp_path / "big.mp4", frames=12, size=(320, 96), blocks=((200, 40),))
    proc = VideoProcessor(ExtractConfig(backend="test-blobs", fps=None, max_side=80, layout="native"))
    result = proc(VideoRecord("big", path=str(video)))
    assert result.ok, result.error
    assert {shape for shape in BlobEstimator.seen} == {(24, 80, 3)}
    assert (result.width, result.height) == (320, 96)
    xy = result.clips[0].pose.xy
    # The block spans x 200..223 of the 320 px video; on the 80 px frame it was 50..56.
    assert 190 < np.nanmin(xy[..., 0]) and np.nanmax(xy[..., 0]) < 232


def test_chunked_signer_equals_whole_video_selection(tmp_path):
    from signverse.estimators.base import stack_frames
    from signverse.layouts import convert
    from signverse.pipeline.signer import select_signer_pose
    from signverse.video import decode
    video = blob_video(tmp_path / "two.mp4", frames=40, size=(128, 64), blocks=((4, 8), (70, 30)))
    proc = VideoProcessor(ExtractConfig(backend="test-blobs", fps=None, chunk_frames=7))
    result = proc(VideoRecord("two", path=str(video)))
    assert result.ok, result.error
    est = BlobEstimator()
    whole = stack_frames(est([rgb for _, _, rgb in decode(video, fps=None)]), fps=result.fps,
                         width=128, height=64, layout=est.layout)
    expected = convert(select_signer_pose(whole)[0], "dwpose")
    got = result.clips[0].pose
    np.testing.assert_array_equal(got.conf, expected.conf)
    np.testing.assert_allclose(got.xy, expected.xy, equal_nan=True)
    assert result.clips[0].qc["multi_person_frac"] == 1.0


@pytest.mark.parametrize("backend", ["test-blobs", "test-one-blob"])
def test_signer_left_or_right(tmp_path, backend):
    video = blob_video(tmp_path / "pair.mp4", frames=10, size=(128, 64), blocks=((8, 8), (96, 30)))
    centres = {}
    for side in ("left", "right"):
        proc = VideoProcessor(ExtractConfig(backend=backend, fps=None, signer=side, layout="native"))
        result = proc(VideoRecord("pair", path=str(video)))
        assert result.ok, result.error
        centres[side] = float(np.nanmean(result.clips[0].pose.xy[..., 0]))
        mpf = result.clips[0].qc["multi_person_frac"]
        # A one-person backend cannot know whether someone else is in view: unknown, not 0.0.
        assert mpf == (None if backend == "test-one-blob" else 1.0)
    assert centres["left"] < 40 and centres["right"] > 90


def test_multi_person_filter_is_refused_for_one_person_backends(tmp_path):
    from signverse.core.errors import SignverseError
    from signverse.pipeline.qc import QCFilter
    video = blob_video(tmp_path / "v.mp4", frames=4)
    with pytest.raises(SignverseError, match="sees one person per frame"):
        run_inline([VideoRecord("v", path=str(video))], tmp_path / "c", backend="test-one-blob",
                   qc_filter=QCFilter(max_multi_person_frac=0.1))


def test_cli_options_mean_what_they_say(cli, tmp_path):
    video = blob_video(tmp_path / "v.mp4", frames=4)
    listed = cli("extract", "--backend", "list")
    assert listed.returncode == 0 and "mediapipe" in listed.stdout
    missing = cli("extract", str(video), "--out", str(tmp_path / "c"), "--captions", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"signverse extract: error: {tmp_path / 'nope'}: no such captions folder"
    refused = cli("extract", str(video), "--out", str(tmp_path / "c"), "--max-multi-person-frac", "0.1")
    assert refused.returncode == 2 and "sees one person per frame" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").glob("clips/*"))


def test_mediapipe_is_quiet_and_its_signer_choice_crops(cli, tmp_path):
    """Two real signers side by side; MediaPipe (one person) is pointed at each in turn."""
    pytest.importorskip("mediapipe")
    import av
    left_src, right_src = shared("videos", "asl_house.mp4"), shared("videos", "asl_different.mp4")
    video = tmp_path / "pair.mp4"
    with av.open(str(left_src)) as a, av.open(str(right_src)) as b, av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 240, "yuv420p"
        for i, (fa, fb) in enumerate(zip(a.decode(video=0), b.decode(video=0))):
            if i >= 25:
                break
            img = np.concatenate([fa.to_ndarray(format="rgb24"), fb.to_ndarray(format="rgb24")], 1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    from signverse.io.corpus import open_corpus
    centre = {}
    for side in ("left", "right"):
        out = tmp_path / f"corpus-{side}"
        res = cli("extract", str(video), "--out", str(out), "--workers", "0", "--fps", "4",
                  "--signer", side, "--no-progress")
        assert res.returncode == 0, res.stderr
        # TFLite / absl start-up lines go to CORPUS/logs, not the terminal.
        assert "TensorFlow Lite" not in res.stderr and "W0000" not in res.stderr, res.stderr
        assert any("TensorFlow Lite" in p.read_text() for p in (out / "logs").glob("native-*.log"))
        (clip,) = list(open_corpus(out))
        assert clip.qc.get("multi_person_frac") is None and clip.qc["signer_frac"] > 0.5
        centre[side] = float(np.nanmedian(clip.pose.xy[..., 0]))
    assert centre["left"] < 320 < centre["right"]


def test_windows_jump_over_a_gap_of_years():
    from signverse.core.align import window_spans
    times = np.concatenate([np.arange(36) / 24, 1e9 + np.arange(37) / 24])
    t0 = time.perf_counter()
    spans = window_spans("v", n_frames=73, fps=24, window=2.0, times=times)
    assert time.perf_counter() - t0 < 1.0
    assert [(s.first, s.stop) for s in spans] == [(0, 36), (36, 73)]
    assert spans[0].end == pytest.approx(1.5) and spans[1].start == 1e9

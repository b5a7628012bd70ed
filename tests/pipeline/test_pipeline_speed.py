"""What makes `extract --fps 24` fast must not change what it stores: the model sees only the frames
the 24 fps output needs (never the dropped ones), at exact times; workers start from a fork server
with the backend's heavy imports already done."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from signverse.core.records import VideoRecord
from signverse.estimators import ESTIMATORS
from signverse.pipeline.worker import ExtractConfig, VideoProcessor

from blob_estimator import BlobEstimator   # tests/ is on sys.path

pytest.importorskip("av")
pytest.importorskip("scipy")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def blob_backend():
    ESTIMATORS.register("test-blobs", BlobEstimator, replace=True)
    BlobEstimator.seen = []
    yield
    ESTIMATORS._items.pop("test-blobs", None)


def numbered_video(path: Path, frames: int, fps: int, size=(160, 48)) -> Path:
    """Source frame ``i`` shows a bright block whose left edge is at x = 2 * i (its frame number)."""
    import av
    from video_files import encode_frames
    width, height = size
    time_base = Fraction(1, 600)   # exact for 24, 25 and 30 fps: no rounded timestamps

    def image(i: int) -> np.ndarray:
        img = np.full((height, width, 3), 20, np.uint8)
        img[16:32, 2 * i:2 * i + 16] = 255
        return img

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.codec_context.options = {"qscale": "1"}
        encode_frames(out, stream, ((image(i), i / fps) for i in range(frames)), time_base)
    return path


@pytest.mark.parametrize("source_fps", [30, 25])
def test_24fps_infers_only_the_frames_it_keeps_at_exact_times(tmp_path, source_fps):
    n_source = 60 if source_fps == 30 else 50                  # 2.0 s either way
    video = numbered_video(tmp_path / f"n{source_fps}.mp4", n_source, source_fps)
    proc = VideoProcessor(ExtractConfig(backend="test-blobs", fps=24.0, layout="native"))
    result = proc(VideoRecord("n", path=str(video)))
    assert result.ok, result.error
    n_out = result.n_frames
    assert n_out == 48                                         # k / 24 < 2.0 s
    # The model ran on those frames only, not on the 60 (or 50) the file holds: dropped frames are
    # never converted to RGB nor inferred.
    assert len(BlobEstimator.seen) == n_out
    (clip,) = result.clips
    assert clip.start == 0.0 and clip.end == pytest.approx(n_out / 24, abs=1e-9)
    assert clip.pose.fps == 24.0 and clip.pose.n_frames == n_out
    # Output frame k (time k / 24) holds the source frame on screen then: the last one whose
    # time i / source_fps is <= k / 24.
    left = np.nanmin(clip.pose.xy[:, 0, :, 0], axis=1)
    expected = np.array([2 * min(n_source - 1, math.floor(k * source_fps / 24 + 1e-9))
                         for k in range(n_out)], np.float32)
    np.testing.assert_allclose(left, expected, atol=1.0)


def test_workers_start_with_the_backends_heavy_imports_done(tmp_path):
    pytest.importorskip("mediapipe")
    # A fresh interpreter: the fork server's preload list is decided by the first one started.
    code = (
        "import sys\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from signverse.pipeline.worker import ExtractConfig, worker_process_context\n"
        "def imported():\n"
        "    return 'mediapipe' in sys.modules\n"
        "if __name__ == '__main__':\n"
        "    ctx = worker_process_context(ExtractConfig(backend='mediapipe'))\n"
        "    print(ctx.get_start_method(), 'mediapipe' in sys.modules)\n"
        "    with ProcessPoolExecutor(1, mp_context=ctx) as pool:\n"
        "        print(pool.submit(imported).result())\n")
    script = tmp_path / "probe_workers.py"
    script.write_text(code)
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr[-2000:]
    method, parent_has = res.stdout.split("\n")[0].split()
    assert method == "forkserver"
    # The parent itself never imports the model library; the worker has it from the server.
    assert parent_has == "False" and res.stdout.split("\n")[1] == "True"

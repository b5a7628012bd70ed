"""Fixtures of the pipeline tests: generated videos, bounded extraction settings, a local HTTP server."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def write_video(path: Path, *, seconds: float = 1.0, fps: int = 12, size: tuple[int, int] = (96, 64),
                seed: int = 0) -> Path:
    """A real H.264/MPEG-4 file with a moving block (PyAV), ``seconds`` long."""
    import av
    rng = np.random.default_rng(seed)
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = rng.integers(0, 255, 3)
        for i in range(int(round(seconds * fps))):
            img = np.zeros((height, width, 3), np.uint8)
            img[:] = base // 3
            x = (i * 4) % (width - 16)
            img[20:36, x:x + 16] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def make_video():
    return write_video


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the real ``signverse`` command line in a subprocess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "signverse", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=env, **kwargs)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def real_video(shared_data, tmp_path):
    """A short real signing video (58 frames), copied so tests may put captions beside it."""
    src = shared_data("videos", "pose_test_video.mp4")
    dst = tmp_path / "src" / "signing.mp4"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return dst


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def http_root(tmp_path):
    """(folder, base_url, requests): a threaded HTTP server on 127.0.0.1 serving ``folder``."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(root)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def blob_backend():
    """The blob estimator registered as ``test-blobs`` (a real, fast stand-in model)."""
    from blob_estimator import BlobEstimator   # tests/ is on sys.path
    from signverse.estimators import ESTIMATORS
    ESTIMATORS.register("test-blobs", BlobEstimator, replace=True)
    yield
    ESTIMATORS._items.pop("test-blobs", None)


@pytest.fixture
def video(tmp_path):
    """10 s of two moving people, with caption cues across the seams of split ranges."""
    from blob_estimator import blob_video
    from signverse.core.records import VideoRecord
    path = blob_video(tmp_path / "long.mp4", frames=300, fps=30, blocks=((8, 24), (60, 30)))
    vtt = tmp_path / "long.en.vtt"
    vtt.write_text("WEBVTT\n\n" + "".join(f"00:00:0{i}.100 --> 00:00:0{i + 1}.700\ncue {i}\n\n"
                                           for i in range(0, 9, 2)))
    return VideoRecord("long", path=str(path), captions=[str(vtt)])

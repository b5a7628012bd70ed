"""The ``replay`` simulation backend: real recorded poses, registered like the other backends."""
from __future__ import annotations

import time

import numpy as np
import pytest

from signverse.core import InputError, PoseSeq, SignverseError
from signverse.estimators import describe_estimators, get_estimator, list_estimators
from signverse.io.pose_file import write_pose_file


def _pose(n_frames: int, width: int = 640, height: int = 480, seed: int = 0) -> PoseSeq:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n_frames, 1, 128, 2)) * [width, height]
    conf = rng.uniform(0.2, 1.0, (n_frames, 1, 128))
    conf[:, :, 100:] = 0.0   # a hand missing throughout
    xy[conf == 0] = np.nan
    return PoseSeq(xy.astype(np.float32), conf.astype(np.float32), fps=24.0, width=width,
                   height=height, layout="dwpose")


def write_video(path, *, n_frames: int, fps: int = 24, width: int = 64, height: int = 48):
    """A small real MPEG-4 file of noise (PyAV)."""
    import av
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(n_frames):
            img = rng.integers(0, 255, (height, width, 3), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def pose_dir(tmp_path):
    folder = tmp_path / "poses"
    write_pose_file(_pose(5, seed=1), folder / "a.pose")
    write_pose_file(_pose(3, 320, 240, seed=2), folder / "b.pose")
    (folder / "notes.txt").write_text("not a pose file")
    return folder


def test_registered_and_described_as_a_simulation():
    assert "replay" in list_estimators()
    info = {i.name: i for i in describe_estimators()}["replay"]
    assert info.available and "SIMULATION" in info.description


def test_replays_recorded_frames_in_order_scaled_to_the_frame_size(pose_dir):
    est = get_estimator("replay", source=str(pose_dir))
    assert est.layout == "dwpose"
    frames = [np.zeros((100, 200, 3), np.uint8)] * 10   # 8 recorded frames: wraps around
    out = est(frames)
    assert len(out) == 10
    first = _pose(5, seed=1)
    xy, conf = out[0]
    assert xy.shape == (1, 128, 2) and conf.shape == (1, 128)
    want = first.xy[0, 0] / [640, 480] * [200, 100]
    ok = first.conf[0, 0] > 0
    assert np.allclose(xy[0][ok], want[ok], atol=0.05) and np.isnan(xy[0][~ok]).all()
    assert (conf[0][~ok] == 0).all()
    assert np.array_equal(out[8][1], out[0][1])   # frame 9 is frame 1 again
    est.reset()
    assert len(est([frames[0]])) == 1
    est.close()


def test_frame_ms_sets_the_rate(pose_dir):
    est = get_estimator("replay", source=str(pose_dir), frame_ms=20.0)
    t0 = time.perf_counter()
    est([np.zeros((8, 8, 3), np.uint8)] * 4)
    assert time.perf_counter() - t0 >= 0.075
    # busy: spun on the CPU instead of slept (CPU time well above a sleeping call's, even when
    # other jobs share the cores)
    busy = get_estimator("replay", source=str(pose_dir), frame_ms=20.0, busy=True)
    c0, t0 = time.process_time(), time.perf_counter()
    busy([np.zeros((8, 8, 3), np.uint8)] * 3)
    assert time.perf_counter() - t0 >= 0.055 and time.process_time() - c0 >= 0.005
    c0 = time.process_time()
    est([np.zeros((8, 8, 3), np.uint8)] * 3)
    assert time.process_time() - c0 < 0.005


def test_bad_options(tmp_path, pose_dir):
    with pytest.raises(SignverseError, match="source"):
        get_estimator("replay")
    with pytest.raises(SignverseError, match="frame_ms"):
        get_estimator("replay", source=str(pose_dir), frame_ms=-1)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.pose").write_bytes(b"garbage")
    with pytest.raises(InputError, match="no pose file"):
        get_estimator("replay", source=str(empty))


def test_the_pipeline_runs_on_it(pose_dir, tmp_path):
    """A dry run: real pipeline stages (decode, signer, clips, QC, store, ledger), replayed poses."""
    from signverse.core.records import VideoRecord
    from signverse.io.corpus import open_corpus
    from signverse.pipeline.ledger import Ledger
    from signverse.pipeline.run import RunOptions, extract
    from signverse.pipeline.worker import ExtractConfig
    video = write_video(tmp_path / "v.mp4", n_frames=24)
    records = [VideoRecord(f"vid{i}", path=str(video), sign_language="ase") for i in range(3)]
    config = ExtractConfig(fps=24, backend="replay", backend_options={"source": str(pose_dir)}, window=0.25)
    summary = extract(records, tmp_path / "corpus", config, RunOptions(workers=0, progress=False))
    assert summary.succeeded == 3 and summary.clips == 12 and summary.frames == 72
    corpus = open_corpus(tmp_path / "corpus")
    assert len(corpus) == 12 and corpus["vid1-0002"].pose.n_frames == 6
    with Ledger(tmp_path / "corpus") as ledger:
        assert ledger.counts()["done"] == 3

"""The estimator registry: built-ins, third-party registration, entry points, descriptions."""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

import signverse.estimators as est_mod
from signverse.core.errors import SignverseError
from signverse.estimators import (ESTIMATORS, BackendInfo, describe_estimators, get_estimator,
                                  list_estimators, stack_frames)


def test_builtins_listed_and_described():
    assert {"mediapipe", "dwpose"} <= set(list_estimators())
    infos = {i.name: i for i in describe_estimators()}
    assert infos["mediapipe"].layout == "mediapipe-holistic"
    assert infos["dwpose"].layout == "coco-wholebody"
    assert isinstance(infos["dwpose"].available, bool)
    if not infos["dwpose"].available:
        assert "yolox_l.onnx" in infos["dwpose"].reason
    assert infos["mediapipe"].to_dict()["options"]["model_complexity"] == 1


def test_unknown_backend_and_bad_options():
    with pytest.raises(SignverseError, match="unknown pose estimator 'nope'.*mediapipe"):
        get_estimator("nope")
    with pytest.raises(SignverseError, match="bad options"):
        get_estimator("mediapipe", no_such_option=1)


class _Centroid:
    """Third-party toy backend: one point at the brightest pixel."""

    name = "centroid"
    layout = "custom"

    def __init__(self, **config):
        self.config = config

    def __call__(self, frames):
        out = []
        for f in frames:
            y, x = np.unravel_index(f.sum(-1).argmax(), f.shape[:2])
            out.append((np.array([[[x, y]]], np.float32), np.ones((1, 1), np.float32)))
        return out

    def reset(self):
        pass

    def close(self):
        pass


def test_register_third_party():
    ESTIMATORS.register("centroid-test", _Centroid, replace=True)
    frame = np.zeros((10, 20, 3), np.uint8)
    frame[3, 7] = 255
    (xy, conf), = get_estimator("centroid-test")([frame])
    assert xy.tolist() == [[[7.0, 3.0]]]
    assert any(i.name == "centroid-test" and i.available for i in describe_estimators())


def test_entry_point_group_is_loaded_lazily(tmp_path, monkeypatch):
    # A real installed distribution on sys.path advertising a backend in the entry-point group.
    pkg = tmp_path / "sv_plugin_demo.py"
    pkg.write_text(textwrap.dedent('''
        class Plugin:
            name = "plugin-demo"
            layout = "dwpose"
            def __init__(self, **config): self.config = config
            def __call__(self, frames): return []
            def reset(self): pass
            def close(self): pass
    '''))
    dist = tmp_path / "sv_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sv-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[signverse.estimators]\nplugin-demo = sv_plugin_demo:Plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(est_mod, "_entry_points_loaded", False)
    try:
        assert "plugin-demo" in list_estimators()
        plugin = get_estimator("plugin-demo", threshold=0.5)
        assert plugin.config == {"threshold": 0.5} and "sv_plugin_demo" in sys.modules
    finally:
        ESTIMATORS._items.pop("plugin-demo", None)
        sys.modules.pop("sv_plugin_demo", None)


def test_stack_frames_pads_people():
    k = 128
    frames = [(np.ones((2, k, 2), np.float32), np.ones((2, k), np.float32)),
              (np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)),
              (np.full((1, k, 2), 5, np.float32), np.full((1, k), 0.5, np.float32))]
    seq = stack_frames(frames, fps=24, width=100, height=50, layout="dwpose")
    assert (seq.n_frames, seq.n_persons, seq.n_points) == (3, 2, 128)
    assert seq.persons_per_frame().tolist() == [2, 0, 1]
    assert np.isnan(seq.xy[2, 1]).all()
    one = stack_frames(frames, fps=24, width=100, height=50, layout="dwpose", max_persons=1)
    assert one.n_persons == 1
    assert isinstance(BackendInfo("x", "y", "z").to_dict(), dict)


def test_backend_table_for_the_cli():
    from signverse.estimators import format_backends
    text = format_backends(describe_estimators())
    assert "mediapipe" in text and "coco-wholebody" in text and "available" in text

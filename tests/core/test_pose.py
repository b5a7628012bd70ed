import numpy as np
import pytest

from signverse.core import InputError, PoseSeq, Registry, SignverseError
from signverse.core.errors import MissingDependency, require


def make(T=4, P=2, K=3):
    rng = np.random.default_rng(0)
    return PoseSeq(rng.random((T, P, K, 2)) * 100, np.ones((T, P, K)), fps=25, width=100, height=80,
                   layout="dwpose")


def test_missing_is_one_invariant():
    xy = np.zeros((2, 1, 3, 2), np.float32)
    xy[0, 0, 1] = np.nan
    conf = np.ones((2, 1, 3), np.float32)
    conf[1, 0, 2] = 0
    pose = PoseSeq(xy, conf, fps=24, width=10, height=10, layout="dwpose")
    assert pose.conf[0, 0, 1] == 0 and np.isnan(pose.xy[1, 0, 2]).all()
    assert pose.valid.sum() == 4
    # the caller's arrays are untouched
    assert np.isnan(xy).sum() == 2 and xy[1, 0, 2, 0] == 0 and conf[1, 0, 2] == 0 and conf[0, 0, 1] == 1


def test_shape_checks():
    with pytest.raises(SignverseError, match="xy must be"):
        PoseSeq(np.zeros((2, 3, 2)), np.zeros((2, 3)), fps=24, width=1, height=1, layout="x")
    with pytest.raises(SignverseError, match="conf must be"):
        PoseSeq(np.zeros((2, 1, 3, 2)), np.zeros((2, 3)), fps=24, width=1, height=1, layout="x")
    with pytest.raises(SignverseError, match="fps"):
        PoseSeq(np.zeros((2, 1, 3, 2)), np.zeros((2, 1, 3)), fps=0, width=1, height=1, layout="x")


def test_slicing_and_times():
    pose = make()
    assert pose.frames(1, 3).n_frames == 2
    assert pose.persons(1).n_persons == 1
    assert np.allclose(pose.times(), [0, 0.04, 0.08, 0.12])
    assert pose.persons_per_frame().tolist() == [2, 2, 2, 2]
    empty = PoseSeq.empty(3, 1, 5, fps=24, width=1, height=1, layout="x")
    assert empty.persons_per_frame().tolist() == [0, 0, 0]


def test_registry_and_errors():
    reg = Registry[int]("thing")
    reg.register("a", 1)
    with pytest.raises(SignverseError, match="already registered"):
        reg.register("a", 2)
    with pytest.raises(SignverseError, match="unknown thing 'b' \\(known: a\\)"):
        reg["b"]
    assert str(InputError("x.npz", "truncated")) == "x.npz: truncated"
    with pytest.raises(MissingDependency, match=r"pip install 'signverse\[store\]'"):
        require("definitely_not_a_module_xyz", "store")

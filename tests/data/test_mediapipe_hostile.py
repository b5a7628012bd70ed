"""Hostile ISLR signer files and MP_Data frames (found by fuzzing).

A truncated signer .npz raised zipfile.BadZipFile, which is not an InputError, so ``load_islr``
stopped the whole batch instead of skipping that signer; a 2.6 MB deflate bomb inflated to 2.6 GB
and was read; an .npy header claiming 6 TB raised MemoryError; a frame of strings or an inf
visibility went through as a pose.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from bounded import assert_bounded, run_bounded
from signverse.core.errors import InputError
from signverse.data.mediapipe import MP_VECTOR_SIZE, load_islr, read_islr_npz, read_mp_data, vectors_to_pose


def _good(path, n=2, t=5):
    x = np.zeros((n, t, MP_VECTOR_SIZE), np.float16)
    x[..., 0:2] = 0.5
    x[..., 3] = 0.9
    np.savez(path, x=x, y=np.array([f"w{i}" for i in range(n)]))
    return path


def _npy_header(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_a_truncated_signer_file_is_skipped_and_the_rest_load(tmp_path, caplog):
    _good(tmp_path / "alice__repo.npz")
    data = _good(tmp_path / "bob__repo.npz").read_bytes()
    (tmp_path / "bob__repo.npz").write_bytes(data[:len(data) // 2])
    samples = load_islr(tmp_path)
    assert {s.signer for s in samples} == {"alice__repo"} and len(samples) == 2
    assert "bob__repo.npz" in caplog.text
    with pytest.raises(InputError, match="bob__repo.npz") as err:
        read_islr_npz(tmp_path / "bob__repo.npz")
    assert "\n" not in str(err.value)


def test_huge_declared_shape_is_a_one_line_error(tmp_path):
    path = tmp_path / "eve__shape.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", _npy_header((10 ** 6, 1000, MP_VECTOR_SIZE)) + b"\0" * 100)
        zf.writestr("y.npy", _npy(np.array(["a"])))
    with pytest.raises(InputError, match="truncated"):
        read_islr_npz(path)


def test_deflate_bomb_is_refused_within_bounds(tmp_path):
    path = tmp_path / "mallory__bomb.npz"
    shape = (40, 2000, MP_VECTOR_SIZE)   # 532 MB of zeros in about 0.5 MB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as member:
            member.write(_npy_header(shape))
            chunk = bytes(1 << 22)
            left = int(np.prod(shape)) * 4
            while left > 0:
                member.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
        zf.writestr("y.npy", _npy(np.array(["a"] * shape[0])))
    code = ("from signverse.data.mediapipe import read_islr_npz\n"
            "from signverse.core.errors import InputError\n"
            f"try:\n    read_islr_npz({str(path)!r})\n"
            "except InputError as exc:\n    print(exc)\n")
    result = run_bounded(["-c", code])
    assert_bounded(result, "islr deflate bomb")
    assert "more than it can honestly hold" in result.stdout and "mallory__bomb.npz" in result.stdout


def test_string_keypoints_are_refused(tmp_path):
    path = tmp_path / "trent__strings.npz"
    np.savez(path, x=np.full((1, 2, MP_VECTOR_SIZE), "a"), y=np.array(["w"]))
    with pytest.raises(InputError, match="must be numbers"):
        read_islr_npz(path)


def test_mp_data_frame_of_strings_is_skipped(tmp_path, caplog):
    seq = tmp_path / "MP_Data" / "hello" / "0"
    seq.mkdir(parents=True)
    for i in range(2):
        np.save(seq / f"{i}.npy", np.array(["x"] * MP_VECTOR_SIZE))
    assert read_mp_data(tmp_path / "MP_Data") == []
    assert "numeric keypoint vector" in caplog.text and "0.npy" in caplog.text


def test_infinite_visibility_is_a_missing_point():
    x = np.zeros((1, MP_VECTOR_SIZE), np.float32)
    body = x[0, :132].reshape(33, 4)
    body[:, :2] = 0.5
    body[:, 3] = 0.9
    body[3, 3] = np.inf
    pose = vectors_to_pose(x)
    assert np.isfinite(pose.conf).all()
    assert not pose.valid[0, 0, 3] and pose.valid[0, 0, :33].sum() == 32


def test_many_small_bombs_under_the_floor_are_refused_together(tmp_path, caplog):
    """Each signer file may inflate to the 64 MiB decode floor whatever its size, and load_islr
    keeps them all: three 30 KB files of 30 MB each were read in full. When the folder's files
    together exceed the budget, the files that inflate beyond the ratio are skipped."""
    _good(tmp_path / "alice__repo.npz")
    bomb = tmp_path / "mallory__0.npz"
    shape = (1, 4500, MP_VECTOR_SIZE)   # 30 MB of float32 zeros
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as member:
            member.write(_npy_header(shape))
            member.write(bytes(int(np.prod(shape)) * 4))
        zf.writestr("y.npy", _npy(np.array(["a"])))
    for i in (1, 2):
        (tmp_path / f"mallory__{i}.npz").write_bytes(bomb.read_bytes())
    samples = load_islr(tmp_path)
    assert {s.signer for s in samples} == {"alice__repo"}
    assert caplog.text.count("exceed the decode budget") == 3
    with pytest.raises(InputError, match="mallory__0.npz.*exceed the decode budget"):
        load_islr(tmp_path, errors="raise")
    # each bomb alone is within the floor: read on its own, as before
    assert len(read_islr_npz(bomb)) == 1

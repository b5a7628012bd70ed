"""Safe decoding of release .npz files: hostile pickles are refused before anything runs."""
from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from signverse.core.errors import InputError
from signverse.io.signverse2m import load_npz, read_poses_npz
from signverse.io.signverse2m.safe_npz import RawArray, safe_unpickle


def _payload(n_persons=1):
    d = {"num_persons": np.array(n_persons, np.int32), "frame_width": np.array(512, np.int32),
         "frame_height": np.array(512, np.int32)}
    for p in range(n_persons):
        for part, k in (("body", 18), ("face", 68), ("left_hand", 21), ("right_hand", 21)):
            d[f"person_{p:03d}_{part}_keypoints"] = np.full((k, 2), 0.5, np.float32)
            d[f"person_{p:03d}_{part}_scores"] = (np.arange(k, dtype=np.float32) + 18 * p
                                                  if part == "body" else np.full(k, 0.9, np.float32))
    return d


def _npz(path, payloads, **top):
    arr = np.empty(len(payloads), dtype=object)
    for i, p in enumerate(payloads):
        arr[i] = p
    n = len(payloads)
    values = dict(video_id=np.array("vid"), fps=np.array(24, np.int32), total_frames=np.array(n, np.int32),
                  frame_widths=np.full(n, 512, np.int32), frame_heights=np.full(n, 512, np.int32),
                  frame_indices=np.arange(1, n + 1, dtype=np.int32), frame_payloads=arr)
    values.update(top)
    values = {k: v for k, v in values.items() if v is not None}
    np.savez(path, **values)
    return path


class _Evil:
    """Pickles as a call to ``func(*args)``: what a hostile file would contain."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("how", ["system", "exec", "eval"])
def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path, how):
    import builtins
    marker = tmp_path / "pwned"
    cmd = {"system": (os.system, f"touch {marker}"),
           "exec": (builtins.exec, f"open({str(marker)!r}, 'w').close()"),
           "eval": (builtins.eval, f"open({str(marker)!r}, 'w').close()")}[how]
    payload = _payload()
    payload["person_000_body_scores"] = _Evil(*cmd)
    path = _npz(tmp_path / "poses.npz", [payload])
    with pytest.raises(InputError) as err:
        read_poses_npz(path)
    msg = str(err.value)
    assert str(path) in msg and "refused: pickled data references" in msg and "\n" not in msg
    assert {"system": "system", "exec": "builtins.exec", "eval": "builtins.eval"}[how] in msg
    assert not marker.exists()
    # The fixture really is hostile: numpy's own loader runs it (this is our file, in tmp_path).
    with np.load(path, allow_pickle=True) as data:
        data["frame_payloads"]
    assert marker.exists()


def test_other_classes_and_callables_are_refused(tmp_path):
    import collections
    import subprocess
    for value in (collections.OrderedDict(a=1), _Evil(subprocess.call, ["true"]),
                  _Evil(np.load, "x.npy"), complex(1, 2), np.float32):
        payload = _payload()
        payload["extra"] = value
        path = _npz(tmp_path / "p.npz", [payload])
        with pytest.raises(InputError, match="refused: pickled data references"):
            load_npz(path)
    # A set is plain data (no global involved): it decodes.
    payload = _payload()
    payload["extra"] = {1, 2}
    assert load_npz(_npz(tmp_path / "s.npz", [payload]))["frame_payloads"][0]["extra"] == {1, 2}


def test_reconstruct_only_accepts_ndarray():
    # _reconstruct(numpy.dtype, ...) -- admitted names, but not an array: refused, not executed.
    stream = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85C\x01b\x87R.")
    with pytest.raises(pickle.UnpicklingError):
        safe_unpickle(stream)
    # BUILD on an admitted function must not set attributes on it.
    stream = b"\x80\x02cnumpy\ndtype\n}U\x0b__defaults__(K\x01tsb."
    with pytest.raises(pickle.UnpicklingError):
        safe_unpickle(stream)
    # NEWOBJ on the admitted array class gives an object without state: refused when used.
    stream = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n)\x81."
    with pytest.raises(pickle.UnpicklingError):
        safe_unpickle(stream)


def test_numpy1_style_pickle_is_read(tmp_path):
    """numpy 1.x wrote protocol 3 with ``numpy.core.multiarray`` names and np.int32 scalars."""
    payload = _payload()
    payload["num_persons"] = np.int32(1)          # a numpy scalar -> multiarray.scalar
    arr = np.empty(1, dtype=object)
    arr[0] = payload
    stream = pickle.dumps(arr, protocol=3).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray\nscalar" in stream and b"numpy._core" not in stream
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    path = tmp_path / "old.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("frame_payloads.npy", header.getvalue() + stream)
        for key, value in {"fps": np.array(24, np.int32), "video_id": np.array("old")}.items():
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(f"{key}.npy", buf.getvalue())
    pose = read_poses_npz(path)
    assert pose.n_frames == 1 and pose.valid[0, 0].all()
    np.testing.assert_allclose(pose.xy[0, 0], 256.0)


def test_protocol5_frombuffer_is_read():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    stream = pickle.dumps({"a": arr}, protocol=5)
    assert b"_frombuffer" in stream
    out = safe_unpickle(stream)
    assert isinstance(out["a"], RawArray)
    np.testing.assert_array_equal(out["a"].array(), arr)


def _single_line_error(path, match):
    with pytest.raises(InputError) as err:
        read_poses_npz(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg, msg
    assert match in msg, msg


def test_truncated_and_corrupt_files(tmp_path):
    good = _npz(tmp_path / "good.npz", [_payload(), _payload()])
    data = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    _single_line_error(trunc, "not a readable .npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04" + os.urandom(300))
    _single_line_error(junk, "not a readable .npz")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    _single_line_error(empty, "not a readable .npz")
    _single_line_error(tmp_path / "missing.npz", "no such file")
    # A damaged pickle stream inside an intact zip.
    bad = tmp_path / "badpickle.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            raw = src.read(info)
            dst.writestr(info.filename, raw[:-40] if info.filename == "frame_payloads.npy" else raw)
    _single_line_error(bad, "frame_payloads.npy")


def test_missing_keys_wrong_shapes_nans(tmp_path):
    _single_line_error(_npz(tmp_path / "nofps.npz", [_payload()], fps=None), "missing key 'fps'")
    _single_line_error(_npz(tmp_path / "nopl.npz", [_payload()], frame_payloads=None),
                       "missing key 'frame_payloads'")
    p = _payload()
    p["person_000_body_keypoints"] = np.zeros((17, 2), np.float32)
    _single_line_error(_npz(tmp_path / "shape.npz", [_payload(), p]), "person_000_body_keypoints")
    p = _payload()
    p["person_000_face_scores"][3] = np.nan
    _single_line_error(_npz(tmp_path / "nan.npz", [p]), "NaN")
    p = _payload(1)
    p["num_persons"] = np.array(2, np.int32)      # claims a second person that is not there
    _single_line_error(_npz(tmp_path / "persons.npz", [p]), "'person_001_body_keypoints' is missing")
    _single_line_error(_npz(tmp_path / "notdict.npz", [_payload(), [1, 2]]), "not a dict")
    _single_line_error(_npz(tmp_path / "fps0.npz", [_payload()], fps=np.array(0, np.int32)), "bad fps")


def test_random_damage_gives_only_input_errors():
    """Bytes flipped, cut or inserted anywhere: the reader either reads or raises InputError."""
    import random
    from signverse.core.pose import PoseSeq
    from signverse.io.signverse2m import poses_npz_bytes
    rng = np.random.default_rng(0)
    pose = PoseSeq(rng.uniform(0, 500, (3, 2, 128, 2)).astype(np.float32),
                   rng.uniform(0.3, 1, (3, 2, 128)).astype(np.float32), fps=24, width=512, height=512,
                   layout="dwpose")
    good = poses_npz_bytes(pose, video_id="x")
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    rand = random.Random(3)
    errors = 0
    for _ in range(300):
        target = rand.choice(list(members)) if rand.random() < 0.3 else "frame_payloads.npy"
        damaged = bytearray(members[target])
        for _ in range(rand.randint(1, 4)):
            at = rand.randrange(len(damaged))
            if rand.random() < 0.6:
                damaged[at] = rand.randrange(256)
            else:
                del damaged[at:at + rand.randint(1, 20)]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, bytes(damaged) if name == target else data)
        try:
            read_poses_npz(buf.getvalue(), name="fuzz.npz")
        except InputError as exc:
            assert str(exc).startswith("fuzz.npz: ") and "\n" not in str(exc)
            errors += 1
    assert errors > 150

"""Hostile release files whose claims exceed what they hold: memory and time stay bounded.

Each case builds a small file in tmp_path and runs ``signverse info`` on it in a fresh, capped
interpreter (see tests/bounded.py): the result is a one-line error (or a correct reading) with
peak RSS under 400 MB and under 30 s. ``pytest -s`` prints the figures.
"""
from __future__ import annotations

import io
import pickle
import struct
import tarfile
import zipfile
import zlib

import numpy as np
import pytest

from bounded import assert_bounded, run_bounded
from signverse.core import InputError
from signverse.io.signverse2m import load_npz, open_release, read_poses_npz

PARTS = (("body", 18), ("face", 68), ("left_hand", 21), ("right_hand", 21))


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _npz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return buf.getvalue()


def _person(p: int, shared: dict | None = None) -> dict:
    """One person's 8 arrays; with ``shared``, every person references the same arrays (pickle
    memo), so a file can claim many persons in a few bytes each."""
    if shared is None:
        shared = {}
        for part, k in PARTS:
            shared[f"{part}_keypoints"] = np.full((k, 2), 0.5, np.float32)
            shared[f"{part}_scores"] = np.full(k, 0.9, np.float32) if part != "body" else \
                np.arange(k, dtype=np.float32)
    return {f"person_{p:03d}_{key}": value for key, value in shared.items()}


def _poses_npz(payloads: list, indices=None) -> bytes:
    n = len(payloads)
    arr = np.empty(n, dtype=object)
    for i, payload in enumerate(payloads):
        arr[i] = payload
    return _npz_bytes({
        "video_id": _npy(np.array("hostile")), "fps": _npy(np.array(24, np.int32)),
        "total_frames": _npy(np.array(n, np.int32)),
        "frame_widths": _npy(np.full(n, 512, np.int32)), "frame_heights": _npy(np.full(n, 512, np.int32)),
        "frame_indices": _npy(np.asarray(range(1, n + 1) if indices is None else indices, np.int32)),
        "frame_payloads": _npy(arr)})


def _frame(num: int, persons: dict | None = None) -> dict:
    out = {"num_persons": np.array(num, np.int32), "frame_width": np.array(512, np.int32),
           "frame_height": np.array(512, np.int32)}
    out.update(persons or {})
    return out


def _info(path, **kw):
    return run_bounded(["-m", "signverse", "info", str(path)], **kw)


def _one_line_error(result, *words):
    assert result.returncode in (1, 2), str(result)
    text = result.stdout + result.stderr
    for word in words:
        assert word in text, str(result)


# -- tar shards ----------------------------------------------------------------------------------

def _sparse_tar(path, realsize=4 << 30):
    """A ~10 KB tar whose PAX (GNU 1.0) sparse member claims ``realsize`` bytes of poses.npz."""
    sparse_map = f"1\n{realsize - 1}\n1\n".encode().ljust(512, b"\0")
    data = sparse_map + b"x"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("vid00000001/npz/GNUSparseFile.0/poses.npz")
        info.size = len(data)
        info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                            "GNU.sparse.name": "vid00000001/npz/poses.npz",
                            "GNU.sparse.realsize": str(realsize)}
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def test_sparse_tar_member_is_refused_without_inflating(tmp_path):
    path = _sparse_tar(tmp_path / "Sign_DWPose_NPZ_000001.tar")
    assert path.stat().st_size < 16 << 10
    release = open_release(path)
    assert list(release) == []
    assert any("sparse" in f.problem for f in release.failures), release.failures
    result = _info(path)
    assert_bounded(result, "sparse tar member claiming 4 GiB (10 KB file)")
    _one_line_error(result, "sparse member")


def test_member_larger_than_the_file_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("vid00000002/npz/poses.npz")
        info.size = 3 << 30
        tar.addfile(info)   # header only: the data is not there
    path = tmp_path / "cut.tar"
    path.write_bytes(buf.getvalue()[:2048])
    release = open_release(path)
    assert list(release) == [] and "claims 3221225472 bytes" in str(release.failures[-1])


def test_duplicate_member_names_warn_and_the_last_copy_wins(tmp_path, caplog):
    from signverse.io.signverse2m import poses_npz_bytes
    from signverse.core import PoseSeq
    rng = np.random.default_rng(0)
    poses = [PoseSeq(rng.uniform(0, 500, (n, 1, 128, 2)).astype(np.float32), np.ones((n, 1, 128), np.float32),
                     fps=24, width=512, height=512, layout="dwpose") for n in (3, 5)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [("v1/npz/poses.npz", poses_npz_bytes(poses[0], video_id="v1")),
                           ("v1/npz/poses.npz", poses_npz_bytes(poses[1], video_id="v1")),
                           ("v1/captions/v1.en.vtt", b"WEBVTT\n"), ("v1/captions/v1.en.vtt", b"WEBVTT\n\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "dup.tar"
    path.write_bytes(buf.getvalue())
    with caplog.at_level("WARNING"):
        (video,) = list(open_release(path))
    assert video.pose.n_frames == 5   # the last copy
    warnings = [r.getMessage() for r in caplog.records if "occurs more than once" in r.getMessage()]
    assert len(warnings) == 1 and "v1/npz/poses.npz" in warnings[0]
    assert any("2 member names occurred more than once" in r.getMessage() for r in caplog.records)


def test_folder_symlinks_inside_a_release_folder_are_refused(tmp_path):
    from signverse.io.signverse2m import ShardWriter, write_video_folder
    from signverse.core import PoseSeq
    pose = PoseSeq(np.full((3, 1, 128, 2), 10, np.float32), np.ones((3, 1, 128), np.float32), fps=24,
                   width=64, height=64, layout="dwpose")
    elsewhere = write_video_folder(tmp_path / "elsewhere", "victim", pose)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.captions.json").write_text('{"languages": {}}')
    (secret / "vid.en.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nsecret\n")
    root = tmp_path / "release"
    linked = root / "vid"
    linked.mkdir(parents=True)
    (linked / "npz").symlink_to(elsewhere / "npz", target_is_directory=True)
    real = write_video_folder(root, "vid2", pose)
    (real / "captions").symlink_to(secret, target_is_directory=True)
    release = open_release(root)
    videos = {v.video_id: v for v in release}
    assert "vid" not in videos and videos["vid2"].captions is None and videos["vid2"].vtt == {}
    problems = {f.member: f.problem for f in release.failures}
    assert problems.get("npz") == "symbolic link refused" and problems.get("captions") == "symbolic link refused"
    with pytest.raises(InputError, match="symbolic link refused"):
        read_poses_npz(linked)
    with ShardWriter(tmp_path / "shards") as shards, pytest.raises(InputError, match="symbolic link"):
        shards.add_folder(real)


# -- npz members ---------------------------------------------------------------------------------

def _deflated_zip(path, members: int, member_bytes: int, ratio: float) -> None:
    """A zip of ``members`` valid .npy members of ``member_bytes`` each, deflated at ~``ratio``;
    compressed once and written ``members`` times, so building it takes well under a second."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (member_bytes - 128,)})
    header = header.getvalue()
    assert len(header) == 128
    rng = np.random.default_rng(0)

    def deflate(raw: bytes) -> bytes:
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        return comp.compress(raw) + comp.flush()

    def body(size: int, step: int) -> bytes:   # one random byte in every ``step``
        out = np.zeros(size, np.uint8)
        out[::step] = rng.integers(1, 255, len(out[::step]), dtype=np.uint8)
        return out.tobytes()

    step = 100
    for _ in range(6):   # calibrate the step on 4 MiB samples
        sample = body(4 << 20, step)
        step = max(2, int(step * (ratio * 0.97) / (len(sample) / len(deflate(sample)))))
    raw = header + body(member_bytes - 128, step)
    data = deflate(raw)
    assert 0.75 * ratio < len(raw) / len(data) < min(200, ratio), len(raw) / len(data)
    crc = zlib.crc32(raw)
    local, central, offset = [], [], 0
    for i in range(members):
        name = f"a{i:02d}.npy".encode()
        head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), len(raw),
                           len(name), 0) + name
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data),
                                   len(raw), len(name), 0, 0, 0, 0, 0, offset) + name)
        local.append(head + data)
        offset += len(head) + len(data)
    cd = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, members, members, len(cd), offset, 0)
    path.write_bytes(b"".join(local) + cd + end)


def test_npz_members_just_under_the_ratio_limit_are_refused_before_inflating(tmp_path):
    path = tmp_path / "poses.npz"
    _deflated_zip(path, 20, 64 << 20, ratio=199)
    assert path.stat().st_size < 10 << 20
    with pytest.raises(InputError, match="more than it can honestly hold"):
        load_npz(path)
    result = run_bounded(["-c", "import sys\nfrom signverse.core import SignverseError\n"
                          "from signverse.io.signverse2m import load_npz\n"
                          "try:\n    load_npz(sys.argv[1])\nexcept SignverseError as exc:\n"
                          "    print(exc); sys.exit(2)", str(path)])
    assert_bounded(result, "npz: 20 x 64 MiB members at ratio ~199")
    _one_line_error(result, "more than it can honestly hold")
    result = _info(path)   # the pose reader does not even open members it does not use
    assert_bounded(result, "npz (info): 20 x 64 MiB members at ratio ~199")
    _one_line_error(result, "missing key 'frame_payloads'")


def test_duplicate_npz_member_is_refused(tmp_path):
    data = _npz_bytes({"fps": _npy(np.array(24, np.int32))})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        member = zf.read("fps.npy")
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf, pytest.warns(UserWarning):
        zf.writestr("fps.npy", member)
    with pytest.raises(InputError, match="fps.npy appears twice"):
        load_npz(buf.getvalue())


# -- pickled payloads ----------------------------------------------------------------------------

def _shared_nest(levels: int) -> np.ndarray:
    """An object array whose two items are the same array, ``levels`` deep: 2**levels leaves."""
    node = np.full((18, 2), 0.5, np.float32)
    for _ in range(levels):
        parent = np.empty(2, dtype=object)
        parent[0] = parent[1] = node
        node = parent
    return node


@pytest.mark.parametrize("levels", [22, 40])
def test_shared_references_deep_in_a_payload(tmp_path, levels):
    person = _person(0)
    person["person_000_body_keypoints"] = _shared_nest(levels)
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([_frame(1, person)]))
    assert path.stat().st_size < 64 << 10
    result = _info(path)
    assert_bounded(result, f"pickle: arrays sharing references {levels} levels deep")
    _one_line_error(result, "person_000_body_keypoints", "not numeric")
    # The general reader materialises each shared array once, and not deeper than the limit.
    top = load_npz(path)["frame_payloads"][0]["person_000_body_keypoints"]
    with pytest.raises(pickle.UnpicklingError, match="nested more than"):
        top.array()


def test_shared_references_within_the_nesting_limit_are_materialised_once():
    from signverse.io.signverse2m.safe_npz import safe_unpickle
    value = safe_unpickle(pickle.dumps(_shared_nest(12), protocol=2))
    out = value[0]   # the top-level object array keeps RawArray items
    leaf = out.array()
    for _ in range(10):
        assert leaf[0] is leaf[1]   # one object per stored array, not 2**12 copies
        leaf = leaf[0]


def _deep_list_npz(depth: int) -> bytes:
    """A payload value that is a list nested ``depth`` deep, spliced into the pickle stream by
    hand (Python's own pickler would hit its recursion limit first)."""
    marker = "DEEP" * 4
    person = _person(0)
    person["person_000_face_scores"] = marker
    data = _poses_npz([_frame(1, person)])
    encoded = marker.encode()
    needle = b"\x8c" + bytes([len(encoded)]) + encoded   # SHORT_BINUNICODE (np.save: protocol 4)
    deep = b"]" * depth + b"a" * (depth - 1)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {i.filename[:-4]: zf.read(i) for i in zf.infolist()}
    assert members["frame_payloads"].count(needle) == 1
    members["frame_payloads"] = members["frame_payloads"].replace(needle, deep)
    return _npz_bytes(members)


def test_deeply_nested_lists_are_a_one_line_error(tmp_path):
    path = tmp_path / "poses.npz"
    path.write_bytes(_deep_list_npz(200_000))
    with pytest.raises(InputError, match="person_000_face_scores.*list, not a numeric array"):
        read_poses_npz(path)
    result = _info(path)
    assert_bounded(result, "pickle: a list nested 200,000 deep")
    _one_line_error(result, "list, not a numeric array")


def test_ragged_payload_is_a_one_line_error(tmp_path):
    person = _person(0)
    person["person_000_left_hand_keypoints"] = [[0.1, 0.2], [0.3]] * 10
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([_frame(1, person)]))
    with pytest.raises(InputError, match="left_hand_keypoints.*list, not a numeric array"):
        read_poses_npz(path)


def test_ten_thousand_persons_are_refused_by_the_stated_limit(tmp_path):
    shared = None
    persons = {}
    for p in range(10_000):
        one = _person(p, shared)
        shared = shared or {k.split("_", 2)[2]: v for k, v in one.items()}
        persons.update(one)
    frame = _frame(10_000, persons)
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([frame] * 200))
    result = _info(path)
    assert_bounded(result, "payload: 10,000 persons x 200 shared frames")
    _one_line_error(result, "num_persons is 10000", "SIGNVERSE_MAX_PERSONS")
    # Raising the stated limit lets the honest-size budget refuse it instead.
    result = _info(path, env={"SIGNVERSE_MAX_PERSONS": "20000"})
    assert_bounded(result, "payload: 10,000 persons, persons limit raised")
    _one_line_error(result, "would decode to", "SIGNVERSE_DECODE_RATIO")


def test_frame_index_100001_with_many_persons_is_bounded(tmp_path):
    shared, persons = None, {}
    for p in range(40):
        one = _person(p, shared)
        shared = shared or {k.split("_", 2)[2]: v for k, v in one.items()}
        persons.update(one)
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([_frame(40, persons)], indices=[100_001]))
    result = _info(path)
    assert_bounded(result, "payload: frame index 100,001 x 40 persons")
    _one_line_error(result, "frame_indices", "100001 frames")
    # A gap that fits the budget of a file that size is read correctly.
    path.write_bytes(_poses_npz([_frame(1, _person(0))], indices=[20_001]))
    pose = read_poses_npz(path)
    assert pose.n_frames == 20_001 and pose.valid[20_000].any() and not pose.valid[:20_000].any()


def test_limits_are_overridable_and_validated(tmp_path, monkeypatch):
    from signverse.core import SignverseError
    from signverse.core.limits import MAX_PERSONS
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([_frame(2, {**_person(0), **_person(1)})]))
    assert read_poses_npz(path).n_persons == 2
    monkeypatch.setenv("SIGNVERSE_MAX_PERSONS", "1")
    with pytest.raises(InputError, match="SIGNVERSE_MAX_PERSONS"):
        read_poses_npz(path)
    monkeypatch.setenv("SIGNVERSE_MAX_PERSONS", "many")
    with pytest.raises(SignverseError, match="SIGNVERSE_MAX_PERSONS='many' is not a number"):
        MAX_PERSONS.value()


def test_a_tar_read_from_a_pipe_is_not_measured_against_a_zero_size(tmp_path):
    """The bytes-left check applies to regular files only (a pipe's fstat size is 0)."""
    import os
    import threading
    from signverse.io.signverse2m import ShardWriter
    from signverse.io.signverse2m.release import Release, iter_tar_videos
    from signverse.core import PoseSeq
    pose = PoseSeq(np.full((3, 1, 128, 2), 10, np.float32), np.ones((3, 1, 128), np.float32), fps=24,
                   width=64, height=64, layout="dwpose")
    with ShardWriter(tmp_path) as shards:
        shards.add_video("piped01", pose)
    data = (tmp_path / "Sign_DWPose_NPZ_000001.tar").read_bytes()
    read_end, write_end = os.pipe()

    def feed():
        with os.fdopen(write_end, "wb") as w:
            w.write(data)
    thread = threading.Thread(target=feed)
    thread.start()
    release = Release(tmp_path)
    with os.fdopen(read_end, "rb") as r:
        videos = list(iter_tar_videos(r, name="<pipe>", release=release))
    thread.join()
    assert [v.video_id for v in videos] == ["piped01"] and not release.failures


def test_one_payload_referenced_a_million_times_is_refused_early(tmp_path):
    frame = _frame(1, _person(0))
    path = tmp_path / "poses.npz"
    path.write_bytes(_poses_npz([frame] * 1_000_000))
    assert path.stat().st_size < 24 << 20
    result = _info(path)
    assert_bounded(result, "payload: one frame referenced 1,000,000 times")
    _one_line_error(result, "1000000 frames x 1 persons would decode to")


def test_per_frame_files_each_under_the_floor_are_bounded_together(tmp_path):
    """Found by fuzzing: load_npz lets any one file inflate to the 64 MiB floor, and the per-frame
    variant keeps every frame's arrays: 40 files of 62 KB (each a 60 MB member of zeros) took
    2.4 GB. The folder's files are now bounded together, from their zip directories."""
    member = io.BytesIO()
    with zipfile.ZipFile(member, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in _frame(0).items():
            zf.writestr(f"{key}.npy", _npy(value))
        with zf.open("padding.npy", "w", force_zip64=True) as out:
            np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False,
                                                       "shape": (7_500_000,)})
            out.write(bytes(30_000_000))
    folder = tmp_path / "vid00000001" / "npz"
    folder.mkdir(parents=True)
    for i in range(1, 25):   # 24 x 30 MB = 720 MB
        (folder / f"{i:08d}.npz").write_bytes(member.getvalue())
    result = _info(folder.parent)
    assert_bounded(result, "per-frame files under the floor")
    _one_line_error(result, "per-frame files inflate to", "vid00000001")

import numpy as np
import pytest

import signverse
from signverse.core.errors import InputError
from signverse.data import load_samples, pose_to_vectors, read_mp_data, vectors_to_pose
from signverse.data.loaders import detect_source
from signverse.data.mediapipe import MP_VECTOR_SIZE, read_islr_npz


def frame_vector(t=0, right_hand=False):
    """One 1662 vector: body (33 x 4) with a known nose and shoulders, no face, a left hand."""
    v = np.zeros(MP_VECTOR_SIZE, np.float32)
    body = v[:132].reshape(33, 4)
    body[:, :2] = 0.5
    body[:, 3] = 0.9
    body[0] = [0.5, 0.25, -0.1, 0.8]         # nose
    body[11] = [0.6 + 0.01 * t, 0.5, 0, 0.95]  # left shoulder
    body[12] = [0.4, 0.5, 0, 0.97]           # right shoulder
    left = v[1536:1599].reshape(21, 3)
    left[:, 0] = np.linspace(0.6, 0.7, 21)
    left[:, 1] = 0.6
    if right_hand:
        right = v[1599:1662].reshape(21, 3)
        right[:, :2] = 0.3
    return v


def test_vectors_to_pose_mapping():
    x = np.stack([frame_vector(0), frame_vector(1, right_hand=True)])
    pose = vectors_to_pose(x)                   # nominal 640 x 480
    assert pose.layout == "mediapipe-holistic" and pose.xy.shape == (2, 1, 543, 2)
    assert (pose.width, pose.height) == (640, 480)
    # nose (0.5, 0.25) -> (320, 120) px, conf = visibility 0.8
    np.testing.assert_allclose(pose.xy[0, 0, 0], [320, 120])
    assert pose.conf[0, 0, 0] == pytest.approx(0.8)
    # face all zero -> missing; left hand present -> conf 1; right hand only in frame 1
    assert not pose.valid[:, 0, 33:501].any()
    assert pose.conf[0, 0, 501:522].tolist() == [1.0] * 21
    assert not pose.valid[0, 0, 522:].any() and pose.valid[1, 0, 522:].all()
    # normalised coordinates kept when asked
    unit = vectors_to_pose(x, width=1, height=1)
    np.testing.assert_allclose(unit.xy[0, 0, 0], [0.5, 0.25])


def test_roundtrip_and_dwpose():
    x = np.stack([frame_vector(t, right_hand=t % 2 == 0) for t in range(4)])
    x[:, 1536:1599].reshape(4, 21, 3)[..., 2] = np.linspace(-0.05, 0.05, 21)   # hand depth
    pose = vectors_to_pose(x)
    # z is kept in the pose (times the frame width, like x) and written back
    np.testing.assert_allclose(pose.z[0, 0, 0], -0.1 * 640)
    np.testing.assert_allclose(pose.z[0, 0, 501:522], np.linspace(-0.05, 0.05, 21) * 640, rtol=1e-5)
    assert np.isnan(pose.z[0, 0, 33:501]).all()                  # no face: no depth either
    back = pose_to_vectors(pose)
    np.testing.assert_allclose(back, x, atol=1e-6)
    # a pose without depth writes z = 0
    flat = pose_to_vectors(pose.replace(z=None))
    assert not flat[:, 1536:1599].reshape(4, 21, 3)[..., 2].any()
    np.testing.assert_allclose(flat[:, 1536:1599].reshape(4, 21, 3)[..., :2],
                               x[:, 1536:1599].reshape(4, 21, 3)[..., :2], atol=1e-6)
    dw = vectors_to_pose(x, layout="dwpose")
    lay = signverse.get_layout("dwpose")
    assert dw.layout == "dwpose" and dw.n_points == 128
    # dwpose neck = midpoint of the shoulders (0.6+0.4)/2 * 640 = 320 in frame 0
    np.testing.assert_allclose(dw.xy[0, 0, lay.anchor("neck")], [320, 240])
    np.testing.assert_allclose(dw.xy[0, 0, lay.anchor("left_hand_root")], [0.6 * 640, 0.6 * 480])


def write_mp_data(root, words=("hello", "thanks"), n_seq=3, n_frames=5):
    for w, word in enumerate(words):
        for s in range(n_seq):
            d = root / word / str(s)
            d.mkdir(parents=True)
            for f in range(n_frames + s):        # lengths 5, 6, 7
                np.save(d / f"{f}.npy", frame_vector(f + w).astype(np.float64))


def test_read_mp_data_folder(tmp_path):
    root = tmp_path / "MP_Data"
    write_mp_data(root)
    assert detect_source(root) == "mp_data"
    samples = load_samples(root, signer="me")
    assert [s.sample_id for s in samples][:3] == ["me/hello/0", "me/hello/1", "me/hello/2"]
    assert [s.n_frames for s in samples] == [5, 6, 7, 5, 6, 7]
    assert {s.label for s in samples} == {"hello", "thanks"} and samples[0].signer == "me"
    pose = samples[4].pose
    assert pose.n_frames == 6 and pose.layout == "mediapipe-holistic"
    # frame 3 of thanks/1 was written from frame_vector(3 + 1): left shoulder x = 0.64 -> 409.6 px
    assert pose.xy[3, 0, 11, 0] == pytest.approx(0.64 * 640, rel=1e-5)


def test_mp_data_bad_sequences_are_skipped_or_raised(tmp_path, caplog):
    root = tmp_path / "MP_Data"
    write_mp_data(root, words=("yes",), n_seq=2)
    gap = root / "yes" / "7"
    gap.mkdir()
    for f in (0, 1, 3):                          # frame 2 missing
        np.save(gap / f"{f}.npy", frame_vector())
    wrong = root / "yes" / "8"
    wrong.mkdir()
    np.save(wrong / "0.npy", np.zeros(258))      # hands+pose-only vector: another layout
    samples = read_mp_data(root)
    assert [s.sample_id for s in samples] == ["yes/0", "yes/1"]
    assert "yes/7" in caplog.text and "258" in caplog.text
    with pytest.raises(InputError, match=r"yes[/\\]7.*missing \[2\]"):
        read_mp_data(root, errors="raise")


def test_packed_npz_variants(tmp_path):
    a = np.stack([frame_vector(t) for t in range(4)]).astype(np.float16)
    b = np.stack([frame_vector(t) for t in range(6)]).astype(np.float16)
    np.savez(tmp_path / "alice__repo.npz", x_0000=a, x_0001=b, y=np.array(["hello", "yes"]),
             seq_ids=np.array(["MP_Data/hello/0", "MP_Data/yes/0"]))
    np.savez(tmp_path / "bob__repo.npz", x=np.stack([a, a]), y=np.array(["no", "no"]))
    (tmp_path / "carol__broken.npz").write_bytes(b"not a zip")
    # object arrays need pickle: refused, never unpickled
    np.savez(tmp_path / "dave__pickle.npz", x=np.stack([a]), y=np.array([{"a": 1}], dtype=object))
    samples = load_samples(tmp_path)
    assert sorted({s.signer for s in samples}) == ["alice__repo", "bob__repo"]
    alice = [s for s in samples if s.signer == "alice__repo"]
    assert [s.n_frames for s in alice] == [4, 6] and alice[1].label == "yes"
    assert alice[0].sample_id == "alice__repo/MP_Data/hello/0"
    assert [s.sample_id for s in samples if s.signer == "bob__repo"] == ["bob__repo/00000", "bob__repo/00001"]
    with pytest.raises(InputError, match="carol__broken"):
        read_islr_npz(tmp_path / "carol__broken.npz")
    with pytest.raises(InputError, match="dave__pickle"):
        read_islr_npz(tmp_path / "dave__pickle.npz")




def test_decompressed_cache(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    a = np.stack([frame_vector(t) for t in range(4)]).astype(np.float16)
    np.savez_compressed(src / "alice__repo.npz", x=np.stack([a, a * 0.5]), y=np.array(["hello", "yes"]),
                        seq_ids=np.array(["MP_Data/hello/0", "MP_Data/yes/0"]))
    cache = tmp_path / "cache"
    first = read_islr_npz(src / "alice__repo.npz", cache_dir=cache)
    assert len(list(cache.glob("alice__repo-*/done"))) == 1
    second = read_islr_npz(src / "alice__repo.npz", cache_dir=cache)
    assert [s.sample_id for s in second] == [s.sample_id for s in first]
    assert [s.label for s in second] == ["hello", "yes"]
    np.testing.assert_array_equal(second[1].pose.xy, first[1].pose.xy)
    # a changed source file gets a new cache entry, never the stale one
    np.savez_compressed(src / "alice__repo.npz", x=np.stack([a]), y=np.array(["no"]),
                        seq_ids=np.array(["MP_Data/no/0"]))
    third = read_islr_npz(src / "alice__repo.npz", cache_dir=cache)
    assert [s.label for s in third] == ["no"]

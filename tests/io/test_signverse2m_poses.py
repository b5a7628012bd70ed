"""poses.npz: the reader's repairs, frame placement, the per-frame variant, and writer round trips."""
from __future__ import annotations

import numpy as np
import pytest

from signverse.core.errors import InputError
from signverse.core.pose import PoseSeq
from signverse.io.signverse2m import (read_npz_arrays, read_per_frame_dir, read_poses_npz,
                                      write_poses_npz)

W, H = 512, 640
PARTS = (("body", 18), ("face", 68), ("left_hand", 21), ("right_hand", 21))


def _person(rng, p, hands):
    """One detected person as the release stores it, with given (left, right) hand arrays."""
    body = rng.uniform(0.1, 0.9, (18, 2)).astype(np.float32)
    scores = (18 * p + np.arange(18)).astype(np.float32)
    scores[[3, 10]] = -1                       # two undetected body points
    face = rng.uniform(0.1, 0.9, (68, 2)).astype(np.float32)
    return {"body_keypoints": body, "body_scores": scores, "face_keypoints": face,
            "face_scores": rng.uniform(0.2, 1, 68).astype(np.float32),
            "left_hand_keypoints": hands[0][0], "left_hand_scores": hands[0][1],
            "right_hand_keypoints": hands[1][0], "right_hand_scores": hands[1][1]}


def _hand(rng):
    return rng.uniform(0.1, 0.9, (21, 2)).astype(np.float32), rng.uniform(0.3, 1, 21).astype(np.float32)


def _release_frame(rng, n):
    """A payload written the way the release's code did, and the true hands per person."""
    left = [_hand(rng) for _ in range(n)]
    right = [_hand(rng) for _ in range(n)]
    detector = left + right                   # all left hands first, then all right hands
    payload = {"num_persons": np.array(n, np.int32), "frame_width": np.array(W, np.int32),
               "frame_height": np.array(H, np.int32)}
    for p in range(n):
        stored = _person(rng, p, (detector[2 * p], detector[2 * p + 1]))   # the release's bug
        payload.update({f"person_{p:03d}_{k}": v for k, v in stored.items()})
    return payload, left, right


def _save(path, payloads, indices=None, fps=24):
    arr = np.empty(len(payloads), dtype=object)
    for i, p in enumerate(payloads):
        arr[i] = p
    n = len(payloads)
    np.savez(path, video_id=np.array("abcdefghijk"), fps=np.array(fps, np.int32),
             total_frames=np.array(n, np.int32), frame_widths=np.full(n, W, np.int32),
             frame_heights=np.full(n, H, np.int32),
             frame_indices=np.arange(1, n + 1, dtype=np.int32) if indices is None else indices,
             frame_payloads=arr)
    return path


def test_reader_repairs_hands_and_body_scores(tmp_path):
    rng = np.random.default_rng(1)
    frames = [_release_frame(rng, n) for n in (1, 2, 3, 0, 2)]
    path = _save(tmp_path / "poses.npz", [f[0] for f in frames])
    pose = read_poses_npz(path)
    assert (pose.layout, pose.n_frames, pose.n_persons, pose.n_points) == ("dwpose", 5, 3, 128)
    assert (pose.width, pose.height, pose.fps) == (W, H, 24.0)
    for t, (payload, left, right) in enumerate(frames):
        n = len(left)
        for p in range(n):
            np.testing.assert_allclose(pose.xy[t, p, 86:107], left[p][0] * [W, H], rtol=1e-6)
            np.testing.assert_allclose(pose.conf[t, p, 86:107], left[p][1])
            np.testing.assert_allclose(pose.xy[t, p, 107:128], right[p][0] * [W, H], rtol=1e-6)
            np.testing.assert_allclose(pose.conf[t, p, 107:128], right[p][1])
            body_ok = payload[f"person_{p:03d}_body_scores"] >= 0
            assert (pose.valid[t, p, :18] == body_ok).all() and (pose.conf[t, p, :18][body_ok] == 1).all()
            np.testing.assert_allclose(pose.xy[t, p, 18:86],
                                       payload[f"person_{p:03d}_face_keypoints"] * [W, H], rtol=1e-6)
        assert not pose.valid[t, n:].any()    # absent persons are missing
    # repair=False keeps the stored (mixed-up) hands: person 0 of frame 1 got left hand of person 1.
    raw = read_poses_npz(path, repair=False)
    np.testing.assert_allclose(raw.xy[1, 0, 107:128], frames[1][1][1][0] * [W, H], rtol=1e-6)
    np.testing.assert_allclose(raw.xy[0], pose.xy[0])            # one person: nothing to repair
    arrays = read_npz_arrays(path)
    assert arrays.scores["body"][1, 1, 0] == 18 and arrays.scores["body"][1, 1, 3] == -1
    one = read_poses_npz(path, person=1)
    assert one.n_persons == 1 and np.array_equal(one.conf[:, 0], pose.conf[:, 1], equal_nan=True)


def test_frame_indices_are_not_trusted_blindly(tmp_path):
    rng = np.random.default_rng(2)
    payloads = [_release_frame(rng, 1)[0] for _ in range(4)]
    # Duplicated legacy indices (each written twice) -> payload k is frame k.
    dup = read_poses_npz(_save(tmp_path / "d.npz", payloads, np.repeat(np.arange(1, 5), 2).astype(np.int32)))
    assert dup.n_frames == 4 and dup.valid[:, 0, 0].all()
    empty = read_poses_npz(_save(tmp_path / "e.npz", payloads, np.zeros(0, np.int32)))
    assert empty.n_frames == 4
    # Usable indices with a gap place frames on the timeline (frame 3 missing).
    gap = read_poses_npz(_save(tmp_path / "g.npz", payloads, np.array([1, 2, 4, 5], np.int32)))
    assert gap.n_frames == 5 and not gap.valid[2].any() and gap.valid[[0, 1, 3, 4], 0, 0].all()
    shuffled = read_poses_npz(_save(tmp_path / "s.npz", payloads, np.array([3, 1, 2, 4], np.int32)))
    assert shuffled.n_frames == 4
    np.testing.assert_allclose(shuffled.xy[0], read_poses_npz(tmp_path / "d.npz").xy[0])


def test_per_frame_variant(tmp_path):
    rng = np.random.default_rng(3)
    frames = [_release_frame(rng, n) for n in (2, 1, 1)]
    whole = read_poses_npz(_save(tmp_path / "poses.npz", [f[0] for f in frames], fps=24))
    npz_dir = tmp_path / "vid" / "npz"
    npz_dir.mkdir(parents=True)
    for i, (payload, _, _) in enumerate(frames, 1):
        np.savez(npz_dir / f"{i:08d}.npz", **payload)
    (npz_dir / ".complete").write_text("video_id=vid\nfps=24\nframes=3\noutput_mode=per_frame\n")
    for pose in (read_per_frame_dir(npz_dir), read_poses_npz(npz_dir)):
        assert pose.n_frames == 3 and pose.fps == 24
        np.testing.assert_array_equal(pose.xy, whole.xy)
        np.testing.assert_array_equal(pose.conf, whole.conf)


def _pose(rng, t=30, persons=1, missing=True):
    xy = rng.uniform(-5, 500, (t, persons, 128, 2)).astype(np.float32)
    conf = rng.uniform(0.05, 1, (t, persons, 128)).astype(np.float32)
    if missing:
        conf[rng.random(conf.shape) < 0.1] = 0
        conf[: t // 3, persons - 1] = 0           # last person absent in the first third
    return PoseSeq(xy, conf, fps=24, width=W, height=H, layout="dwpose")


def _release_valid(pose):
    """What the release keeps: body points only above its 0.3 threshold, others when conf > 0."""
    valid = pose.valid.copy()
    valid[..., :18] &= pose.conf[..., :18] > 0.3
    return valid


@pytest.mark.parametrize("persons", [1, 3])
def test_writer_reader_round_trip(tmp_path, persons):
    rng = np.random.default_rng(persons)
    pose = _pose(rng, persons=persons)
    path = write_poses_npz(pose, tmp_path / "vid123" / "npz" / "poses.npz")
    back = read_poses_npz(path)
    assert back.n_frames == pose.n_frames and back.n_persons == persons
    kept = _release_valid(pose)
    assert np.array_equal(back.valid, kept)
    np.testing.assert_allclose(back.xy[kept], pose.xy[kept], rtol=1e-5, atol=1e-3)
    face_hands = pose.valid.copy()
    face_hands[..., :18] = False
    np.testing.assert_allclose(back.conf[face_hands], pose.conf[face_hands])
    assert (back.conf[..., :18][kept[..., :18]] == 1).all()   # body confidence is not stored
    if persons > 1:   # stored in the release's mixed-up order: an unrepaired read differs
        raw = read_poses_npz(path, repair=False)
        assert not np.array_equal(raw.xy[:, :, 86:], back.xy[:, :, 86:], equal_nan=True)


def test_written_file_is_the_release_format(tmp_path):
    rng = np.random.default_rng(7)
    pose = _pose(rng, t=12, persons=2)
    path = write_poses_npz(pose, tmp_path / "abc" / "npz" / "poses.npz")
    with np.load(path, allow_pickle=True) as data:   # our own file: trusted
        assert list(data.keys()) == ["video_id", "fps", "total_frames", "frame_widths",
                                     "frame_heights", "frame_indices", "frame_payloads"]
        assert str(data["video_id"]) == "abc" and data["video_id"].shape == ()
        for key in ("fps", "total_frames"):
            assert data[key].dtype == np.int32 and data[key].shape == ()
        assert int(data["fps"]) == 24 and int(data["total_frames"]) == 12
        for key in ("frame_widths", "frame_heights", "frame_indices"):
            assert data[key].dtype == np.int32 and data[key].shape == (12,)
        assert data["frame_indices"].tolist() == list(range(1, 13))
        payloads = data["frame_payloads"]
        assert payloads.dtype == object and payloads.shape == (12,)
        first, last = payloads[0], payloads[-1]
        assert int(first["num_persons"]) == 1 and int(last["num_persons"]) == 2   # person 1 absent early
        assert first["frame_width"].dtype == np.int32 and int(first["frame_width"]) == W
        assert set(last) == {"num_persons", "frame_width", "frame_height"} | {
            f"person_{p:03d}_{part}_{kind}" for p in range(2) for part, _ in PARTS
            for kind in ("keypoints", "scores")}
        for part, k in PARTS:
            assert last[f"person_001_{part}_keypoints"].shape == (k, 2)
            assert last[f"person_001_{part}_keypoints"].dtype == np.float32
            assert last[f"person_001_{part}_scores"].shape == (k,)
        scores = last["person_001_body_scores"]
        valid = pose.conf[-1, 1, :18] > 0.3
        assert (scores[valid] == 18 + np.arange(18)[valid]).all() and (scores[~valid] == -1).all()
        body = last["person_000_body_keypoints"]
        ok = pose.conf[-1, 0, :18] > 0.3
        np.testing.assert_allclose(body[ok], pose.xy[-1, 0, :18][ok] / [W, H], rtol=1e-6)
    with open(path, "rb") as fh:   # np.savez: a stored (uncompressed) zip
        import zipfile
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(fh).infolist())


def test_writer_rejects_fractional_fps(tmp_path):
    from signverse.core.errors import InputError
    pose = _pose(np.random.default_rng(0)).replace(fps=29.97)
    with pytest.raises(InputError, match="integer fps"):
        write_poses_npz(pose, tmp_path / "x.npz", video_id="x")


def test_real_wholebody_pose_round_trips_through_the_release_format(tmp_path, shared_data):
    """Real MMPose whole-body output (COCO-WholeBody 133) -> dwpose -> poses.npz -> back."""
    from signverse.io import read_pose
    from signverse.layouts.convert import convert
    pose = convert(read_pose(shared_data("poses", "poses_mmposewholebody_FOOTBALL.pose")), "dwpose")
    pose = pose.replace(fps=float(round(pose.fps)))
    path = write_poses_npz(pose, tmp_path / "football001" / "npz" / "poses.npz")
    back = read_poses_npz(path)
    assert back.n_frames == pose.n_frames == 62 and (back.width, back.height) == (pose.width, pose.height)
    kept = _release_valid(pose)
    assert np.array_equal(back.valid, kept) and pose.valid[:, 0, 86:].any()
    np.testing.assert_allclose(back.xy[kept], pose.xy[kept], rtol=1e-5, atol=1e-3)
    # MMPose's low-confidence points (knees at 0.07) are below the release's threshold: missing.
    low = pose.valid[..., :18] & (pose.conf[..., :18] <= 0.3)
    assert low.any() and not back.valid[..., :18][low].any()


def test_body_points_below_the_release_threshold_are_written_as_missing(tmp_path):
    """The release stores body index -1 for confidence <= 0.3: a reader must not see them as valid."""
    rng = np.random.default_rng(3)
    pose = _pose(rng, t=4, missing=False)
    conf = pose.conf.copy()
    conf[:, 0, 9], conf[:, 0, 12], conf[:, 0, 10] = 0.07, 0.3, 0.31   # knees low, r-ankle just above
    pose = pose.replace(conf=conf)
    back = read_poses_npz(write_poses_npz(pose, tmp_path / "v" / "npz" / "poses.npz"))
    assert not back.valid[:, 0, 9].any() and not back.valid[:, 0, 12].any()
    assert back.valid[:, 0, 10].all() and (back.conf[:, 0, 10] == 1).all()
    raw = read_npz_arrays(tmp_path / "v" / "npz" / "poses.npz")
    assert (raw.scores["body"][:, 0, [9, 12]] == -1).all()
    assert (raw.keypoints["body"][:, 0, [9, 12]] == -1).all()


@pytest.mark.parametrize("fps", ["inf", "1e-300", "5000"])
def test_an_implausible_fps_in_complete_is_a_one_line_error(tmp_path, fps):
    """Found by fuzzing: fps=inf in .complete ended in "fps must be positive, got inf" (naming no
    file); fps=1e-300 read as a 3-frame video of 10**300 s and converting it to a release raised
    ValueError from the resampler (traceback)."""
    rng = np.random.default_rng(3)
    npz_dir = tmp_path / "vid" / "npz"
    npz_dir.mkdir(parents=True)
    for i in range(1, 4):
        np.savez(npz_dir / f"{i:08d}.npz", **_release_frame(rng, 1)[0])
    (npz_dir / ".complete").write_text(f"video_id=vid\nfps={fps}\nframes=3\noutput_mode=per_frame\n")
    with pytest.raises(InputError, match=r"frame rate .* is outside 0.1-1000 fps") as err:
        read_per_frame_dir(npz_dir)
    assert str(npz_dir) in str(err.value)
    (npz_dir / ".complete").write_text("video_id=vid\nfps=0\nframes=3\noutput_mode=per_frame\n")
    assert read_per_frame_dir(npz_dir).fps == 24   # not positive: the release rate, as before

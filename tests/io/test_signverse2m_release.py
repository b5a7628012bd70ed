"""Release containers: video folders, tar shards (written, resumed, streamed), hostile tars."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from signverse.core.pose import PoseSeq
from signverse.core.records import Segment
from signverse.io.signverse2m import (ShardWriter, open_release, read_complete, read_poses_npz,
                                      write_video_folder)

VTT = ("WEBVTT\nKind: captions\nLanguage: de\n\n00:00:00.500 --> 00:00:01.500\nHallo <i>Welt</i>\n\n"
       "00:00:02.000 --> 00:00:03.000\nzweite Zeile\n")


def _pose(seed, t=20, persons=1):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.35, 1, (t, persons, 128)).astype(np.float32)   # above the release's 0.3
    conf[rng.random(conf.shape) < 0.1] = 0
    return PoseSeq(rng.uniform(0, 500, (t, persons, 128, 2)).astype(np.float32), conf, fps=24,
                   width=512, height=512, layout="dwpose")


def _segments():
    return {"en": [Segment(0.5, 1.5, "hello world", "en"), Segment(2.0, 3.0, "second & last", "en")]}


def test_video_folder_round_trip(tmp_path):
    pose = _pose(0, persons=2)
    folder = write_video_folder(tmp_path, "vid00000001", pose, captions=_segments(), vtt={"de": VTT},
                                complete={"decode_mode": "fps24"})
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "captions/vid00000001.captions.json", "captions/vid00000001.de.vtt",
        "captions/vid00000001.en.vtt", "npz/.complete", "npz/poses.npz"]
    complete = read_complete(folder / "npz" / ".complete")
    assert complete["video_id"] == "vid00000001" and complete["frames"] == "20"
    assert complete["fps"] == "24" and "completed_at" in complete
    videos = list(open_release(tmp_path))
    assert [v.video_id for v in videos] == ["vid00000001"]
    video = videos[0]
    assert np.array_equal(video.pose.valid, pose.valid)
    assert set(video.vtt) == {"en", "de"} and video.vtt["de"] == VTT
    doc = video.captions
    assert doc["video_id"] == "vid00000001" and doc["subtitle_languages"] == ["de", "en"]
    assert doc["languages"]["en"]["segments"][1] == {"start_sec": 2.0, "end_sec": 3.0,
                                                     "text": "second & last"}
    assert doc["languages"]["de"]["segments"][0]["text"] == "Hallo Welt"
    assert doc["subtitle_en"] == "hello world second & last"
    assert doc["subtitle_en_source"] == "manual_or_auto_en"
    assert video.caption_segments().segments["en"][0] == Segment(0.5, 1.5, "hello world", "en")
    assert video.complete["decode_mode"] == "fps24"
    # one folder opened directly
    assert [v.video_id for v in open_release(folder)] == ["vid00000001"]


def test_shard_writer_caps_atomic_and_resumes(tmp_path):
    out = tmp_path / "dataset"
    ids = [f"video{i:06d}" for i in range(5)]
    with ShardWriter(out, max_videos=2) as shards:
        for i, vid in enumerate(ids[:3]):
            assert shards.add_video(vid, _pose(i), captions=_segments())
        assert not shards.add_video(ids[0], _pose(0))          # already written in this session
        assert (out / "Sign_DWPose_NPZ_000002.tar.tmp").exists()   # open shard is not published
        assert not (out / "Sign_DWPose_NPZ_000002.tar").exists()
    assert sorted(p.name for p in out.iterdir() if p.name != ".release-writer.lock") == [
        "Sign_DWPose_NPZ_000001.tar", "Sign_DWPose_NPZ_000002.tar"]
    with tarfile.open(out / "Sign_DWPose_NPZ_000001.tar") as tar:   # plain tar, release paths
        names = tar.getnames()
    assert f"{ids[0]}/npz/poses.npz" in names and f"{ids[1]}/npz/.complete" in names
    assert f"{ids[0]}/captions/{ids[0]}.captions.json" in names
    # A crashed run leaves a .tmp: it is discarded, not published.
    (out / "Sign_DWPose_NPZ_000003.tar.tmp").write_bytes(b"partial")
    shards = ShardWriter(out, max_videos=2)
    assert shards.published == set(ids[:3])
    assert not shards.add_video(ids[1], _pose(1))
    assert shards.add_video(ids[3], _pose(3)) and shards.add_video(ids[4], _pose(4))
    assert shards.shards == [out / "Sign_DWPose_NPZ_000003.tar"]     # closed when full
    shards.close()
    assert not list(out.glob("*.tmp"))
    release = open_release(out)
    videos = {v.video_id: v for v in release}
    assert sorted(videos) == ids and release.failures == []
    for i, vid in enumerate(ids):
        original = _pose(i)
        assert np.array_equal(videos[vid].pose.valid, original.valid)
        np.testing.assert_allclose(videos[vid].pose.xy[original.valid], original.xy[original.valid],
                                   rtol=1e-5)


def test_shard_writer_byte_cap(tmp_path):
    one = ShardWriter(tmp_path / "a", max_bytes=10**9)
    one.add_video("aaaaaaaaaaa", _pose(0))
    size = (tmp_path / "a").glob("*.tmp").__next__().stat().st_size
    one.close()
    shards = ShardWriter(tmp_path / "b", max_bytes=int(size * 1.5))
    for i in range(3):
        shards.add_video(f"v{i:010d}", _pose(i))
    assert len(shards.close()) == 3
    for path in shards.shards:
        with tarfile.open(path) as tar:
            assert len({n.split("/")[0] for n in tar.getnames()}) == 1


def test_add_folder_and_stream_tar(tmp_path):
    folder = write_video_folder(tmp_path / "work", "folder00001", _pose(5), vtt={"en": VTT})
    with ShardWriter(tmp_path / "out") as shards:
        assert shards.add_folder(folder)
    tar_path = shards.shards[0]
    videos = list(open_release(tar_path))
    assert [v.video_id for v in videos] == ["folder00001"]
    np.testing.assert_array_equal(videos[0].pose.xy, read_poses_npz(folder / "npz" / "poses.npz").xy)
    assert videos[0].vtt == {"en": VTT}


def _add(tar, name, data=b"", **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if data else None)


def test_hostile_tar_members_are_refused_and_the_rest_is_read(tmp_path):
    good = write_video_folder(tmp_path / "src", "goodvideo01", _pose(1))
    npz = (good / "npz" / "poses.npz").read_bytes()
    target = tmp_path / "escaped"
    tar_path = tmp_path / "Sign_DWPose_NPZ_000001.tar"
    with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tar:
        _add(tar, "goodvideo01/npz/poses.npz", npz)
        _add(tar, str(target), b"x")                                        # absolute path
        _add(tar, "../../escaped2", b"x")                                   # parent traversal
        _add(tar, "badvideo001/npz/poses.npz", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        _add(tar, "hardlinked1/npz/poses.npz", type=tarfile.LNKTYPE, linkname="goodvideo01/npz/poses.npz")
        _add(tar, "devvideo001/npz/poses.npz", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        _add(tar, "fifovideo01/npz/poses.npz", type=tarfile.FIFOTYPE)
        _add(tar, "brokenvid01/npz/poses.npz", b"PK\x03\x04 not really a zip")
        _add(tar, "goodvideo02/npz/poses.npz", npz)
        _add(tar, "goodvideo02/captions/goodvideo02.captions.json", b"{not json")
    release = open_release(tar_path)
    videos = list(release)
    assert [v.video_id for v in videos] == ["goodvideo01", "goodvideo02"]
    assert videos[1].captions is None
    problems = {(f.member, f.video_id): f.problem for f in release.failures}
    assert problems[(str(target), None)].startswith("refused: absolute path")
    assert problems[("../../escaped2", None)] == "refused: path with '..'"
    assert "link" in problems[("badvideo001/npz/poses.npz", "badvideo001")]
    assert "link" in problems[("hardlinked1/npz/poses.npz", "hardlinked1")]
    assert "device" in problems[("devvideo001/npz/poses.npz", "devvideo001")]
    assert "FIFO" in problems[("fifovideo01/npz/poses.npz", "fifovideo01")]
    assert "not a readable .npz" in problems[(None, "brokenvid01")]
    assert "bad captions.json" in problems[("goodvideo02/captions/goodvideo02.captions.json", "goodvideo02")]
    assert all(str(tar_path) == f.source for f in release.failures)
    assert not target.exists() and not (tmp_path.parent / "escaped2").exists()


def test_truncated_tar_reports_and_keeps_earlier_videos(tmp_path):
    out = tmp_path / "ds"
    with ShardWriter(out) as shards:
        for i in range(3):
            shards.add_video(f"trunc{i:06d}", _pose(i, t=200))
    path = shards.shards[0]
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    release = open_release(path)
    got = [v.video_id for v in release]
    assert got[:1] == ["trunc000000"] and len(got) < 3
    assert release.failures and "damaged tar" in release.failures[-1].problem


def test_captions_json_is_valid_json(tmp_path):
    folder = write_video_folder(tmp_path, "jsonvideo01", _pose(2), captions=_segments())
    doc = json.loads((folder / "captions" / "jsonvideo01.captions.json").read_text())
    assert set(doc) == {"video_id", "subtitle_languages", "subtitle_en", "subtitle_en_source",
                        "subtitle_texts", "languages"}
    assert doc["languages"]["en"]["vtt_path"] == "jsonvideo01.en.vtt"


def test_ids_that_are_not_file_names_get_a_safe_folder_and_read_back(tmp_path):
    """'../../escape1', '.hidden' or a 5000-character id never escape, hide or overflow a file
    name; the folder maps back to the id (kept in .complete and poses.npz)."""
    from signverse.core.errors import InputError
    from signverse.io.signverse2m.release import folder_name
    ids = ["../evil", ".._.._escape1", "x" * 5000, "plain_id-01"]
    for vid in ids:
        folder = write_video_folder(tmp_path / "root", vid, _pose(0), captions=_segments())
        assert folder.parent == tmp_path / "root" and len(folder.name) <= 120
        assert not folder.name.startswith(".") and folder.name == folder_name(vid)
    assert folder_name("plain_id-01") == "plain_id-01"
    assert {v.video_id for v in open_release(tmp_path / "root")} == set(ids)
    with ShardWriter(tmp_path / "shards") as shards:
        assert all(shards.add_video(vid, _pose(1)) for vid in ids)
        assert not shards.add_video("x" * 5000, _pose(1))     # already written, by its id
    release = open_release(tmp_path / "shards")
    assert sorted(v.video_id for v in release) == sorted(ids) and not release.failures
    with pytest.raises(InputError, match="bad video id"):
        write_video_folder(tmp_path, "two\nlines", _pose(0))


def test_per_frame_variant_inside_a_tar(tmp_path):
    pose = _pose(9, t=4, persons=2)
    folder = write_video_folder(tmp_path / "src", "perframe001", pose)
    with np.load(folder / "npz" / "poses.npz", allow_pickle=True) as data:   # our own file
        payloads = list(data["frame_payloads"])
    tar_path = tmp_path / "pf.tar"
    with tarfile.open(tar_path, "w") as tar:
        _add(tar, "perframe001/npz/.complete", b"video_id=perframe001\nfps=24\n")
        for i, payload in enumerate(payloads, 1):
            buf = io.BytesIO()
            np.savez(buf, **payload)
            _add(tar, f"perframe001/npz/{i:08d}.npz", buf.getvalue())
    release = open_release(tar_path)
    (video,) = list(release)
    assert release.failures == [] and video.complete["fps"] == "24"
    np.testing.assert_array_equal(video.pose.xy, read_poses_npz(folder / "npz" / "poses.npz").xy)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_hostile_pickle_inside_a_shard_fails_only_that_video(tmp_path):
    marker = tmp_path / "pwned"
    good = write_video_folder(tmp_path / "src", "goodvideo01", _pose(1))
    npz_good = (good / "npz" / "poses.npz").read_bytes()
    payloads = np.empty(1, dtype=object)
    payloads[0] = {"num_persons": np.array(0, np.int32), "frame_width": _Evil(marker),
                   "frame_height": np.array(512, np.int32)}
    buf = io.BytesIO()
    np.savez(buf, fps=np.array(24, np.int32), frame_payloads=payloads)
    tar_path = tmp_path / "x.tar"
    with tarfile.open(tar_path, "w") as tar:
        _add(tar, "evilvideo01/npz/poses.npz", buf.getvalue())
        _add(tar, "goodvideo01/npz/poses.npz", npz_good)
    release = open_release(tar_path)
    assert [v.video_id for v in release] == ["goodvideo01"]
    (failure,) = release.failures
    assert failure.video_id == "evilvideo01" and "refused: pickled data references" in failure.problem
    assert "evilvideo01/npz/poses.npz" in failure.problem and not marker.exists()


def test_tar_cut_at_a_member_boundary_or_with_a_bad_header_is_reported(tmp_path):
    with ShardWriter(tmp_path / "ds") as shards:
        for i in range(2):
            shards.add_video(f"cut{i:08d}", _pose(i, t=3))
    path = shards.shards[0]
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        second = next(m.offset for m in tar.getmembers() if m.name == "cut00000001/npz/poses.npz")
    for damaged in (data[:second], data[:second] + b"\x01" * 512 + data[second + 512:]):
        path.write_bytes(damaged)
        release = open_release(path)
        assert [v.video_id for v in release] == ["cut00000000"]
        assert len(release.failures) == 1 and "damaged tar" in release.failures[0].problem

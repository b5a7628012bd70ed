"""Corpus store: round trip, appends, random access, streaming, selections, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from signverse.core import Clip, InputError, PoseSeq, SignverseError
from signverse.io.corpus import CorpusWriter, DuplicateClip, UnknownClip, open_corpus
from signverse.io.corpus.codec import decode_arrays, encode


def make_pose(n_frames: int = 20, n_persons: int = 1, n_points: int = 128, *, seed: int = 0,
              width: int = 1920, height: int = 1080, missing: float = 0.2, layout: str = "dwpose") -> PoseSeq:
    """A random-walk pose with some missing points (some points off-frame, some conf > 1)."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([-50, -50], [width + 50, height + 50], size=(1, n_persons, n_points, 2))
    xy = start + np.cumsum(rng.normal(0, 3, size=(n_frames, n_persons, n_points, 2)), axis=0)
    conf = rng.uniform(0.01, 1.02, size=(n_frames, n_persons, n_points))
    conf[rng.random(conf.shape) < missing] = 0.0
    return PoseSeq(xy.astype(np.float32), conf.astype(np.float32), fps=24.0, width=width,
                   height=height, layout=layout)


def make_clip(i: int, *, n_frames: int = 20, n_persons: int = 1, language: str = "ase",
              split: str = "train", video: str | None = None, **pose_options) -> Clip:
    pose = make_pose(n_frames, n_persons, seed=i, **pose_options)
    return Clip(clip_id=f"vid{i // 3:03d}-{i:05d}", video_id=video or f"vid{i // 3:03d}",
                start=i * 2.0, end=i * 2.0 + pose.duration, sign_language=language, signer=f"s{i % 2}",
                text=f"caption {i}", text_language="eng", gloss=None, split=split,
                qc={"signer_frac": 0.5 + (i % 5) / 10, "mean_conf": 0.7, "custom_score": float(i)},
                pose=pose)


def write(path, clips, **options):
    with CorpusWriter(path, **options) as writer:
        writer.add_many(clips)
    return writer


def assert_pose_close(got, want):
    bound = max(want.width, want.height) / 65536 + 1.3e-4   # + float32 rounding
    assert got.xy.shape == want.xy.shape and got.layout == want.layout
    assert (got.valid == want.valid).all(), "missing points must stay missing (and only those)"
    assert np.isnan(got.xy[~got.valid]).all()
    err = np.abs(got.xy[want.valid] - want.xy[want.valid])
    assert err.max() <= bound
    scale = max(1.0, float(want.conf.max()))
    assert np.abs(got.conf - want.conf).max() <= scale / 255 + 1e-6
    assert (got.fps, got.width, got.height) == (want.fps, want.width, want.height)


def test_codec_bound_and_missing():
    pose = make_pose(50, 2, seed=3, missing=0.4)
    packed = encode(pose)
    xy, conf = decode_arrays(packed.xy, packed.conf, pose.xy.shape[:3], packed.step, packed.conf_scale,
                             width=pose.width, height=pose.height, escapes=packed.escapes)
    assert packed.step == pytest.approx(1920 / 32768)
    err = np.nanmax(np.abs(xy - pose.xy))
    assert 0 < err <= 1920 / 65536 + 1.3e-4   # quantised (not lossless), within the bound
    assert (np.isnan(xy) == np.isnan(pose.xy)).all()
    assert np.abs(conf - pose.conf).max() <= packed.conf_scale / 255 + 1e-6
    with pytest.raises(ValueError):
        decode_arrays(packed.xy[:-4], packed.conf, pose.xy.shape[:3], packed.step, packed.conf_scale,
                      width=pose.width, height=pose.height)


def test_codec_far_jumps_use_escapes_and_edge_shapes():
    pose = make_pose(12, 1, seed=4, missing=0.0)
    xy = pose.xy.copy()
    xy[5, 0, 3] = [-9000.0, 7000.0]        # an estimator's wild off-frame guess for one frame
    xy[6:, 0, 7] += 5000.0                 # and a point that jumps by more than a frame side
    pose = pose.replace(xy=xy)
    packed = encode(pose)
    assert len(packed.escapes) == 8 * 6    # x, y of point 3 out and back in; x, y of point 7 once
    got, _ = decode_arrays(packed.xy, packed.conf, pose.xy.shape[:3], packed.step, packed.conf_scale,
                           width=pose.width, height=pose.height, escapes=packed.escapes)
    assert np.abs(got - pose.xy).max() <= 1920 / 65536 + 1e-3
    for n_frames, n_persons in ((0, 1), (1, 0), (1, 1)):
        empty = PoseSeq.empty(n_frames, n_persons, 5, fps=25, width=0, height=0, layout="dwpose")
        packed = encode(empty)
        xy, conf = decode_arrays(packed.xy, packed.conf, (n_frames, n_persons, 5), packed.step,
                                 packed.conf_scale, width=0, height=0, escapes=packed.escapes)
        assert xy.shape == (n_frames, n_persons, 5, 2) and np.isnan(xy).all() and not conf.any()


def test_round_trip_metadata_and_pose(tmp_path):
    clips = [make_clip(i) for i in range(7)]
    write(tmp_path / "c", clips, shard_clips=3)
    corpus = open_corpus(tmp_path / "c")
    assert len(corpus) == 7 and corpus.shards == [0, 1, 2]
    assert corpus.ids() == [c.clip_id for c in clips]
    for want in clips:
        got = corpus[want.clip_id]
        assert got == want  # dataclass equality covers every metadata field incl. qc (pose excluded)
        assert_pose_close(got.pose, want.pose)
    manifest = json.loads((tmp_path / "c" / "corpus.json").read_text())
    assert manifest["version"] == 1 and manifest["pose_fields"]["dwpose"]["layouts"] == ["dwpose"]
    assert manifest["quantisation"]["xy_max_error_fraction_of_max_side"] == 1 / 65536


def test_multi_person_and_person_counts(tmp_path):
    pose = make_pose(30, 3, seed=1, missing=0.1)
    # person 2 absent in the first 10 frames, everyone absent in frame 29
    xy, conf = pose.xy.copy(), pose.conf.copy()
    conf[:10, 2] = 0
    conf[29] = 0
    pose = pose.replace(xy=xy, conf=conf)
    clip = Clip(clip_id="m1", video_id="v", pose=pose)
    write(tmp_path / "c", [clip])
    got = open_corpus(tmp_path / "c")["m1"].pose
    assert got.n_persons == 3
    assert_pose_close(got, pose)
    import pyarrow.parquet as pq
    table = pq.read_table(tmp_path / "c" / "poses" / "dwpose" / "shard-00000.parquet")
    counts = np.array(table.column("persons")[0].as_py())
    assert counts.tolist() == pose.persons_per_frame().tolist()
    assert counts[0] == 2 and counts[15] == 3 and counts[29] == 0


def test_append_reopen_and_duplicates(tmp_path):
    path = tmp_path / "c"
    write(path, [make_clip(i) for i in range(5)], shard_clips=2)      # shards 0,1,2
    before = {p.name: p.stat().st_mtime_ns for p in (path / "clips").iterdir()}
    w = write(path, [make_clip(i) for i in range(3, 9)], shard_clips=2)  # 3,4 are duplicates
    assert (w.written, w.skipped) == (4, 2)
    for name, mtime in before.items():
        assert (path / "clips" / name).stat().st_mtime_ns == mtime, "finished shards are never rewritten"
    corpus = open_corpus(path)
    assert corpus.shards == [0, 1, 2, 3, 4]
    assert len(corpus) == 9 and sorted(corpus.ids()) == sorted(make_clip(i).clip_id for i in range(9))
    assert corpus[make_clip(8).clip_id].text == "caption 8"
    with pytest.raises(DuplicateClip, match="vid000-00001"):
        with CorpusWriter(path, on_duplicate="error") as writer:
            writer.add(make_clip(1))
    # duplicates inside one session are caught before they reach a shard
    with CorpusWriter(path, on_duplicate="skip") as writer:
        assert writer.add(make_clip(20)) and not writer.add(make_clip(20))
    assert len(open_corpus(path)) == 10


def test_crash_leftovers_and_stale_index(tmp_path):
    path = tmp_path / "c"
    write(path, [make_clip(i) for i in range(4)], shard_clips=2)
    # a crash after the pose file of shard 2 landed but before its clips file
    (path / "poses" / "dwpose" / "shard-00002.parquet").write_bytes(b"partial")
    (path / "clips" / ".shard-00002.parquet.tmp").write_bytes(b"partial")
    writer = CorpusWriter(path, shard_clips=2)
    assert not (path / "poses" / "dwpose" / "shard-00002.parquet").exists()
    writer.add(make_clip(10))
    writer.flush()        # a shard lands ...
    del writer            # ... and the process dies before close() saved the index
    corpus = open_corpus(path)
    assert len(corpus) == 5 and make_clip(10).clip_id in corpus   # index rebuilt from the shards


def test_random_access_unknown_and_contains(tmp_path):
    clips = [make_clip(i, n_frames=5) for i in range(40)]
    write(tmp_path / "c", clips, shard_clips=16)
    corpus = open_corpus(tmp_path / "c")
    rng = np.random.default_rng(0)
    for i in rng.permutation(40)[:15]:
        assert corpus[clips[i].clip_id].clip_id == clips[i].clip_id
    assert clips[5].clip_id in corpus and "nope" not in corpus and 17 not in corpus
    with pytest.raises(InputError, match="nope"):
        corpus["nope"]
    with pytest.raises(KeyError):
        corpus["nope"]
    assert isinstance(UnknownClip(None, "x"), InputError)
    assert corpus.get("nope") is None
    assert (tmp_path / "c" / "index" / "ids.npy").exists()


def test_streaming_is_shard_by_shard(tmp_path):
    clips = [make_clip(i, n_frames=4 + i % 3) for i in range(10)]
    write(tmp_path / "c", clips, shard_clips=4)
    corpus = open_corpus(tmp_path / "c")
    shards = list(corpus.iter_shards())
    assert [s for s, _ in shards] == [0, 1, 2] and [len(c) for _, c in shards] == [4, 4, 2]
    streamed = list(corpus)
    assert [c.clip_id for c in streamed] == [c.clip_id for c in clips]
    for got, want in zip(streamed, clips):
        assert_pose_close(got.pose, want.pose)
    arrays = list(corpus.iter_arrays())
    assert [a[0] for a in arrays] == [c.clip_id for c in clips]
    np.testing.assert_array_equal(arrays[3][1], streamed[3].pose.xy)


def test_selections_split_shuffle_summary(tmp_path):
    clips = [make_clip(i, language="ase" if i % 3 else "gsg", split="train" if i < 8 else "test")
             for i in range(12)]
    write(tmp_path / "c", clips, shard_clips=5)
    corpus = open_corpus(tmp_path / "c")
    sel = corpus.where(language="ase", split="train")
    want = [c.clip_id for c in clips if c.sign_language == "ase" and c.split == "train"]
    assert sel.ids() == want and [c.clip_id for c in sel] == want
    assert len(corpus.where(language=["ase", "gsg"])) == 12
    assert len(corpus.where(qc_min={"signer_frac": 0.85})) == sum(c.qc["signer_frac"] >= 0.85 for c in clips)
    assert corpus.filter(lambda r: r["text"].endswith("1")).ids() == ["vid000-00001", "vid003-00011"]
    import pyarrow.compute as pc
    assert corpus.filter(pc.field("text") == "caption 7").ids() == [clips[7].clip_id]
    assert corpus.where(text="caption 3").records()[0]["text"] == "caption 3"
    picked = corpus.where(language="gsg").shuffle(seed=2)
    assert [r["clip_id"] for r in picked.records()] == picked.ids()   # records follow the set's order
    shuffled = corpus.clips().shuffle(seed=1)
    assert sorted(shuffled.ids()) == sorted(corpus.ids()) and shuffled.ids() != corpus.ids()
    assert [c.clip_id for c in shuffled] == shuffled.ids()
    assert shuffled.ids() == corpus.clips().shuffle(seed=1).ids()
    parts = corpus.clips().split({"train": 0.5, "dev": 0.5}, seed=3, by="video_id")
    assert sum(len(p) for p in parts.values()) == 12
    videos = [{r["video_id"] for r in p.records()} for p in parts.values()]
    assert not (videos[0] & videos[1]), "a video never straddles two parts"
    assert set(corpus.clips().by_split()) == {"train", "test"}
    with pytest.raises(SignverseError, match="unknown clip metadata column"):
        corpus.where(colour="red")
    s = corpus.summary()
    assert s["clips"] == 12 and s["languages"]["gsg"]["clips"] == 4
    assert s["languages"]["ase"]["videos"] == len({c.video_id for c in clips if c.sign_language == "ase"})
    assert s["hours"] == pytest.approx(sum(c.duration for c in clips) / 3600)
    assert s["qc"]["signer_frac"]["count"] == 12 and s["qc"]["motion"] == {"count": 0}
    json.dumps(s)  # plain types only


def test_clip_without_pose_and_empty_corpus(tmp_path):
    write(tmp_path / "c", [make_clip(0), Clip(clip_id="bare", video_id="v", start=1, end=2)])
    corpus = open_corpus(tmp_path / "c")
    assert corpus["bare"].pose is None and corpus["bare"].duration == 1
    empty = tmp_path / "e"
    CorpusWriter(empty).close()
    corpus = open_corpus(empty)
    assert len(corpus) == 0 and list(corpus) == [] and corpus.summary()["clips"] == 0


def test_bad_input(tmp_path):
    with pytest.raises(InputError, match="corpus.json"):
        open_corpus(tmp_path)
    with pytest.raises(InputError, match="no such corpus"):
        open_corpus(tmp_path / "absent")
    path = tmp_path / "c"
    write(path, [make_clip(i) for i in range(4)], shard_clips=2)
    (path / "corpus.json").write_text("{not json")
    with pytest.raises(InputError, match="corpus.json"):
        open_corpus(path)
    (path / "corpus.json").unlink()
    write(tmp_path / "d", [make_clip(i) for i in range(4)], shard_clips=2)
    shard = tmp_path / "d" / "poses" / "dwpose" / "shard-00001.parquet"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])   # truncated
    corpus = open_corpus(tmp_path / "d")
    assert corpus[make_clip(0).clip_id].pose is not None   # other shards still read
    with pytest.raises(InputError, match="shard-00001.parquet"):
        corpus[make_clip(3).clip_id]
    with pytest.raises(InputError, match="shard-00001.parquet"):
        list(corpus)
    tolerant = open_corpus(tmp_path / "d", on_error="skip")     # batches carry on past a bad shard
    assert [c.clip_id for c in tolerant] == [make_clip(i).clip_id for i in range(2)]
    assert len(tolerant.errors) == 1 and "shard-00001.parquet" in str(tolerant.errors[0])
    assert [a[0] for a in tolerant.iter_arrays()] == [make_clip(i).clip_id for i in range(2)]
    clips = tmp_path / "d" / "clips" / "shard-00000.parquet"
    clips.write_bytes(b"PAR1garbage")
    with pytest.raises(InputError, match="shard-00000.parquet"):
        open_corpus(tmp_path / "d").metadata()
    with pytest.raises(InputError, match="not empty"):
        CorpusWriter(tmp_path / "d" / "clips")


def test_duckdb_reads_clips_and_poses(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    clips = [make_clip(i, n_persons=1 + i % 2, language="ase" if i % 3 else "gsg") for i in range(9)]
    write(tmp_path / "c", clips, shard_clips=4)
    con = duckdb.connect()
    rows = con.execute(f"SELECT sign_language, count(*) FROM '{tmp_path}/c/clips/*.parquet' "
                       "GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("ase", 6), ("gsg", 3)]
    rows = con.execute(
        f"SELECT c.clip_id, p.n_frames, p.n_persons, list_max(p.persons), octet_length(p.xy) "
        f"FROM '{tmp_path}/c/clips/*.parquet' c JOIN '{tmp_path}/c/poses/dwpose/*.parquet' p "
        f"USING (clip_id) ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == sorted(c.clip_id for c in clips)
    by_id = {c.clip_id: c.pose for c in clips}
    for clip_id, n_frames, n_persons, max_persons, n_bytes in rows:
        pose = by_id[clip_id]
        assert (n_frames, n_persons, max_persons) == (pose.n_frames, pose.n_persons, pose.persons_per_frame().max())
        assert n_bytes == pose.xy.size * 2   # two byte planes per quantised coordinate


def test_hf_datasets_loads_clips_and_poses(tmp_path):
    datasets = pytest.importorskip("datasets")
    clips = [make_clip(i) for i in range(6)]
    write(tmp_path / "c", clips, shard_clips=4)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "c" / "clips" / "*.parquet"),
                               split="train", cache_dir=str(tmp_path / "hf_cache"))
    assert ds.num_rows == 6 and sorted(ds["clip_id"]) == sorted(c.clip_id for c in clips)
    assert ds[0]["sign_language"] == "ase" and ds[0]["qc_mean_conf"] == pytest.approx(0.7)
    poses = datasets.load_dataset("parquet", data_files=str(tmp_path / "c" / "poses" / "dwpose" / "*.parquet"),
                                  split="train", cache_dir=str(tmp_path / "hf_cache"))
    row = poses[0]
    from signverse.io.corpus.codec import decode_arrays
    xy, conf = decode_arrays(row["xy"], row["conf"], (row["n_frames"], row["n_persons"], row["n_points"]),
                             row["xy_step"], row["conf_scale"], width=row["width"], height=row["height"],
                             escapes=row["xy_escapes"])
    want = {c.clip_id: c.pose for c in clips}[row["clip_id"]]
    assert_pose_close(PoseSeq(xy, conf, fps=row["fps"], width=row["width"], height=row["height"],
                              layout=row["layout"]), want)


def test_second_pose_field_is_added_without_rewriting(tmp_path):
    from signverse.io.corpus import add_pose_field
    path = tmp_path / "c"
    clips = [make_clip(i, n_frames=6) for i in range(5)]
    write(path, clips, shard_clips=2)
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*.parquet")}
    seen = []

    def mirrored(clip):   # stands in for a second estimator: any function of the stored clip
        seen.append(clip.clip_id)
        if clip.clip_id.endswith("4"):
            return None
        return clip.pose.replace(xy=clip.pose.xy[..., ::-1].copy(), layout="dwpose")

    assert add_pose_field(path, "second", mirrored) == 3
    assert add_pose_field(path, "second", mirrored) == 0      # resumable: finished shards skipped
    assert len(seen) == 5
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    corpus = open_corpus(path, field="second")
    assert open_corpus(path).fields() == ["dwpose", "second"]
    got = corpus[clips[1].clip_id].pose
    np.testing.assert_allclose(got.xy, open_corpus(path)[clips[1].clip_id].pose.xy[..., ::-1], atol=0.03)
    assert corpus[clips[4].clip_id].pose is None
    assert open_corpus(path).get(clips[1].clip_id, field="second").pose is not None
    with pytest.raises(InputError, match="no pose field"):
        open_corpus(path, field="third")
    with pytest.raises(InputError, match="no pose field 'third'"):
        open_corpus(path).get(clips[1].clip_id, field="third")
    # appending shards later: the second field simply does not cover them until re-run
    write(path, [make_clip(9, n_frames=3)])
    assert open_corpus(path, field="second")[make_clip(9).clip_id].pose is None
    assert add_pose_field(path, "second", mirrored) == 1


def test_add_tables_bulk_path(tmp_path):
    import pyarrow as pa
    from signverse.io.corpus import schema
    clips = [make_clip(i, n_frames=3) for i in range(4)]
    meta = pa.Table.from_pylist([schema.clip_row(c) for c in clips], schema=schema.clips_schema())
    poses = pa.Table.from_pylist([schema.pose_row(c.clip_id, c.pose) for c in clips],
                                 schema=schema.poses_schema())
    with CorpusWriter(tmp_path / "c") as writer:
        writer.add_tables(meta, poses)
        with pytest.raises(DuplicateClip):
            writer.add_tables(meta.slice(1, 1), poses.slice(1, 1))
        with pytest.raises(SignverseError, match="same clip ids"):
            writer.add_tables(meta.slice(0, 1), poses.slice(1, 1))
    corpus = open_corpus(tmp_path / "c")
    assert len(corpus) == 4
    assert_pose_close(corpus[clips[2].clip_id].pose, clips[2].pose)
    with pytest.raises(DuplicateClip):
        with CorpusWriter(tmp_path / "c") as writer:
            writer.add_tables(meta.slice(3, 1), poses.slice(3, 1))


def test_many_row_groups_streaming_and_selections(tmp_path, monkeypatch):
    from signverse.io.corpus import schema
    monkeypatch.setattr(schema, "POSE_ROW_GROUP_BYTES", 1)     # one clip per pose row group
    clips = [make_clip(i, n_frames=3, language="ase" if i % 4 else "gsg") for i in range(23)]
    write(tmp_path / "c", clips, shard_clips=11)
    import pyarrow.parquet as pq
    assert pq.ParquetFile(tmp_path / "c" / "poses" / "dwpose" / "shard-00000.parquet").num_row_groups == 11
    corpus = open_corpus(tmp_path / "c")
    assert [c.clip_id for c in corpus] == [c.clip_id for c in clips]
    assert [a[0] for a in corpus.iter_arrays()] == [c.clip_id for c in clips]
    sel = corpus.where(language="gsg")
    got = list(sel)
    assert [c.clip_id for c in got] == [c.clip_id for c in clips if c.sign_language == "gsg"]
    for c in got:
        assert_pose_close(c.pose, clips[int(c.clip_id.split("-")[1])].pose)
    assert corpus[clips[17].clip_id].pose.n_frames == 3

"""A damaged corpus.json: one-line errors naming it, for readers and for a writer that appends.

Found by fuzzing: a pose field entry that is not ``{"layouts": [names]}`` read fine but crashed the
next append with a TypeError/KeyError traceback (the writer extends that list); nesting 50,000 deep
and a 5000-digit number ended in a RecursionError / ValueError traceback.
"""
from __future__ import annotations

import json

import pytest

from signverse.core import InputError
from signverse.io.corpus import CorpusWriter, open_corpus
from tests.io.test_corpus import make_clip, write


@pytest.mark.parametrize("entry", [5, None, {"layouts": 5}, {"layouts": [5]}, ["dwpose"]])
def test_a_damaged_pose_field_entry_is_refused_before_an_append(tmp_path, entry):
    root = tmp_path / "c"
    write(root, [make_clip(0)])
    manifest = json.loads((root / "corpus.json").read_text())
    (field,) = manifest["pose_fields"]
    manifest["pose_fields"][field] = entry
    (root / "corpus.json").write_text(json.dumps(manifest))
    before = (root / "corpus.json").read_bytes()
    for action in (lambda: open_corpus(root), lambda: write(root, [make_clip(1)])):
        with pytest.raises(InputError, match=f"pose_fields.{field} must be an object") as err:
            action()
        assert "\n" not in str(err.value) and "corpus.json" in str(err.value)
    assert (root / "corpus.json").read_bytes() == before   # nothing rewritten


def test_a_pose_field_entry_without_layouts_still_appends(tmp_path):
    root = tmp_path / "c"
    write(root, [make_clip(0)])
    manifest = json.loads((root / "corpus.json").read_text())
    (field,) = manifest["pose_fields"]
    manifest["pose_fields"][field] = {}
    (root / "corpus.json").write_text(json.dumps(manifest))
    with CorpusWriter(root) as writer:
        assert writer.add(make_clip(1))
    assert len(open_corpus(root)) == 2
    assert json.loads((root / "corpus.json").read_text())["pose_fields"][field]["layouts"]


@pytest.mark.parametrize("text", ["[" * 50_000 + "]" * 50_000, '{"format": ' + "1" * 5000 + "}"])
def test_unparseable_corpus_json_is_a_one_line_error(tmp_path, text):
    root = tmp_path / "c"
    write(root, [make_clip(0)])
    (root / "corpus.json").write_text(text)
    with pytest.raises(InputError, match="unreadable corpus.json") as err:
        open_corpus(root)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("default", [None, "elsewhere"])
def test_clips_without_a_stored_pose_are_failures_not_a_crash(tmp_path, default, capsys):
    """corpus.json whose default pose field is missing or names a field with no poses: convert
    used to hand the writer a clip whose pose is None (AttributeError traceback)."""
    from signverse.cli.main import main
    root = tmp_path / "c"
    write(root, [make_clip(0), make_clip(1)])
    manifest = json.loads((root / "corpus.json").read_text())
    manifest["default_pose_field"] = default
    (root / "corpus.json").write_text(json.dumps(manifest))
    assert main(["convert", str(root), str(tmp_path / "out"), "--format", "pose"]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all("no stored pose" in line for line in failed), err
    assert "Traceback" not in err


def test_convert_skips_a_damaged_pose_shard_and_carries_on(tmp_path, capsys):
    """A corrupt pose shard stopped the whole conversion (exit 2, nothing of the other shards
    written); now its clips are one FAILED line naming the shard and the rest is converted."""
    from signverse.cli.main import main
    root = tmp_path / "c"
    write(root, [make_clip(0)])
    write(root, [make_clip(1)])   # a second session: a second shard
    shards = sorted((root / "poses").rglob("shard-*.parquet"))
    assert len(shards) == 2
    data = shards[0].read_bytes()
    shards[0].write_bytes(data[:len(data) // 2])
    assert main(["convert", str(root), str(tmp_path / "out"), "--format", "pose"]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and shards[0].name in failed[0] and "Traceback" not in err, err
    assert [p.name for p in (tmp_path / "out").glob("*.pose")] == [f"{make_clip(1).clip_id}.pose"]


@pytest.mark.parametrize("extra", ["not json", "[1, 2]", "[" * 50_000 + "]" * 50_000])
def test_damaged_qc_extra_is_dropped_and_the_clip_kept(tmp_path, extra, caplog):
    """Found by fuzzing: a clips row whose qc_extra is not a JSON object ended every read of the
    clip (convert, iteration) in a JSONDecodeError / TypeError / RecursionError traceback."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    root = tmp_path / "c"
    write(root, [make_clip(0), make_clip(1)])
    shard = root / "clips" / "shard-00000.parquet"
    table = pq.read_table(shard)
    i = table.schema.get_field_index("qc_extra")
    pq.write_table(table.set_column(i, "qc_extra", pa.array([extra, table.column(i)[1].as_py()],
                                                            table.schema.field(i).type)), shard)
    clips = list(open_corpus(root))
    assert len(clips) == 2 and all(c.pose is not None for c in clips)
    assert "custom_score" not in clips[0].qc and clips[1].qc["custom_score"] == 1.0
    assert "qc_extra is not a JSON object" in caplog.text
    fresh = open_corpus(root)                     # random access reads rows another way
    assert fresh[make_clip(0).clip_id].qc.get("custom_score") is None


def test_corpus_to_release_keeps_every_clip_of_a_video(tmp_path):
    """Two caption clips of one video (what extract writes) converted to a release: the second
    was refused as 'video id already in the output' and lost. Each clip is now its own folder."""
    from signverse.cli.main import main
    from signverse.io.signverse2m import open_release
    root = tmp_path / "c"
    clips = [make_clip(0), make_clip(1)]
    assert clips[0].video_id == clips[1].video_id
    write(root, clips)
    assert main(["convert", str(root), str(tmp_path / "r.tar")]) == 0
    videos = list(open_release(tmp_path / "r.tar"))
    assert sorted(v.video_id for v in videos) == sorted(c.clip_id for c in clips)
    assert all(v.pose.n_frames > 0 for v in videos)

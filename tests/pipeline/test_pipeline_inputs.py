"""Inputs: SignVerse-2M's manifest as is, CSV/JSONL/Parquet manifests, directories, single files."""
from __future__ import annotations

import json

import pytest

from conftest import shared
from signverse.core.errors import InputError
from signverse.pipeline.inputs import (YOUTUBE_URL, captions_in_dir, is_iso639_3, load_inputs,
                                       load_manifest, safe_id)


def test_signverse2m_metadata_loads_as_is():
    m = load_inputs(shared("signverse2m", "metadata.csv"))
    assert len(m) == 39197
    langs = m.languages()
    assert len(langs) == 56
    assert langs["ase"] == 16724 and langs["ins"] == 3023 and langs["gsg"] == 1024
    # Non-ISO labels are kept verbatim, and flagged.
    assert dict(m.nonstandard) == {"???": 197, "slovenia": 139, "vietnam": 36}
    assert any("slovenia" in w for w in m.warnings)
    first = m.records[0]
    assert len(first.video_id) == 11 and "\r" not in first.sign_language
    assert first.url == YOUTUBE_URL.format(video_id=first.video_id) and first.path is None


def test_csv_with_header_resolves_relative_paths_and_captions(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "m.csv").write_text("video_id,path,sign_language,captions,signer,split\n"
                                    "a,v/a.mp4,gsg,v/a.de.vtt;v/a.en.vtt,s1,train\n"
                                    "b,v/b.mp4,ase,,,test\n")
    m = load_manifest(tmp_path / "m.csv")
    a, b = m.records
    assert a.path == str(tmp_path / "v" / "a.mp4") and a.signer == "s1" and a.split == "train"
    assert a.captions == (str(tmp_path / "v" / "a.de.vtt"), str(tmp_path / "v" / "a.en.vtt"))
    assert b.captions == () and b.url is None and not m.nonstandard


def test_jsonl_and_parquet_manifests(tmp_path):
    rows = [{"video_id": "x", "url": "http://127.0.0.1/x.mp4", "language": "bfi"},
            {"path": "/data/clip one.mp4", "sign_language": "vietnam"}]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    m = load_manifest(tmp_path / "m.jsonl")
    assert [r.video_id for r in m.records] == ["x", "clip_one"]
    assert m.records[0].sign_language == "bfi" and m.nonstandard["vietnam"] == 1
    import pyarrow as pa
    import pyarrow.parquet as pq
    keys = ["video_id", "url", "language", "path", "sign_language"]
    pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), tmp_path / "m.parquet")
    assert load_manifest(tmp_path / "m.parquet").records == m.records


def test_bad_manifests_name_file_and_problem(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"video_id": "a"}\nnot json\n')
    with pytest.raises(InputError, match=r"bad.jsonl.*line 2"):
        load_manifest(tmp_path / "bad.jsonl")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nope")
    with pytest.raises(InputError, match="bad.parquet"):
        load_manifest(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="no such"):
        load_inputs(tmp_path / "missing.csv")


def test_directory_scan_is_recursive_with_unique_ids_and_sidecar_captions(tmp_path):
    for rel in ("a/talk.mp4", "b/talk.mp4", "b/deep/other.webm", "notes.txt", ".hidden/x.mp4"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    (tmp_path / "b/deep/other.en.vtt").write_text("WEBVTT\n")
    m = load_inputs(tmp_path)
    ids = sorted(r.video_id for r in m.records)
    assert ids == ["a__talk", "b__talk", "other"]
    other = next(r for r in m.records if r.video_id == "other")
    assert other.captions == (str(tmp_path / "b/deep/other.en.vtt"),)


def test_single_file_captions_dir_and_language_default(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"x")
    caps = tmp_path / "caps"
    (caps / "clip" / "captions").mkdir(parents=True)
    (caps / "clip" / "captions" / "clip.en.vtt").write_text("WEBVTT\n")
    m = load_inputs(video, captions_dir=caps, sign_language="ase")
    (rec,) = m.records
    assert rec.video_id == "clip" and rec.sign_language == "ase"
    assert rec.captions == captions_in_dir(caps, "clip") == (str(caps / "clip/captions/clip.en.vtt"),)


def test_ids_and_labels():
    assert safe_id("-ab_C9") == "-ab_C9" and safe_id("a b/c") == "a_b_c" and safe_id("..") == "video"
    assert is_iso639_3("ase") and not is_iso639_3("???") and not is_iso639_3("slovenia")

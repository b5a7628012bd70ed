"""CLI surface of extract (backends, argument errors) and QC filtering / windows in-process."""
from __future__ import annotations

import json

import pytest


def test_backend_list_and_user_errors(cli, tmp_path):
    res = cli("extract", "ignored", "--backend", "list")
    assert res.returncode == 0 and "mediapipe" in res.stdout and "dwpose" in res.stdout
    listed = json.loads(cli("extract", "ignored", "--backend", "list", "--json").stdout)
    assert {b["name"] for b in listed} >= {"mediapipe", "dwpose"}
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    for args, message in [(["--backend", "nope"], "unknown pose estimator 'nope'"),
                          ([], "--out CORPUS is required"),
                          (["--fps", "fast"], "must be a number or 'native'")]:
        out = ["--out", str(tmp_path / "c")] if "--out CORPUS" not in message else []
        res = cli("extract", str(video), *out, *args)
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    res = cli("extract", str(tmp_path / "absent"), "--out", str(tmp_path / "c"))
    assert res.returncode == 2 and "absent: no such file or directory" in res.stderr
    (tmp_path / "notcorpus").mkdir()
    (tmp_path / "notcorpus" / "x.txt").write_text("mine")
    res = cli("extract", str(video), "--out", str(tmp_path / "notcorpus"))
    assert res.returncode == 2 and "not empty" in res.stderr


@pytest.mark.slow
def test_qc_filter_and_windows_in_process(make_video, tmp_path):
    pytest.importorskip("mediapipe")
    from signverse.io.corpus import open_corpus
    from signverse.pipeline import ExtractConfig, Ledger, QCFilter, RunOptions, extract, load_inputs
    make_video(tmp_path / "blank.mp4", seconds=2.0)       # nobody in it: signer_frac is 0
    records = load_inputs(tmp_path / "blank.mp4").records
    options = RunOptions(workers=0, progress=False)
    s = extract(records, tmp_path / "kept", ExtractConfig(fps=6, window=0.5), options)
    assert s.succeeded == 1 and s.clips == 4 and s.frames == 12
    corpus = open_corpus(tmp_path / "kept")
    assert sorted(corpus.ids()) == [f"blank-{i:04d}" for i in range(4)]
    assert all(corpus[c].pose.n_frames == 3 and corpus[c].qc["signer_frac"] == 0.0 for c in corpus.ids())
    s = extract(records, tmp_path / "filtered", ExtractConfig(fps=6, qc_filter=QCFilter(min_signer_frac=0.5)),
                options)
    assert (s.succeeded, s.clips, s.rejected_clips) == (1, 0, 1)
    with Ledger(tmp_path / "filtered") as led:
        (row,) = led.rows("done")
        assert row.rejected == 1 and row.info["rejected"] == {"blank-0000": "signer_frac 0 < 0.5"}

"""The viewer's JSON API through an HTTP client: paging, filters, sort, search, clip metadata, poses
with the render plan, videos with range requests, statistics; ids only (no path escapes), unknown
ids as 404 JSON, strict JSON; every kind of PATH (corpus, release tar, pose folder, pose file)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from signverse.core import Clip, PoseSeq
from signverse.io.corpus import CorpusWriter
from signverse.layouts import get_layout

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from signverse.view import create_app, open_source  # noqa: E402

LANGS = ("ase", "bfi", "gsg")
VIDEO_BYTES = bytes(range(256)) * 40   # any bytes: the server sends the file as it is


def strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def body_pose(i: int, n_frames: int = 12) -> PoseSeq:
    """A dwpose sequence: body and face present; hands present in some clips only."""
    rng = np.random.default_rng(i)
    k = get_layout("dwpose").num_points
    xy = rng.uniform(50, 300, (n_frames, 1, k, 2)).astype(np.float32)
    conf = np.full((n_frames, 1, k), 0.9, np.float32)
    if i % 2:   # odd clips: no left hand
        lh = get_layout("dwpose").slice("left_hand")
        xy[:, :, lh] = np.nan
        conf[:, :, lh] = 0
    return PoseSeq(xy, conf, fps=24.0, width=320, height=320, layout="dwpose")


def make_corpus(root, n=30, video_file=None):
    from signverse.pipeline.ledger import Ledger
    from signverse.pipeline.qc import clip_qc
    clips = []
    for i in range(n):
        pose = body_pose(i, n_frames=10 + i)
        qc = clip_qc(pose)
        if i == 7:
            qc["mean_conf"] = math.nan      # must come back as null
        clips.append(Clip(clip_id=f"v{i // 3:02d}-{i:03d}", video_id=f"v{i // 3:02d}", start=i * 1.0,
                          end=i * 1.0 + pose.duration, sign_language=LANGS[i % 3], signer=f"s{i % 4}",
                          text=f"caption number {i} {'HELLO world' if i % 5 == 0 else 'other 100%_'}",
                          split="test" if i % 10 == 0 else "train", qc=qc, pose=pose))
    with CorpusWriter(root, shard_clips=8) as writer:
        writer.add_many(clips)
    with Ledger(root) as ledger:
        sources = {f"v{j:02d}": None for j in range(n // 3)}
        if video_file is not None:
            sources["v00"] = str(video_file)
            sources["v01"] = "/etc/passwd"                 # not a video: never served
            sources["v02"] = "https://example.org/x.mp4"   # not a file: never fetched
        ledger.register(sources, sources=sources)
    return clips


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    video = root / "v00.mp4"
    video.write_bytes(VIDEO_BYTES)
    clips = make_corpus(root / "corpus", video_file=video)
    return root / "corpus", clips


@pytest.fixture(scope="module")
def client(corpus):
    with open_source(corpus[0]) as source:
        yield TestClient(create_app(source), base_url="http://127.0.0.1")


def get(client, url, status=200):
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    return strict(r.text)


def test_paging_covers_every_clip_once(client, corpus):
    seen = []
    for offset in range(0, 30, 7):
        page = get(client, f"/api/clips?offset={offset}&limit=7&sort=clip_id")
        assert page["total"] == 30
        seen += [c["clip_id"] for c in page["clips"]]
    assert seen == sorted(c.clip_id for c in corpus[1])
    first = get(client, "/api/clips?limit=1")["clips"][0]
    assert {"clip_id", "video_id", "sign_language", "text", "n_frames", "fps"} <= set(first)


def test_filters_sort_and_search(client, corpus):
    clips = corpus[1]
    page = get(client, "/api/clips?language=bfi&split=train&limit=500")
    want = {c.clip_id for c in clips if c.sign_language == "bfi" and c.split == "train"}
    assert page["total"] == len(want) and {c["clip_id"] for c in page["clips"]} == want
    page = get(client, "/api/clips?language=ase,gsg&signer=s1&limit=500")
    assert {c["clip_id"] for c in page["clips"]} == \
        {c.clip_id for c in clips if c.sign_language in ("ase", "gsg") and c.signer == "s1"}
    # text search: case-insensitive substring; % and _ are literal characters, not wildcards
    page = get(client, "/api/clips?q=hello%20WORLD&limit=500")
    assert page["total"] == 6 and all("HELLO world" in c["text"] for c in page["clips"])
    assert get(client, "/api/clips?q=100%25_")["total"] == 24
    assert get(client, "/api/clips?q=1%25")["total"] == 0   # as a LIKE pattern it would match
    # QC thresholds: half the clips have no left hand
    page = get(client, "/api/clips?min_left_hand_frac=0.5&limit=500")
    assert page["total"] == 15 and all(c["qc_left_hand_frac"] == 1.0 for c in page["clips"])
    assert get(client, "/api/clips?max_left_hand_frac=0&min_face_frac=1")["total"] == 15
    # a clip whose figure is missing (NaN stored) never passes a threshold on it
    assert get(client, "/api/clips?min_mean_conf=0")["total"] == 29
    # sort by any column, both ways
    frames = [c["n_frames"] for c in get(client, "/api/clips?sort=-n_frames&limit=5")["clips"]]
    assert frames == [39, 38, 37, 36, 35]
    first = get(client, "/api/clips?sort=duration&limit=1")["clips"][0]
    assert first["n_frames"] == 10
    texts = [c["text"] for c in get(client, "/api/clips?sort=text&limit=500")["clips"]]
    assert texts == sorted(texts)


def test_strict_json_and_clip_metadata(client):
    page = get(client, "/api/clips?limit=500&sort=clip_id")
    seven = [c for c in page["clips"] if c["clip_id"] == "v02-007"][0]
    assert seven["qc_mean_conf"] is None
    clip = get(client, "/api/clips/v02-007")
    assert clip["qc"]["mean_conf"] is None and clip["qc"]["face_frac"] == 1.0
    assert clip["sign_language"] == "bfi" and clip["n_frames"] == 17 and clip["fields"] == ["dwpose"]
    assert clip["duration"] == pytest.approx(17 / 24)


def test_pose_payload_matches_the_store_and_render_plan(client, corpus):
    from signverse.render.style import draw_plan
    clip = corpus[1][3]
    pose = get(client, f"/api/clips/{clip.clip_id}/pose")
    assert (pose["fps"], pose["width"], pose["height"], pose["layout"]) == (24.0, 320, 320, "dwpose")
    assert len(pose["frames"]) == clip.pose.n_frames and len(pose["frames"][0]) == 128
    got = np.array([[p[:2] for p in f] for f in pose["frames"]], dtype=float)
    want = clip.pose.xy[:, 0]
    assert np.nanmax(np.abs(got - want)) < 0.02
    assert np.isnan(got[:, 86:107]).all()   # clip 3 has no left hand: null, never invented
    plans = draw_plan("dwpose", "dwpose")
    assert [c["name"] for c in pose["components"]] == [p.name for p in plans] == \
        ["body", "left_hand", "right_hand", "face"]
    body = pose["components"][0]
    assert body["limb_shape"] == "ellipse" and body["limb_alpha"] == 0.6 and len(body["limbs"]) == 17
    assert body["limb_colors"][0] == [255, 0, 0] and body["limbs"][0] == [1, 2]
    layout = get(client, "/api/layouts/dwpose?style=dwpose")
    assert layout["components"] == pose["components"] and len(layout["points"]) == 128


def test_video_served_with_range_requests(client):
    r = client.get("/api/clips/v00-001/video", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == VIDEO_BYTES[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(VIDEO_BYTES)}"
    r = client.get("/api/clips/v00-001/video")
    assert r.status_code == 200 and r.content == VIDEO_BYTES
    assert get(client, "/api/clips/v00-000")["video"] is True
    # a ledger entry that is not a video file, or a URL, is not served
    for clip_id in ("v01-003", "v02-006", "v05-015"):
        assert get(client, f"/api/clips/{clip_id}")["video"] is False
        assert get(client, f"/api/clips/{clip_id}/video", 404)["error"]


@pytest.mark.parametrize("url", [
    "/api/clips/nope", "/api/clips/nope/pose", "/api/clips/nope/video",
    "/api/clips/..%2F..%2F..%2Fetc%2Fpasswd", "/api/clips/../../etc/passwd",
    "/api/clips/%2Fetc%2Fpasswd/video", "/api/clips//etc/passwd", "/static/..%2Fapp.py",
    "/static/../app.py", "/static/%2E%2E%2Fsource.py", "/static//etc/passwd", "/static/app.py",
    "/etc/passwd", "/api/layouts/..%2F..", "/api/clips/v00-000/pose?field=..%2F..%2Fclips",
    "/api/clips/v00-000/pose?source=compare",
])
def test_no_request_reaches_a_file_outside_path(client, url):
    r = client.get(url)
    assert r.status_code == 404, (url, r.status_code)
    body = strict(r.text)
    assert body["status"] == 404 and "Traceback" not in r.text and "root:" not in r.text


@pytest.mark.parametrize("url", [
    "/api/clips?sort=clip_id;DROP TABLE clips", "/api/clips?sort=nosuch", "/api/clips?limit=0",
    "/api/clips?limit=100000", "/api/clips?offset=-1", "/api/clips?limit=abc",
    "/api/clips?min_left_hand_frac=nan", "/api/clips?min_nosuch=1", "/api/clips?min_face_frac=x",
    "/api/clips/v00-000/pose?person=x", "/api/clips/v00-000/pose?person=5",
    "/api/clips/v00-000/pose?style=nosuch",
])
def test_bad_parameters_are_400_json(client, url):
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code, r.text)
    assert strict(r.text)["error"]
    assert get(client, "/api/clips?limit=1")["total"] == 30   # the table is still there


def test_read_only_and_local_hosts_only(client):
    for method in ("post", "put", "delete", "patch"):
        r = getattr(client, method)("/api/clips")
        assert r.status_code == 405 and strict(r.text)["status"] == 405
    assert client.get("/api/info", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/info", headers={"host": "localhost:8765"}).status_code == 200


def test_page_info_and_stats(client, corpus):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas id=\"pose-canvas\"" in page.text
    assert client.get("/static/app.js").status_code == 200
    info = get(client, "/api/info")
    assert info["kind"] == "corpus" and info["clips"] == 30 and info["compare"] is None
    assert {v["value"] for v in info["languages"]} == set(LANGS)
    from signverse.pipeline.stats import corpus_stats
    stats = get(client, "/api/stats")
    want = json.loads(json.dumps(corpus_stats(corpus[0])))
    assert stats["clips"] == want["clips"] == 30 and stats["languages"] == want["languages"]
    assert stats["qc"]["left_hand_frac"] == want["qc"]["left_hand_frac"]


def test_other_sources_and_compare(tmp_path, corpus):
    """A release tar, a folder of .pose files (with a video beside one), one .pose file, and
    --compare with a single file beside every clip."""
    from signverse.io.transcode import convert_path
    tar = tmp_path / "Sign_DWPose_NPZ_000001.tar"
    convert_path(corpus[0], tar)
    folder = tmp_path / "poses"
    convert_path(corpus[0], folder, fmt="pose")
    (folder / "v00-000.mp4").write_bytes(VIDEO_BYTES)
    (folder / "broken.pose").write_bytes(b"not a pose file")
    single = folder / "v01-004.pose"

    with open_source(tar) as release:
        c = TestClient(create_app(release), base_url="http://127.0.0.1")
        page = get(c, "/api/clips?limit=500")
        assert page["total"] == 30   # every clip, each stored under its clip id (none lost)
        vid = page["clips"][0]["clip_id"]
        assert get(c, f"/api/clips/{vid}")["qc"]["face_frac"] == 1.0
        assert len(get(c, f"/api/clips/{vid}/pose")["frames"]) > 0
        assert get(c, "/api/info")["kind"] == "release"
    with open_source(folder) as poses, open_source(single) as one:
        assert poses.failures and "broken" in poses.failures[0]
        c = TestClient(create_app(poses, compare=one), base_url="http://127.0.0.1")
        assert get(c, "/api/clips?limit=500")["total"] == 30
        assert get(c, "/api/clips/v00-000")["video"] is True
        r = c.get("/api/clips/v00-000/video", headers={"Range": "bytes=0-9"})
        assert r.status_code == 206 and r.content == VIDEO_BYTES[:10]
        other = get(c, "/api/clips/v00-000/pose?source=compare")
        assert other["clip_id"] == "v01-004" and other["source"] == "compare"
        assert get(c, "/api/info")["compare"]["clips"] == 1
        tmp = poses._tmp
    assert not tmp.exists()   # the private corpus is removed on close


def test_unreadable_path_is_one_line_error(tmp_path):
    from signverse.core import SignverseError
    with pytest.raises(SignverseError, match="no such file"):
        open_source(tmp_path / "absent")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.pose").write_bytes(b"garbage")
    with pytest.raises(SignverseError, match="no pose sequence could be read"):
        open_source(bad)
    assert not list(tmp_path.glob("signverse-view-*"))


def test_relative_paths_like_the_demo(tmp_path, monkeypatch):
    """`signverse view demo-out/corpus`: a relative corpus path, and ledger video paths relative
    to where extract ran."""
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "v00.mp4").write_bytes(VIDEO_BYTES)
    monkeypatch.chdir(tmp_path)
    make_corpus(tmp_path / "out" / "corpus", n=6, video_file="videos/v00.mp4")
    with open_source("out/corpus") as source:
        c = TestClient(create_app(source), base_url="http://127.0.0.1")
        assert get(c, "/api/clips/v00-000")["video"] is True
        r = c.get("/api/clips/v00-000/video", headers={"Range": "bytes=5-9"})
        assert r.status_code == 206 and r.content == VIDEO_BYTES[5:10]

"""Acquisition with yt-dlp against a local HTTP server (never the internet)."""
from __future__ import annotations


import pytest

from signverse.core import VideoRecord
from signverse.pipeline.acquire import Downloader, Prefetcher, choose_subtitle_languages

pytest.importorskip("yt_dlp")


def _site(root, make_video, n=3):
    """n video pages, each a real video with an English caption track (HTML5 <track>)."""
    for i in range(n):
        make_video(root / f"v{i}.mp4", seconds=0.5, seed=i)
        (root / f"v{i}.vtt").write_text(f"WEBVTT\n\n00:00:00.000 --> 00:00:00.400\nsign {i}\n")
        (root / f"v{i}.html").write_text(
            f'<html><body><video controls><source src="v{i}.mp4" type="video/mp4">'
            f'<track kind="captions" src="v{i}.vtt" srclang="en" label="English"></video></body></html>')


def test_download_video_and_subtitles_through_generic_extractor(http_root, make_video, tmp_path):
    root, base, _ = http_root
    _site(root, make_video, 1)
    fetched = Downloader(tmp_path / "cache").fetch(VideoRecord("page0", url=f"{base}/v0.html"))
    rec = fetched.record
    assert fetched.downloaded and rec.path.endswith("page0/page0.mp4")
    assert open(rec.path, "rb").read() == (root / "v0.mp4").read_bytes()
    assert [c.rsplit("/", 1)[1] for c in rec.captions] == ["page0.en.vtt"]
    assert "sign 0" in open(rec.captions[0]).read()
    # A direct file URL works too; a missing one is a one-line reason, not an exception.
    direct = Downloader(tmp_path / "cache").fetch(VideoRecord("direct", url=f"{base}/v0.mp4"))
    assert direct.record.captions == ()
    with pytest.raises(Exception, match="download failed.*404"):
        Downloader(tmp_path / "cache").fetch(VideoRecord("gone", url=f"{base}/gone.mp4"))
    assert not (tmp_path / "cache" / "gone").exists()


def test_prefetch_is_bounded_and_deletes_after_processing(http_root, make_video, tmp_path):
    root, base, requests = http_root
    _site(root, make_video, 3)
    cache = tmp_path / "cache"
    records = [VideoRecord(f"v{i}", url=f"{base}/v{i}.html") for i in range(3)]
    records.insert(1, VideoRecord("local", path=str(root / "v0.mp4")))
    records.append(VideoRecord("bad", url=f"{base}/nothing.html"))
    pre = Prefetcher(records, Downloader(cache), max_videos=1).start()
    first = pre.get(timeout=30)
    assert first.record.video_id == "v0"
    local = pre.get(timeout=30)
    assert local.record.video_id == "local" and not local.downloaded
    # The cache holds one unprocessed video: v1 must not be fetched until v0 is released.
    assert pre.get(timeout=1.5) is None
    assert not any("v1" in r for r in requests) and pre.held() == 1
    assert (cache / "v0").is_dir()
    pre.release("v0")
    assert not (cache / "v0").exists()
    second = pre.get(timeout=30)
    assert second.record.video_id == "v1" and (cache / "v1" / "v1.en.vtt").is_file()
    pre.release("v1")
    third = pre.get(timeout=30)
    pre.release("v2")
    bad = pre.get(timeout=30)
    assert third.record.video_id == "v2" and bad.record.video_id == "bad" and "download failed" in bad.error
    assert pre.get(timeout=30) is None and pre.exhausted
    assert pre.peak_videos == 1 and not any(cache.iterdir())


def test_keep_and_byte_bound(http_root, make_video, tmp_path):
    root, base, _ = http_root
    _site(root, make_video, 2)
    records = [VideoRecord(f"v{i}", url=f"{base}/v{i}.mp4") for i in range(2)]
    pre = Prefetcher(records, Downloader(tmp_path / "c"), max_videos=10, max_bytes=1, keep=True).start()
    a = pre.get(timeout=30)
    assert pre.get(timeout=1.0) is None          # one video already exceeds the byte bound
    pre.release(a.record.video_id)
    b = pre.get(timeout=30)
    pre.release(b.record.video_id)
    assert (tmp_path / "c" / "v0" / "v0.mp4").is_file() and (tmp_path / "c" / "v1" / "v1.mp4").is_file()


def test_subtitle_choice_follows_the_release():
    info = {"subtitles": {"de": [], "live_chat": []},
            "automatic_captions": {"de-orig": [], "en": [], "fr": [], "de": []}}
    assert choose_subtitle_languages(info) == ["de", "de-orig", "en"]
    assert choose_subtitle_languages({"language": "ja", "automatic_captions": {"ja": [], "en": []}}) == ["ja", "en"]
    assert choose_subtitle_languages({"subtitles": {"en": []}, "automatic_captions": {"en": []}}) == ["en"]

"""WebVTT / SRT parsing and cleaning, rolling auto-captions, captions.json."""
from __future__ import annotations

import json

import pytest

from signverse.core.errors import InputError
from signverse.core.records import Segment
from signverse.io.captions import (captions_json_dict, clean_text, format_vtt, language_from_filename,
                                   parse_srt, parse_vtt, read_captions, read_captions_json,
                                   write_captions_json)

# What YouTube serves for auto-generated captions: word timestamps, <c> spans, cue settings,
# each cue repeating the previous line, 10 ms "snapshot" cues, and lines holding one space.
ROLLING = """WEBVTT
Kind: captions
Language: en

00:00:00.160 --> 00:00:02.350 align:start position:0%
 
welcome<00:00:00.480><c> to</c><00:00:00.800><c> the</c><00:00:01.120><c> sign</c><00:00:01.600><c> language</c>

00:00:02.350 --> 00:00:02.360 align:start position:0%
welcome to the sign language
 

00:00:02.360 --> 00:00:04.870 align:start position:0%
welcome to the sign language
channel<00:00:02.800><c> today</c><00:00:03.200><c> we</c><00:00:03.520><c> learn</c>

00:00:04.870 --> 00:00:04.880 align:start position:0%
channel today we learn
 

00:00:04.880 --> 00:00:07.000 align:start position:0%
channel today we learn
colors<00:00:05.300><c> and</c><00:00:05.700><c> numbers</c>

00:00:07.000 --> 00:00:07.010 align:start position:0%
colors and numbers
 
"""


def test_rolling_auto_captions_are_collapsed(tmp_path):
    path = tmp_path / "dQw4w9WgXcQ.en.vtt"
    path.write_text(ROLLING, encoding="utf-8")
    segments = parse_vtt(path)
    assert [s.text for s in segments] == ["welcome to the sign language", "channel today we learn",
                                          "colors and numbers"]
    assert [(s.start, s.end) for s in segments] == [(0.16, 2.35), (2.36, 4.87), (4.88, 7.0)]
    assert {s.language for s in segments} == {"en"}
    words = " ".join(s.text for s in segments).split()
    assert len(words) == len(set(words))        # no word appears twice
    raw = parse_vtt(ROLLING, collapse=False)    # without collapsing, the repeats are there
    assert len(" ".join(s.text for s in raw).split()) > len(words)


def test_growing_captions_keep_only_new_words():
    text = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello\n\n00:00:02.000 --> 00:00:03.000\n"
            "hello everyone\n\n00:00:03.000 --> 00:00:04.000\nhello everyone welcome\n\n"
            "00:00:09.000 --> 00:00:10.000\nno no no\n")
    assert [s.text for s in parse_vtt(text)] == ["hello", "everyone", "welcome", "no no no"]


def test_cleaning_tags_entities_invisible_and_blocks():
    text = ("\ufeffWEBVTT - some title\n\nSTYLE\n::cue { color: lime }\n\nNOTE this is a comment\n"
            "spanning lines\n\nREGION\nid:fred width:40%\n\n"
            "intro\n00:01.000 --> 00:02.500 line:0 align:middle\n<v Roger>Tom &amp; <b>Jerry</b>&nbsp;&lt;3\n"
            "<c.colorE5E5E5>second</c>\u200b line\n\n"
            "00:00:03.000 --> 00:00:04.000\n<i> </i>\n\n"
            "00:00:04.000 --> 00:00:05.000\n<ruby>漢<rt>kan</rt></ruby> ok\n")
    segments = parse_vtt(text, language="en")
    assert segments == [Segment(1.0, 2.5, "Tom & Jerry <3 second line", "en"),
                        Segment(4.0, 5.0, "漢kan ok", "en")]
    assert clean_text("a\u200d\u2060b  <00:00:01.000>c\ufeff") == "ab c"
    assert clean_text("{\\an8}<font color=\"#fff\">top</font>") == "top"


def test_srt():
    srt = ("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i>\r\nthere\r\n\r\n"
           "2\r\n00:00:03,000 --> 00:00:04,000 X1:10 X2:20\r\n\r\n"
           "3\r\n01:00:05,5 --> 01:00:06,000\r\nlate &amp; long\r\n")
    assert parse_srt(srt, language="de") == [Segment(1.0, 2.5, "Hello there", "de"),
                                             Segment(3605.5, 3606.0, "late & long", "de")]


def test_bad_caption_files_name_the_file(tmp_path):
    bad = tmp_path / "x.en.vtt"
    bad.write_text("00:00:01.000 --> 00:00:02.000\nno header\n")
    with pytest.raises(InputError, match=str(bad)):
        parse_vtt(bad)
    bad.write_text("WEBVTT\n\n00:00:01.000 --> 00:0x:02.000\ntext\n")
    with pytest.raises(InputError, match=rf"{bad}: line 3: bad cue timing"):
        read_captions(bad)
    bad.write_bytes(b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_vtt(bad)
    srt = tmp_path / "y.srt"
    srt.write_text("just some text\nwithout cues\n")
    with pytest.raises(InputError, match=f"{srt}: no SRT cues"):
        parse_srt(srt)
    with pytest.raises(InputError, match="unknown caption file type"):
        read_captions(tmp_path / "z.txt")
    with pytest.raises(InputError, match="cannot read"):
        parse_vtt(tmp_path / "missing.vtt")


def test_language_from_filename_and_format_round_trip():
    assert language_from_filename("abc_-123XYZ.de.vtt") == "de"
    assert language_from_filename("abc.en-US.vtt") == "en-US"
    assert language_from_filename("abc.vtt") is None
    assert language_from_filename("abc.captions.json") is None
    segments = [Segment(0.0, 1.25, "a < b & c", "en"), Segment(3723.5, 3724.0, "later", "en")]
    text = format_vtt(segments)
    assert "01:02:03.500 --> 01:02:04.000" in text
    assert parse_vtt(text, language="en") == segments


def test_captions_json_round_trip(tmp_path):
    segments = {"en": [Segment(0.5, 1.0, "hi", "en"), Segment(1.0, 2.0, "there", "en")],
                "ase": []}
    path = write_captions_json(tmp_path / "v1.captions.json", "v1", segments)
    doc = json.loads(path.read_text())
    assert doc["subtitle_texts"] == {"en": "hi there", "ase": ""} and doc["subtitle_en"] == "hi there"
    back = read_captions_json(path)
    assert back.video_id == "v1" and back.segments == segments and back.languages == ["en", "ase"]
    assert back.vtt_paths["en"] == "v1.en.vtt" and back.subtitle_en_source == "manual_or_auto_en"
    # a translated English track is named as such when the caller says so
    doc = captions_json_dict("v2", {"de": [Segment(0, 1, "hallo", "de")]},
                             subtitle_en_source="translated_from_de")
    assert doc["subtitle_en"] == "" and doc["subtitle_en_source"] == "translated_from_de"


def test_bad_captions_json(tmp_path):
    path = tmp_path / "v.captions.json"
    path.write_text("{")
    with pytest.raises(InputError, match=f"{path}: not valid JSON"):
        read_captions_json(path)
    path.write_text(json.dumps({"languages": {"en": {"segments": [{"start_sec": "x", "text": 1}]}}}))
    with pytest.raises(InputError, match=r"languages.en.segments\[0\]"):
        read_captions_json(path)

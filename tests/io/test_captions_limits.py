"""Captions that are huge or hostile: time linear in lines per cue; non-finite times reject one cue."""
from __future__ import annotations

import json
import time

from signverse.io.captions import _overlap, parse_vtt, read_captions_json


def test_collapsing_is_linear_in_lines_per_cue():
    n = 40_000   # two cues of 40,000 different lines: quadratic collapsing took ~9 s, now well under 1
    first = "\n".join(f"a{i}" for i in range(n))
    second = "\n".join(f"b{i}" for i in range(n))
    text = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{first}\n\n00:00:02.000 --> 00:00:03.000\n{second}\n"
    t0 = time.perf_counter()
    segments = parse_vtt(text)
    assert time.perf_counter() - t0 < 3.0
    assert len(segments) == 2 and segments[1].text.startswith("b0 b1")


def test_overlap_matches_the_definition():
    import random
    rng = random.Random(0)
    for _ in range(3000):
        prev = [rng.choice("ab") for _ in range(rng.randint(0, 7))]
        new = [rng.choice("ab") for _ in range(rng.randint(0, 7))]
        best = max((k for k in range(min(len(prev), len(new)) + 1) if new[:k] == prev[len(prev) - k:]))
        assert _overlap(prev, new) == best, (prev, new)


def test_rolling_captions_still_collapse():
    text = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello there\n\n"
            "00:00:02.000 --> 00:00:03.000\nhello there\ngeneral kenobi\n")
    assert [s.text for s in parse_vtt(text)] == ["hello there", "general kenobi"]


def test_non_finite_times_reject_that_cue_only(tmp_path):
    path = tmp_path / "v.captions.json"
    # Python's json writes NaN/Infinity literals; a hostile file may hold them or "inf" strings.
    path.write_text(json.dumps({"video_id": "v", "languages": {"en": {"segments": [
        {"start_sec": 0.0, "end_sec": 1.0, "text": "good"},
        {"start_sec": 1.0, "end_sec": float("inf"), "text": "endless"},
        {"start_sec": float("nan"), "end_sec": 2.0, "text": "nowhen"},
        {"start_sec": "-inf", "end_sec": 2.0, "text": "before time"},
        {"start_sec": 2.0, "end_sec": 3.0, "text": "also good"}]}}}))
    caps = read_captions_json(path)
    assert [s.text for s in caps.segments["en"]] == ["good", "also good"]
    assert len(caps.problems) == 3
    assert all(str(path) in p and "cue rejected" in p for p in caps.problems)
    assert "segments[1]" in caps.problems[0]


def test_hostile_captions_json_is_one_line_error_naming_the_file(tmp_path):
    """Found by fuzzing: nesting 50,000 deep (RecursionError), a 5000-digit number (ValueError
    from int parsing) and a 400-digit start time (OverflowError) used to end in a traceback."""
    import pytest
    from signverse.core.errors import InputError
    cases = {
        "deep.captions.json": "[" * 50_000 + "]" * 50_000,
        "digits.captions.json": '{"video_id": ' + "1" * 5000 + "}",
        "overflow.captions.json": '{"languages": {"en": {"segments": [{"start_sec": ' + "1" * 400
                                  + ', "end_sec": 1, "text": "a"}]}}}',
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as err:
            read_captions_json(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value), name


def test_absurd_hours_are_a_bad_cue_timing_not_a_crash(tmp_path):
    """A 400-digit hour overflowed float and a 5000-digit one failed int parsing (tracebacks)."""
    import pytest
    from signverse.core.errors import InputError
    from signverse.io.captions import read_captions
    for digits in (400, 5000):
        path = tmp_path / f"h{digits}.en.vtt"
        path.write_text("WEBVTT\n\n" + "9" * digits + ":00:01.000 --> 00:00:02.000\nhi\n")
        with pytest.raises(InputError, match="bad cue timing") as err:
            read_captions(path)
        assert str(path) in str(err.value)
    path = tmp_path / "ok.en.vtt"   # long but honest hours still read
    path.write_text("WEBVTT\n\n123:00:01.000 --> 123:00:02.500\nhi\n")
    (cue,) = read_captions(path)
    assert (cue.start, cue.end, cue.text) == (442801.0, 442802.5, "hi")


def test_a_caption_file_linked_to_dev_zero_is_refused(tmp_path):
    import os
    import pytest
    from signverse.core.errors import InputError
    from signverse.io.captions import read_captions
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    link = tmp_path / "v.en.vtt"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        read_captions(link)

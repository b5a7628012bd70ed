import json
from collections import Counter

import pytest

from signverse.core.errors import InputError, SignverseError
from signverse.tasks.splits import (Split, assert_disjoint, kfold_by_signer, make_split, split_by,
                                    stable_unit)


def make_items(n_signers=40, per_signer=25, videos_per_signer=5):
    # Uneven signer sizes, several videos per signer.
    items = []
    for s in range(n_signers):
        for i in range(per_signer + (s % 7)):
            items.append({"id": f"p{s}-{i}", "signer": f"p{s}", "video_id": f"p{s}-v{i % videos_per_signer}"})
    return items


def groups_of(split, items, key):
    part = split.part_of()
    out = {}
    for it in items:
        out.setdefault(part[it["id"]], set()).add(it[key])
    return out


@pytest.mark.parametrize("protocol", ["signer-90-5-5", "signer-80-20", "signer-70-15-15",
                                      "signer-kfold-5-0", "signer-kfold-5-4"])
def test_no_signer_leakage(protocol):
    items = make_items()
    split = make_split(protocol, items, seed=3)
    g = groups_of(split, items, "signer")
    parts = [p for p in g.values()]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            assert not parts[a] & parts[b]
    assert_disjoint(split, items, "signer")
    # every item in exactly one part
    assert sorted(split.train + split.dev + split.test) == sorted(it["id"] for it in items)


@pytest.mark.parametrize("protocol", ["video-80-20", "video-90-5-5"])
def test_no_video_leakage_and_proportions(protocol):
    items = [{"id": f"c{i}", "video_id": f"v{i // 3}"} for i in range(6000)]   # 2000 videos
    split = make_split(protocol, items, seed=7)
    assert_disjoint(split, items, "video")
    sizes = split.sizes()
    n = len(items)
    if protocol == "video-80-20":
        assert sizes["dev"] == 0
        assert abs(sizes["train"] / n - 0.8) < 0.04 and abs(sizes["test"] / n - 0.2) < 0.04
    else:
        assert abs(sizes["train"] / n - 0.9) < 0.03
        assert abs(sizes["dev"] / n - 0.05) < 0.02 and abs(sizes["test"] / n - 0.05) < 0.02


def test_signer_proportions_balanced():
    items = make_items()
    split = make_split("signer-90-5-5", items, seed=11)
    n = len(items)
    sizes = split.sizes()
    # whole signers (25-31 items of 1120) can move a part by ~3 percentage points at most
    assert abs(sizes["dev"] / n - 0.05) < 0.03 and abs(sizes["test"] / n - 0.05) < 0.03
    assert sizes["dev"] > 0 and sizes["test"] > 0


def test_few_signers_still_fill_every_part():
    items = make_items(n_signers=3, per_signer=10)
    split = make_split("signer-90-5-5", items, seed=0)
    assert all(v > 0 for v in split.sizes().values())
    assert_disjoint(split, items)


def test_determinism_and_order_independence():
    items = make_items()
    a = make_split("signer-90-5-5", items, seed=5)
    b = make_split("signer-90-5-5", list(reversed(items)), seed=5)
    assert a == b
    c = make_split("signer-90-5-5", items, seed=6)
    assert c.test != a.test
    # the hash is fixed (first 8 bytes of SHA-1("0:x") / 2**64): guards against scheme changes
    # (sha1(b"0:x") starts 8f938d846fee7300 -> 0x8f938d846fee7300 / 2**64 = 0.56084522708...)
    assert stable_unit("x", 0) == pytest.approx(0.5608452270825468, rel=1e-15)
    assert stable_unit("x", 0) == stable_unit("x", 0) != stable_unit("x", 1)


def test_hash_video_split_is_stable_when_data_grows():
    items = [{"id": f"c{i}", "video_id": f"v{i}"} for i in range(500)]
    small = split_by(items, "video", (0.8, 0.2), seed=1)
    big = split_by(items + [{"id": f"c{i}", "video_id": f"v{i}"} for i in range(500, 900)],
                   "video", (0.8, 0.2), seed=1)
    assert set(small.test) <= set(big.test) and set(small.train) <= set(big.train)


def test_kfold_covers_every_signer_once_and_balances():
    items = make_items(n_signers=23)
    tests = [set(kfold_by_signer(items, 5, f, seed=2).test) for f in range(5)]
    all_ids = {it["id"] for it in items}
    assert set().union(*tests) == all_ids
    assert sum(len(t) for t in tests) == len(all_ids)
    sizes = [len(t) for t in tests]
    assert max(sizes) - min(sizes) <= 31       # within one signer's size
    signer_folds = Counter()
    for f, t in enumerate(tests):
        for s in {it["signer"] for it in items if it["id"] in t}:
            signer_folds[s] += 1
    assert set(signer_folds.values()) == {1}
    with pytest.raises(SignverseError):
        kfold_by_signer(make_items(n_signers=3), 5, 0)


def test_split_json_roundtrip(tmp_path):
    items = make_items(n_signers=6, per_signer=4)
    split = make_split("signer-kfold-3-1", items, seed=9)
    path = split.save(tmp_path / "run" / "split.json")
    loaded = Split.load(path)
    assert loaded == split and loaded.protocol == "signer-kfold-3-1" and loaded.seed == 9
    assert json.loads(path.read_text())["test"] == list(split.test)
    assert split.select(items, "test") == [it for it in items if it["id"] in set(split.test)]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match="bad.json"):
        Split.load(bad)


def test_unknown_protocol_and_duplicate_ids():
    with pytest.raises(SignverseError, match="unknown split protocol"):
        make_split("random", make_items(2, 2))
    with pytest.raises(SignverseError, match="unique"):
        split_by([{"id": "a", "signer": "x"}, {"id": "a", "signer": "y"}], "signer", (0.5, 0.5))


def test_signverse2m_manifest_video_splits(shared_data):
    # The real SignVerse-2M manifest: 39,197 rows of video_id,sign_language (no header, CRLF).
    path = shared_data("signverse2m", "metadata.csv")
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    first_lang: dict[str, str] = {}
    for vid, lang in rows:
        first_lang.setdefault(vid, lang)          # a repeated id would be one item
    items = [{"id": vid, "video_id": vid, "sign_language": lang} for vid, lang in first_lang.items()]
    n = len(items)
    assert n > 39_000
    for protocol, want in (("video-80-20", {"train": 0.8, "dev": 0.0, "test": 0.2}),
                           ("video-90-5-5", {"train": 0.9, "dev": 0.05, "test": 0.05})):
        split = make_split(protocol, items, seed=0)
        sizes = split.sizes()
        assert sum(sizes.values()) == n
        for part, frac in want.items():
            assert abs(sizes[part] / n - frac) < 0.01, (protocol, part, sizes)
        # every large language is represented in test
        test_langs = Counter(it["sign_language"] for it in split.select(items, "test"))
        assert test_langs["ase"] > 0 and test_langs["gsg"] > 0
    assert make_split("video-80-20", items, seed=0) == make_split("video-80-20", items[::-1], seed=0)


def test_two_signers_three_parts():
    # Not enough signers for train/dev/test: train and test get one each, dev none.
    items = make_items(n_signers=2, per_signer=5)
    sizes = make_split("signer-90-5-5", items, seed=0).sizes()
    assert sizes["dev"] == 0 and sizes["train"] > 0 and sizes["test"] > 0

"""The clip table: the word index answers text searches exactly as the full scan does."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("duckdb")

from signverse.view.query import ClipQuery, ClipTable  # noqa: E402

TEXTS = ["Hello world", "hello, World!", "say HELLO", "hell's kitchen", "othello", "50% off_sale",
         "naïve café", "Grüße aus Köln", "x-ray x ray", "", None, "world-wide hello", "HELLOworld",
         "the end.", "über alles", "a_b c", "tab\tseparated words"]


def table():
    rows = []
    for i, text in enumerate(TEXTS * 3):
        rows.append({"clip_id": f"clip{i:03d}", "video_id": f"vid{i // 5}", "text": text,
                     "gloss": "HELLO-GLOSS" if i % 7 == 0 else None,
                     "sign_language": ("ase", "bfi")[i % 2], "qc_face_frac": (i % 10) / 10})
    return rows


@pytest.fixture(scope="module")
def tables():
    scan = ClipTable.from_rows(table())
    indexed = ClipTable.from_rows(table())
    indexed.build_word_index()
    return scan, indexed


@pytest.mark.parametrize("q", ["hello", "HELLO", "ell", "hello world", "hello, world", "world!", "o w",
                               "x ray", "x-ray", "50%", "off_sale", "_", "%", "caf", "café", "köln",
                               "grüße", "clip01", "vid2", "gloss", "-gloss", "nothing here", "d.",
                               "s k", "tab", "a_b", "b c", "e", "ate", "ds"])
def test_word_index_matches_the_scan(q, tables):
    scan, indexed = tables
    for extra in ({}, {"languages": ("bfi",)}, {"minimum": {"face_frac": 0.5}}):
        query = ClipQuery(q=q, limit=500, sort="clip_id", **extra)
        want = [c["clip_id"] for c in scan.page(query)["clips"]]
        got = [c["clip_id"] for c in indexed.page(query)["clips"]]
        assert got == want, (q, extra)
        expected = [r["clip_id"] for r in table()
                    if q.lower() in " ".join(str(r[k]) for k in ("text", "gloss", "clip_id", "video_id")
                                             if r[k] is not None).lower()
                    and (not extra.get("languages") or r["sign_language"] in extra["languages"])
                    and (not extra.get("minimum") or r["qc_face_frac"] >= 0.5)]
        assert want == sorted(expected), (q, extra)


def test_sort_orders_and_paging_agree():
    t = ClipTable.from_rows(table())
    t.warm()
    full = [c["clip_id"] for c in t.page(ClipQuery(limit=500, sort="-qc_face_frac"))["clips"]]
    paged = []
    for offset in range(0, len(full), 7):
        paged += [c["clip_id"] for c in t.page(ClipQuery(offset=offset, limit=7, sort="-qc_face_frac"))["clips"]]
    assert paged == full
    faces = [r["qc_face_frac"] for r in sorted(table(), key=lambda r: r["clip_id"])]
    order = np.argsort([-f for f in faces], kind="stable")
    assert [t.page(ClipQuery(limit=500, sort="-qc_face_frac"))["clips"][i]["qc_face_frac"] for i in range(5)] \
        == [faces[i] for i in order[:5]]


def test_sorted_pages_of_few_and_many_matches_agree_with_sql():
    """Both ways of sorting a filtered selection (rank lookup for few rows, a pass over the whole
    order for many) give DuckDB's ORDER BY (ties by clip id; descending: NULLs still last)."""
    import duckdb
    rows = [{"clip_id": f"c{i:04d}", "video_id": "v", "text": f"t{i % 37}", "n_frames": int(i * 7919 % 50),
             "sign_language": "ase" if i % 40 == 0 else "bfi", "qc_face_frac": None if i % 9 == 0 else (i % 13) / 13}
            for i in range(800)]
    t = ClipTable.from_rows(rows)
    con = duckdb.connect()
    con.execute("CREATE TABLE r (clip_id VARCHAR, n_frames INTEGER, sign_language VARCHAR, qc_face_frac DOUBLE)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?, ?)",
                    [(r["clip_id"], r["n_frames"], r["sign_language"], r["qc_face_frac"]) for r in rows])
    for language in ("ase", "bfi"):   # 20 rows (rank path) and 780 rows (full pass)
        for column in ("n_frames", "qc_face_frac"):
            got = [c["clip_id"] for c in t.page(ClipQuery(languages=(language,), sort=column, limit=500))["clips"]]
            want = [r[0] for r in con.execute(
                f"SELECT clip_id FROM r WHERE sign_language = ? ORDER BY {column} ASC NULLS LAST, clip_id "
                f"LIMIT 500", [language]).fetchall()]
            assert got == want, (language, column)
            got = [c[column] for c in t.page(ClipQuery(languages=(language,), sort=f"-{column}", limit=500))["clips"]]
            want = [r[0] for r in con.execute(
                f"SELECT {column} FROM r WHERE sign_language = ? ORDER BY {column} DESC NULLS LAST LIMIT 500",
                [language]).fetchall()]
            assert got == want, (language, column, "desc")

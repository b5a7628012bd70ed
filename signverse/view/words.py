"""A word index over the searched text of the clips table, so a text search does not scan it all.

The searched text (text, gloss, clip id, video id; lower-cased) is split into words (runs of
letters and digits). The index keeps the distinct words, sorted, and for each word the rows that
hold it (CSR arrays, built by DuckDB). A query is answered exactly, as a substring search:

- a query that is one run of letters and digits occurs in a row exactly when it is a substring
  of one of the row's words: the rows of every word containing it (a scan of the vocabulary,
  far smaller than the text);
- otherwise each of its runs must be a substring of some word of the row (candidate rows), and
  the candidates are checked against the full text by the caller.

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE clips AS SELECT * FROM (VALUES ('hello world'), ('say hello'), ('bye')) t(_search)")
>>> index = WordIndex.build(con)
>>> index.rows("ell").tolist(), index.rows("bye").tolist(), index.runs("hello, wor")
([0, 1], [2], ['hello', 'wor'])
"""
from __future__ import annotations

import re

import numpy as np

# Letters and digits (Python's \w without "_"); DuckDB splits with the same classes.
_RUN = re.compile(r"[^\W_]+")
SPLIT_SQL = r"[^\p{L}\p{N}]+"


class WordIndex:
    def __init__(self, words: list[str], offsets: np.ndarray, rows: np.ndarray):
        self.words = words
        self.offsets = offsets
        self.postings = rows
        self._joined = "\n".join(words)      # one string: the vocabulary scan is a C-speed find loop
        self._starts = np.cumsum([0] + [len(w) + 1 for w in words])

    @classmethod
    def build(cls, con, table: str = "clips") -> "WordIndex":
        cur = con.cursor()
        cur.execute(f"""CREATE TEMP TABLE _postings AS
            SELECT DISTINCT word, rid FROM (
                SELECT rowid AS rid, unnest(regexp_split_to_array(_search, '{SPLIT_SQL}')) AS word
                FROM {table}) WHERE word <> ''""")
        try:
            counts = cur.execute("SELECT word, count(*) AS n FROM _postings GROUP BY word "
                                 "ORDER BY word").fetchnumpy()
            rows = cur.execute("SELECT rid FROM _postings ORDER BY word, rid").fetchnumpy()["rid"]
        finally:
            cur.execute("DROP TABLE _postings")
        words = [str(w) for w in counts["word"]]
        offsets = np.concatenate([[0], np.cumsum(np.asarray(counts["n"], np.int64))])
        return cls(words, offsets, np.asarray(rows, np.int32))

    @staticmethod
    def runs(query: str) -> list[str]:
        return _RUN.findall(query.lower())

    def _words_containing(self, run: str) -> np.ndarray:
        hits, find, at = [], self._joined.find, 0
        while True:
            pos = find(run, at)
            if pos < 0:
                break
            word = int(np.searchsorted(self._starts, pos, side="right")) - 1
            hits.append(word)
            at = int(self._starts[word + 1])    # the next word: one hit per word is enough
        return np.asarray(hits, np.int64)

    def _rows_of_run(self, run: str) -> np.ndarray:
        words = self._words_containing(run)
        if not len(words):
            return np.zeros(0, np.int64)
        parts = [self.postings[self.offsets[w]:self.offsets[w + 1]] for w in words.tolist()]
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def rows(self, query: str) -> np.ndarray:
        """Rows whose words contain every run of the query (exact for a one-run query)."""
        runs = self.runs(query)
        if not runs:
            raise ValueError("the query has no letters or digits")
        result = None
        for run in sorted(set(runs), key=len, reverse=True):
            found = self._rows_of_run(run)
            result = found if result is None else np.intersect1d(result, found, assume_unique=True)
            if not len(result):
                break
        return result

    def exact(self, query: str) -> bool:
        """Whether :meth:`rows` is the exact answer (the query is one run of letters / digits)."""
        runs = self.runs(query)
        return len(runs) == 1 and runs[0] == query.lower()

"""Text vocabularies built from training data (character or word level; no downloads) and label maps."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from signverse.core.errors import InputError
from signverse.core.jsonio import dumps as json_dumps

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass
class Vocab:
    """Token <-> id map. ``level`` is ``"char"`` or ``"word"``; ids 0..3 are pad/bos/eos/unk.

    >>> v = Vocab.build(["hello world", "hello"], level="word")
    >>> v.decode(v.encode("hello there"))
    'hello <unk>'
    """

    tokens: list[str]
    level: str = "word"
    lowercase: bool = True
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in ("char", "word"):
            raise ValueError(f"vocab level must be 'char' or 'word', got {self.level!r}")
        self._index = {t: i for i, t in enumerate(self.tokens)}

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    @classmethod
    def build(cls, texts: Iterable[str], level: str = "word", min_count: int = 1,
              lowercase: bool = True, max_size: int | None = None) -> "Vocab":
        counts: Counter[str] = Counter()
        probe = cls(list(SPECIALS), level, lowercase)
        for text in texts:
            counts.update(probe.split(text))
        kept = [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        if max_size is not None:
            kept = kept[:max(0, max_size - len(SPECIALS))]
        return cls(list(SPECIALS) + kept, level, lowercase)

    def __len__(self) -> int:
        return len(self.tokens)

    def split(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        if self.level == "char":
            return list(text.strip())
        return _WORD.findall(text)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        ids = [self._index.get(t, self.unk_id) for t in self.split(text)]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int]) -> str:
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return ("" if self.level == "char" else " ").join(out)

    def to_dict(self) -> dict:
        return {"tokens": self.tokens, "level": self.level, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        return cls(list(d["tokens"]), d.get("level", "word"), d.get("lowercase", True))


@dataclass
class LabelMap:
    """Class names <-> ids, sorted so that the same label set always gives the same ids."""

    labels: list[str]

    @classmethod
    def build(cls, labels: Iterable[str]) -> "LabelMap":
        return cls(sorted(set(labels)))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            return -1

    def to_dict(self) -> dict:
        return {"labels": self.labels}

    @classmethod
    def from_dict(cls, d: dict) -> "LabelMap":
        return cls(list(d["labels"]))


def save_json(obj: dict, path: str | Path) -> None:
    Path(path).write_text(json_dumps(obj, indent=1, ensure_ascii=False))


def load_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None

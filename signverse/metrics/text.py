"""Corpus-level text metrics through sacrebleu (BLEU-4 and chrF), scores on the 0-100 scale."""
from __future__ import annotations

from typing import Sequence

from signverse.core.errors import SignverseError, require


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    hyps, refs = [str(h) for h in hypotheses], [str(r) for r in references]
    if len(hyps) != len(refs):
        raise SignverseError(f"{len(hyps)} hypotheses but {len(refs)} references")
    return hyps, refs


def bleu(hypotheses: Sequence[str], references: Sequence[str], *, tokenize: str = "13a",
         lowercase: bool = False) -> float:
    """Corpus BLEU-4 (sacrebleu defaults: exp smoothing, 13a tokenizer), one reference per line."""
    hyps, refs = _check(hypotheses, references)
    sacrebleu = require("sacrebleu", "train")
    return float(sacrebleu.metrics.BLEU(tokenize=tokenize, lowercase=lowercase)
                 .corpus_score(hyps, [refs]).score)


def chrf(hypotheses: Sequence[str], references: Sequence[str], *, word_order: int = 0) -> float:
    """Corpus chrF (character 6-grams, beta 2); ``word_order=2`` gives chrF++."""
    hyps, refs = _check(hypotheses, references)
    sacrebleu = require("sacrebleu", "train")
    return float(sacrebleu.metrics.CHRF(word_order=word_order).corpus_score(hyps, [refs]).score)

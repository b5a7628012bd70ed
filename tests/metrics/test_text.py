import pytest

pytest.importorskip("sacrebleu")

from signverse.core.errors import SignverseError  # noqa: E402
from signverse.metrics import bleu, chrf  # noqa: E402


def test_bleu_perfect_and_disjoint():
    refs = ["the weather is fine today", "rain in the north"]
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert bleu(["xx yy zz qq", "aa bb cc dd"], refs) == pytest.approx(0.0, abs=1e-6)


def test_bleu_hand_computed():
    # hyp "a b c d" vs ref "a b c e": 1-4 gram precisions 3/4, 2/3, 1/2, 0/1 -> BLEU 0 without
    # smoothing; sacrebleu's default "exp" smoothing replaces the zero 4-gram count by 1/2^1:
    # precisions 3/4, 2/3, 1/2, 1/2 (0.5/1); BP = 1 -> exp(mean(log)) * 100.
    import math
    expected = 100 * math.exp((math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2) + math.log(1 / 2)) / 4)
    assert bleu(["a b c d"], ["a b c e"]) == pytest.approx(expected, rel=1e-6)


def test_chrf_range_and_mismatch():
    assert chrf(["guten morgen"], ["guten morgen"]) == pytest.approx(100.0)
    partial = chrf(["guten abend"], ["guten morgen"])
    assert 0 < partial < 100
    with pytest.raises(SignverseError):
        bleu(["a"], ["a", "b"])

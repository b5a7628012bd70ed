import numpy as np
import pytest

from signverse.core.errors import SignverseError
from signverse.metrics import (accuracy, confusion_matrix, macro_f1, per_class_topk_accuracy,
                               topk_accuracy)

# 4 instances, 3 classes.
SCORES = np.array([[0.7, 0.2, 0.1],    # label 0: rank 1
                   [0.5, 0.3, 0.2],    # label 1: rank 2
                   [0.6, 0.3, 0.1],    # label 2: rank 3
                   [0.1, 0.1, 0.8]])   # label 2: rank 1
LABELS = [0, 1, 2, 2]


def test_topk_accuracy_hand_computed():
    # top1 hits: rows 0, 3 -> 2/4; top2 hits: rows 0, 1, 3 -> 3/4; top3: all.
    assert topk_accuracy(SCORES, LABELS, 1) == 0.5
    assert topk_accuracy(SCORES, LABELS, 2) == 0.75
    assert topk_accuracy(SCORES, LABELS, 3) == 1.0


def test_per_class_topk_hand_computed():
    # top1 per class: class 0 -> 1/1, class 1 -> 0/1, class 2 -> 1/2; mean = (1 + 0 + 0.5) / 3 = 0.5
    mean, per_class = per_class_topk_accuracy(SCORES, LABELS, 1)
    np.testing.assert_allclose(per_class, [1.0, 0.0, 0.5])
    assert mean == pytest.approx(0.5)
    # top2: class 0 -> 1, class 1 -> 1, class 2 -> 1/2 -> mean 2.5/3
    mean2, _ = per_class_topk_accuracy(SCORES, LABELS, 2)
    assert mean2 == pytest.approx(2.5 / 3)


def test_per_class_ignores_absent_classes():
    # class 1 has no instance: NaN and left out of the mean -> (1 + 1) / 2
    mean, per_class = per_class_topk_accuracy([[1, 0, 0], [0, 0, 1]], [0, 2], 1)
    assert np.isnan(per_class[1]) and mean == 1.0


def test_ties_do_not_reward_constant_scores():
    # All scores equal: the true label ties with 2 others, so it is a top-3 hit, not a top-1 hit.
    scores = np.zeros((2, 3))
    assert topk_accuracy(scores, [0, 1], 1) == 0.0
    assert topk_accuracy(scores, [0, 1], 3) == 1.0


def test_topk_rejects_bad_shapes():
    with pytest.raises(SignverseError):
        topk_accuracy(np.zeros(3), [0, 1, 2], 1)
    with pytest.raises(SignverseError):
        topk_accuracy(np.zeros((2, 3)), [0, 3], 1)


def test_accuracy_and_macro_f1_hand_computed():
    ref = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    # accuracy 2/4. Per class: a: tp1 fn1 fp0 -> P=1 R=.5 F1=2/3; b: tp1 fp2 -> P=1/3 R=1 F1=.5;
    # c: tp0 -> F1 0. macro = (2/3 + 1/2 + 0) / 3 = 7/18
    assert accuracy(pred, ref) == 0.5
    assert macro_f1(pred, ref) == pytest.approx(7 / 18)
    cm, classes = confusion_matrix(pred, ref)
    assert classes == ["a", "b", "c"]
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])


def test_macro_f1_perfect_and_length_mismatch():
    assert macro_f1([1, 2, 2], [1, 2, 2]) == 1.0
    with pytest.raises(SignverseError):
        accuracy([1], [1, 2])

import numpy as np
import pytest

from signverse.core.errors import SignverseError
from signverse.tasks import TaskSpec, get_task, list_tasks, register_task


def test_registry_lists_builtin_tasks():
    assert {"text2pose", "pose2text", "islr", "langid"} <= set(list_tasks())
    islr = get_task("islr")
    assert islr.inputs == ("pose",) and islr.targets == ("label",)
    assert "top5_per_class" in islr.metrics and islr.split_protocol.startswith("signer-")
    with pytest.raises(SignverseError, match="unknown task"):
        get_task("nope")


def test_islr_evaluate_hand_computed():
    # 3 instances, 6 classes. Row 0: label 0 ranked 1st. Row 1: label 1 ranked 6th (lowest).
    # Row 2: label 1 ranked 2nd. top1 = 1/3; top5 = 2/3 (row 1 is outside the top 5).
    # per class top1: class 0 -> 1, class 1 -> 0/2 -> mean 0.5; top5: class 0 -> 1, class 1 -> 1/2
    scores = np.array([[9, 1, 2, 3, 4, 5],
                       [5, 0, 1, 2, 3, 4],
                       [1, 8, 9, 0, 0, 0]], float)
    m = get_task("islr").evaluate(scores, [0, 1, 1])
    assert m["top1"] == pytest.approx(1 / 3) and m["top5"] == pytest.approx(2 / 3)
    assert m["top1_per_class"] == pytest.approx(0.5)
    assert m["top5_per_class"] == pytest.approx(0.75)
    assert m["n"] == 3
    assert set(m) >= {"top1", "top5", "top1_per_class", "top5_per_class", "n", "macro_f1"}


def test_langid_and_pose2text():
    m = get_task("langid").evaluate(["ase", "gsg", "ase"], ["ase", "gsg", "gsg"])
    assert m["accuracy"] == pytest.approx(2 / 3) and m["n"] == 3
    pytest.importorskip("sacrebleu")
    sent = "morgen gibt es im norden regen und gewitter"
    t = get_task("pose2text").evaluate([sent], [sent])
    assert t["bleu"] == pytest.approx(100.0) and t["chrf"] == pytest.approx(100.0)


def test_text2pose_averages_pose_metrics():
    ref = np.zeros((4, 128, 2))
    ref[:, 2] = [-1, 0]
    ref[:, 5] = [1, 0]     # shoulders, so ndtw works
    pred = ref + np.array([3.0, 4.0])
    m = get_task("text2pose").evaluate([pred, ref], [ref, ref], layout="dwpose")
    # pair 1: every joint off by 5 -> 5; pair 2: 0 -> mean 2.5; ndtw removes the shift -> 0
    assert m["dtw_mje"] == pytest.approx(2.5) and m["ndtw_mje"] == pytest.approx(0.0)
    assert m["n"] == 2 and m["n_undefined"] == 0
    no_shoulders = ref.copy()
    no_shoulders[:, [2, 5]] = np.nan
    m2 = get_task("text2pose").evaluate([no_shoulders, pred], [ref, ref], layout="dwpose")
    assert m2["n_undefined"] == 1 and m2["ndtw_mje"] == pytest.approx(0.0)


def test_register_custom_task():
    spec = TaskSpec("test-only-acc", inputs=("pose",), targets=("label",), metrics=("accuracy",),
                    split_protocol="video-80-20",
                    evaluator="signverse.tasks.evaluators:evaluate_langid")
    register_task(spec, replace=True)
    assert get_task("test-only-acc").evaluate([1, 2], [1, 1])["accuracy"] == 0.5

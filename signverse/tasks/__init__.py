"""Task specifications: inputs, targets, metrics and split protocol of each benchmark task.

>>> from signverse.tasks import get_task, list_tasks
>>> list_tasks()
['islr', 'langid', 'pose2text', 'text2pose']
>>> get_task("islr").evaluate([[0.9, 0.1], [0.2, 0.8]], [0, 0])["top1"]
0.5
"""
from __future__ import annotations

from signverse.tasks.base import TASKS, TaskSpec, get_task, list_tasks, register_task
from signverse.tasks.splits import (Split, assert_disjoint, kfold_by_signer, list_protocols,
                                    make_split, split_by, split_groups)

_EV = "signverse.tasks.evaluators"
_POSE_METRICS = ("dtw_mje", "ndtw_mje", "dtw_mje_body", "dtw_mje_face", "dtw_mje_left_hand",
                 "dtw_mje_right_hand", "l2_aligned", "length_error")

register_task(TaskSpec(
    "text2pose", inputs=("text",), targets=("pose",), metrics=_POSE_METRICS,
    split_protocol="video-90-5-5", evaluator=f"{_EV}:evaluate_text2pose",
    description="sign production: text (or gloss) -> pose sequence",
    primary_metric="ndtw_mje", higher_is_better=False))
register_task(TaskSpec(
    "pose2text", inputs=("pose",), targets=("text",), metrics=("bleu", "chrf"),
    split_protocol="video-90-5-5", evaluator=f"{_EV}:evaluate_pose2text",
    description="sign translation: pose sequence -> spoken-language text", primary_metric="bleu"))
register_task(TaskSpec(
    "islr", inputs=("pose",), targets=("label",),
    metrics=("top1", "top5", "top1_per_class", "top5_per_class", "macro_f1"),
    split_protocol="signer-kfold-5-0", evaluator=f"{_EV}:evaluate_islr",
    description="isolated sign recognition: pose sequence -> gloss/word class (unseen signers)",
    primary_metric="top1_per_class"))
register_task(TaskSpec(
    "langid", inputs=("pose",), targets=("sign_language",), metrics=("accuracy", "macro_f1"),
    split_protocol="video-80-20", evaluator=f"{_EV}:evaluate_langid",
    description="sign-language identification: pose sequence -> ISO 639-3 sign language",
    primary_metric="macro_f1"))

__all__ = ["Split", "TASKS", "TaskSpec", "assert_disjoint", "get_task", "kfold_by_signer",
           "list_protocols", "list_tasks", "make_split", "register_task", "split_by", "split_groups"]

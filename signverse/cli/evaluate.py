"""``signverse evaluate RUN --data DATA``: the task's metrics of a trained run on DATA."""
from __future__ import annotations

import sys

from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="score a trained run on data (task metrics)",
                       description="Evaluate the model in RUN on every sample of DATA with the task's "
                                   "metrics (islr: top1/top5 per instance and per class, macro_f1; "
                                   "text2pose: DTW-MJE; pose2text: BLEU/chrF; langid: accuracy).")
    p.add_argument("run", help="run directory written by 'signverse train'")
    p.add_argument("--data", required=True, help="evaluation data (same kinds as for train)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print ONE JSON object with the metrics")
    p.add_argument("--save", action="store_true", help="also record the metrics in RUN/metrics.json")
    p.add_argument("--recognizer", metavar="ISLR_RUN",
                   help="text2pose: back-translate the generated poses with this islr run "
                        "(backtranslation_top1 / _top5)")
    p.add_argument("--baselines", action="store_true",
                   help="text2pose: also score the mean-sequence and nearest-training-example "
                        "baselines built from the run's training data")
    p.set_defaults(handler=run)


def run(args) -> int:
    import logging
    from signverse.train.run import evaluate_run, write_metrics
    import torch
    torch.set_num_threads(1)   # small models; avoids thread contention on shared CPUs
    logging.getLogger("signverse.train").setLevel(logging.ERROR)
    metrics = _metrics(args) if (args.recognizer or args.baselines or _is_text2pose(args.run)) else \
        evaluate_run(args.run, args.data, device=args.device)
    if metrics.get("warning"):
        print(f"warning: {metrics['warning']}", file=sys.stderr)
    if args.save:
        write_metrics(args.run, f"eval:{args.data}", metrics)
    if args.json:
        print(json_dumps(metrics))
    else:
        for k, v in _flat(metrics).items():
            print(f"{k:<22} {v:.4f}" if isinstance(v, float) else f"{k:<22} {v}")
    return 0


def _is_text2pose(run) -> bool:
    from signverse.train.checkpoint import read_run
    return read_run(run).task == "text2pose"


def _metrics(args) -> dict:
    """text2pose: DTW-MJE, velocity_ratio, back-translation, baselines (signverse.train.text2pose_eval)."""
    from signverse.core.errors import SignverseError
    from signverse.train.text2pose_eval import evaluate_text2pose_run
    if not _is_text2pose(args.run):
        raise SignverseError(f"--recognizer / --baselines apply to text2pose runs; {args.run} is not one")
    return evaluate_text2pose_run(args.run, args.data, recognizer=args.recognizer,
                                  baselines=args.baselines, device=args.device)


def _flat(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in metrics.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out

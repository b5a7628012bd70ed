"""``signverse train TASK --data DATA --out RUN``: train a task's model into a run directory."""
from __future__ import annotations

import json
from signverse.core.jsonio import dumps as json_dumps

TASKS = ("islr", "langid", "pose2text", "text2pose")
SIGNX_TASKS = ("signx-fusion", "signx-gloss", "signx-video2pose")


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model for a task (islr, langid, pose2text, text2pose, signx-*)",
                       description="Train a task's model into a run directory RUN (config.json, model.pt, "
                                   "vocab.json, split.json, metrics.json, log.jsonl). DATA: a corpus, an "
                                   "ISLR npz folder, an MP_Data folder, a PHOENIX folder or pose files with "
                                   "an index.csv. SignX: signx-fusion (self-supervised on DATA's poses), "
                                   "signx-gloss (DATA with labels; --set fusion_run=RUN to reuse a fusion "
                                   "model), signx-video2pose (DATA = videos; adds the ViT to the gloss run "
                                   "already in --out).")
    p.add_argument("task", choices=TASKS + SIGNX_TASKS)
    p.add_argument("--data", required=True, help="training data (see above)")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--model", help="registered model name (default: the task's SignDW model; "
                                   "names: signverse.models.list_models())")
    p.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads (default 1; 0 = torch default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (repeatable): a model config field (d_model=128), a "
                        "training field (lr=5e-4, batch_size=16, patience=5, refit_all=false) or a "
                        "task input field (text_level=word, max_frames=128)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="a quick check: at most N samples, evenly spread over DATA (signx-video2pose: "
                        "the first N videos)")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run in --out from its last checkpoint (same arguments)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar / progress lines (also: SIGNVERSE_PROGRESS=0)")
    p.add_argument("--json", action="store_true", help="print the dev metrics as one JSON object")
    p.set_defaults(handler=run)


def _parse_sets(items: list[str]) -> dict:
    from signverse.core.errors import SignverseError
    out = {}
    for item in items:
        if "=" not in item:
            raise SignverseError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _run_signx(args) -> int:
    from signverse.models.signx.train import train_task
    options = _parse_sets(args.set)
    if args.epochs is not None:
        options["steps" if args.task != "signx-gloss" else "epochs"] = args.epochs
    if args.limit:
        options["limit"] = args.limit
    metrics = train_task(args.task, args.data, args.out, **options)
    print(json_dumps(metrics) if args.json else f"trained {args.task} -> {args.out}: {metrics}")
    return 0


def run(args) -> int:
    if args.task in SIGNX_TASKS:
        return _run_signx(args)
    import dataclasses
    from signverse.train.recipes import get_recipe
    from signverse.train.run import train_task
    from signverse.train.trainer import TrainConfig
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    recipe_fields = {f.name for f in dataclasses.fields(get_recipe(args.task)().settings)}
    model_over, train_over, recipe_over = {}, {}, {}
    for key, value in _parse_sets(args.set).items():
        target = train_over if key in train_fields else recipe_over if key in recipe_fields else model_over
        target[key] = value
    if args.threads is not None:
        train_over["threads"] = args.threads
    samples = None
    if args.limit:
        from signverse.train.run import load_task_samples
        samples = load_task_samples(args.data, limit=args.limit)
    metrics = train_task(args.task, args.data, args.out, model=args.model, epochs=args.epochs,
                         device=args.device, seed=args.seed, model_overrides=model_over,
                         train_overrides=train_over, recipe_overrides=recipe_over, samples=samples,
                         resume=args.resume, progress=False if args.no_progress else None)
    if args.json:
        print(json_dumps(metrics["dev"]))
    else:
        dev = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics["dev"].items())
        print(f"trained {args.task} -> {args.out}  (best epoch {metrics['best_epoch']} of "
              f"{metrics['epochs_run']}, {metrics['train_seconds']} s)")
        print(f"dev: {dev or '-'}")
        if metrics.get("dev_note"):
            print(f"note: {metrics['dev_note']}")
    return 0

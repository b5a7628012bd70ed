"""``signverse info PATH [--json]``: what a pose file, release shard or corpus holds."""
from __future__ import annotations

from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("info", help="describe a .pose / poses.npz file, a release .tar, a folder or a corpus")
    p.add_argument("path", help=".pose, poses.npz, Sign_DWPose_NPZ_*.tar, a release folder, a corpus dir")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--limit", type=int, default=20, help="items listed one by one (default 20)")
    p.add_argument("--min-conf", type=float, default=None, metavar="C",
                   help="a point counts as visible at this confidence or above (default 0.5)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.io.describe import VISIBLE_CONF, describe_pose, format_pose_info
    from signverse.io.sources import iter_items, source_kind

    kind = source_kind(args.path)
    if kind == "corpus":
        return _corpus_info(args)
    failures: list = []
    items, totals = [], {"items": 0, "frames": 0, "duration_s": 0.0, "layouts": {}}
    for item in iter_items(args.path, failures):
        info = describe_pose(item.pose, VISIBLE_CONF if args.min_conf is None else args.min_conf)
        path = str(item.meta.get("path", ""))
        if path.lower().endswith(".pose"):
            from signverse.io.describe import pose_file_points
            info["points_in_file"] = pose_file_points(path)
        totals["items"] += 1
        totals["frames"] += info["frames"]
        totals["duration_s"] += info["duration_s"]
        totals["layouts"][info["layout"]] = totals["layouts"].get(info["layout"], 0) + 1
        if len(items) < args.limit:
            items.append((item.name, info))
    totals["duration_s"] = round(totals["duration_s"], 3)
    if args.json:
        body = items[0][1] if kind == "file" else {
            "kind": kind, **totals, "items_listed": [dict(name=n, **i) for n, i in items],
            "failures": [f.__dict__ for f in failures]}
        print(json_dumps(dict(body, kind=kind), indent=1))
    else:
        for name, info in items:
            print(format_pose_info(name, info))
        if kind != "file":
            print(f"{kind}: {totals['items']} sequences, {totals['frames']} frames, "
                  f"{totals['duration_s'] / 3600:.3f} h; layouts {totals['layouts']}")
        for f in failures:
            print(f"FAILED {f.name}: {f.reason}")
    return 1 if failures else 0


def _corpus_info(args) -> int:
    from signverse.io.corpus import open_corpus
    corpus = open_corpus(args.path)
    summary = corpus.summary()
    if args.json:
        print(json_dumps(summary, indent=1, default=str))
        return 0
    print(f"corpus {args.path}: {summary['clips']} clips from {summary['videos']} videos, "
          f"{summary['hours']:.3f} h, {summary['frames']} frames; pose fields: {', '.join(corpus.fields())}")
    for title, key in (("language", "languages"), ("split", "splits")):
        for name, row in summary[key].items():
            print(f"  {title} {name}: {row['videos']} videos, {row['clips']} clips, {row['hours']:.3f} h")
    return 0

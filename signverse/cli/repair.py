"""``signverse repair CORPUS``: rebuild the id index and the extraction ledger from the shards."""
from __future__ import annotations

from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("repair", help="rebuild a corpus's id index and ledger from its shards",
                       description="Takes the corpus's writer lock, removes unfinished files left by a "
                                   "crash, checks every shard, rebuilds the id index from the shards and "
                                   "rebuilds or reconciles the extraction ledger (a damaged ledger is "
                                   "kept beside as ledger.sqlite.corrupt-*). No clip is removed.")
    p.add_argument("corpus", help="corpus directory")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.io.corpus.repair import repair_corpus
    from signverse.pipeline.ledger import repair_ledger
    report = repair_corpus(args.corpus, also=[repair_ledger])
    if args.json:
        print(json_dumps(report.to_dict(), indent=1))
    else:
        print(f"{args.corpus}: {report.shards} shard(s), {report.clips} clip(s) of "
              f"{len(report.videos)} video(s)")
        for action in report.actions:
            print(f"  {action}")
    return 0 if report.ok else 1

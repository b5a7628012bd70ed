"""``signverse status``: what an extraction run has done, failed (with reasons) and left pending."""
from __future__ import annotations

from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("status", help="done / failed / pending videos of a corpus being extracted")
    p.add_argument("corpus", help="corpus directory written by 'signverse extract'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--all", action="store_true", help="list every failed and pending video")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.pipeline.ledger import Ledger
    with Ledger(args.corpus, create=False) as ledger:
        counts = ledger.counts()
        totals = ledger.totals()
        failed = ledger.rows("failed")
        pending = ledger.rows("pending") + ledger.rows("running")
        warned = [r for r in ledger.rows("done") if (r.info or {}).get("warnings")]
    if args.json:
        print(json_dumps({"corpus": str(args.corpus), "counts": counts, "totals": totals,
                          "failed": [{"video_id": r.video_id, "reason": r.reason, "attempts": r.attempts,
                                      "source": r.source} for r in failed],
                          "pending": sorted(r.video_id for r in pending),
                          "warnings": {r.video_id: r.info["warnings"] for r in warned}}, indent=1))
        return 0
    total = sum(counts.values())
    print(f"{args.corpus}: {total} videos: {counts['done']} done, {counts['failed']} failed, "
          f"{counts['pending'] + counts['running']} pending")
    print(f"done videos: {totals['clips']} clips stored ({totals['rejected_clips']} rejected by QC), "
          f"{totals['frames']} frames decoded, {totals['hours']:.2f} h of video")
    shown = failed if args.all else failed[:20]
    if failed:
        print("failed:")
        for r in shown:
            print(f"  {r.video_id} (attempts {r.attempts}): {r.reason}")
        if len(shown) < len(failed):
            print(f"  ... {len(failed) - len(shown)} more (--all)")
    if warned:
        print("done with warnings (clips kept from what the file holds):")
        for r in (warned if args.all else warned[:20]):
            print(f"  {r.video_id}: {'; '.join(r.info['warnings'])}")
        if not args.all and len(warned) > 20:
            print(f"  ... {len(warned) - 20} more (--all)")
    if pending and args.all:
        print("pending:")
        for r in pending:
            print(f"  {r.video_id}")
    return 0

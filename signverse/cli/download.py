"""``signverse download signverse2m DIR``: fetch SignVerse-2M release shards from the Hub."""
from __future__ import annotations

DEFAULT_REPO = "hf://datasets/SignerX/SignVerse-2M"


def register(sub) -> None:
    p = sub.add_parser(
        "download", help="download SignVerse-2M release shards from the Hugging Face Hub",
        description="Download Sign_DWPose_NPZ_*.tar shards into DIR (resumable: run the same "
                    "command again to complete an interrupted download; sizes are verified).")
    p.add_argument("dataset", choices=["signverse2m"], help="what to download")
    p.add_argument("dir", metavar="DIR", help="folder to download into")
    p.add_argument("--repo", default=DEFAULT_REPO, help=f"the dataset repository (default {DEFAULT_REPO})")
    p.add_argument("--languages", metavar="L1,L2", help="only shards holding videos of these sign "
                   "languages (needs the release's video -> shard map)")
    p.add_argument("--shards", metavar="RANGES", help="shard numbers, e.g. 0-3,7")
    p.add_argument("--max-gb", type=float, metavar="N", help="stop before the download exceeds N GiB")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.io.hub import download_release, parse_shards
    languages = [x.strip() for x in (args.languages or "").split(",") if x.strip()]
    shards = parse_shards(args.shards) if args.shards else None
    result = download_release(args.repo, args.dir, languages=languages, shards=shards,
                              max_gb=args.max_gb, progress=not args.quiet)
    print(f"{len(result['files'])} shard(s), {result['bytes'] / 2**30:.3f} GiB in {args.dir}: "
          f"{', '.join(str(n) for n in result['shards'])}")
    for path in result["skipped"]:
        print(f"left out by --max-gb: {path}")
    return 0

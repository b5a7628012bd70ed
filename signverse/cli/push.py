"""``signverse push CORPUS hf://datasets/ME/NAME``: upload a corpus store to the Hub."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "push", help="upload a corpus to a Hugging Face Hub dataset repository",
        description="Upload CORPUS as it is on disk, with a dataset card that points the Hub's "
                    "dataset viewer at the clips table (clips/*.parquet).")
    p.add_argument("corpus", metavar="CORPUS", help="corpus directory")
    p.add_argument("target", metavar="hf://datasets/ME/NAME", help="dataset repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", default="Upload a signverse corpus", help="commit message")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.io.hub import push_corpus
    print(push_corpus(args.corpus, args.target, private=args.private, message=args.message))
    return 0

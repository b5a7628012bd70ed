"""``signverse stats``: per-language videos, clips, hours and QC of a corpus store or a manifest."""
from __future__ import annotations

from pathlib import Path
from signverse.core.jsonio import dumps as json_dumps


def register(sub) -> None:
    p = sub.add_parser("stats", help="language distribution, clips, hours and QC of a corpus or manifest")
    p.add_argument("input", help="corpus directory, or a manifest (.csv/.jsonl/.parquet)")
    p.add_argument("--plot", metavar="PNG", help="also draw the distributions (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--top", type=int, default=None, help="table: only the N largest languages")
    p.set_defaults(handler=run)


def run(args) -> int:
    from signverse.core.errors import InputError
    from signverse.pipeline import stats as st
    path = Path(args.input)
    corpus = path.is_dir() and (path / "corpus.json").is_file()
    if corpus:
        result = st.corpus_stats(path)
    elif path.is_file():
        from signverse.pipeline.inputs import load_manifest
        manifest = load_manifest(path)
        _require_manifest(path, manifest)
        result = st.manifest_stats(manifest)
    elif path.is_dir():
        raise InputError(path, "not a corpus store (no corpus.json); give a corpus or a manifest file")
    else:
        raise InputError(path, "no such file or directory")
    if args.plot:
        st.plot_stats(result, args.plot, corpus_path=path if corpus else None)
    if args.json:
        print(json_dumps(result, indent=1))
    else:
        print(st.format_table(result, top=args.top))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def _require_manifest(path, manifest) -> None:
    """Refuse a file that parsed as rows but is no manifest (e.g. notes.txt): every manifest row
    names a video (an id without spaces) and at least one row has a language, a path or a url."""
    from signverse.core.errors import InputError
    records = manifest.records
    if not records:
        raise InputError(path, "not a manifest: no rows")
    bad = next((r.video_id for r in records if not r.video_id or any(c.isspace() for c in r.video_id)), None)
    if bad is not None or not any(r.sign_language or r.path or r.url for r in records):
        raise InputError(path, "not a manifest (expected CSV / JSONL / Parquet rows with video_id and "
                               "sign_language, path or url; or SignVerse-2M's headerless video_id,sign_language)")

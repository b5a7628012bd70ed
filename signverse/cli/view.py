"""``signverse view``: browse a corpus, release or pose files in the browser (local, read-only)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "view", help="browse clips and play their skeletons in the browser",
        description="Serve a local, read-only viewer for PATH: a corpus, a SignVerse-2M release "
                    "(.tar or folder), a folder of pose files or one pose file.")
    p.add_argument("path", metavar="PATH", help="corpus, release .tar/folder, pose folder or pose file")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--compare", metavar="OTHER",
                   help="a second source shown side by side (same clip ids, or one sequence)")
    p.add_argument("--videos", metavar="DIR", help="folder of source videos named <video_id>.<ext>")
    p.set_defaults(handler=run)


def run(args) -> int:
    import logging

    from signverse.view import open_source, serve

    log = logging.getLogger("signverse.view")
    with open_source(args.path, videos=args.videos) as source:
        for failure in source.failures:
            log.warning("unreadable: %s", failure)
        compare = open_source(args.compare) if args.compare else None
        try:
            serve(source, compare=compare, host=args.host, port=args.port,
                  open_browser=not args.no_browser,
                  on_ready=lambda url: print(f"signverse view: {args.path} at {url} (Ctrl-C to stop)",
                                             flush=True))
        except KeyboardInterrupt:   # Ctrl-C or SIGTERM: the normal way to stop a server
            pass
        finally:
            if compare is not None:
                compare.close()
    return 0

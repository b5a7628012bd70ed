"""The viewer's web app (Starlette): a read-only JSON API and the static page that uses it.

Routes (GET only)::

    /                                  the page (static/index.html)
    /static/<name>                     the page's JS and CSS (package files, by exact name)
    /api/info                          source, pose fields, languages, splits, compare source
    /api/clips?offset=&limit=&language=&split=&signer=&q=&sort=&min_<qc>=&max_<qc>=
    /api/clips/<clip_id>               metadata and QC of one clip
    /api/clips/<clip_id>/pose?field=&source=compare&style=&person=
    /api/clips/<clip_id>/video         the source video (HTTP range requests)
    /api/stats                         what ``signverse stats --json`` prints
    /api/layouts/<name>?style=         a layout's drawing plan

Everything is addressed by id: clip ids are looked up in the clips table, videos through the
clip's video id, static files in a fixed list, so no request names a file. Unknown ids, bad
parameters and failures are JSON (``{"error": ...}``) with 404 / 400 / 500, never a traceback.
Host headers other than the bound host and localhost are refused (DNS rebinding).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from importlib import resources

from signverse.core.errors import InputError, SignverseError, require
from signverse.view.query import ClipQuery, QueryError
from signverse.view.source import UnknownId, ViewSource

log = logging.getLogger(__name__)
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def static_files() -> dict[str, bytes]:
    """The page's files by name (read once from the package; requests only pick a name)."""
    folder = resources.files("signverse.view") / "static"
    return {f.name: f.read_bytes() for f in folder.iterdir()
            if f.is_file() and any(f.name.endswith(s) for s in STATIC_TYPES)}


class _PoseCache:
    """The last few pose payloads (a player re-asks for the clip it shows)."""

    def __init__(self, size: int = 16):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def create_app(source: ViewSource, *, compare: ViewSource | None = None,
               allowed_hosts: list[str] | None = None):
    """The Starlette application serving ``source`` (and ``compare`` beside it)."""
    require("starlette", "view")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    from signverse.view.payload import draw_plan_json, pose_payload

    files = static_files()
    poses = _PoseCache()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    def static_response(name: str) -> Response:
        data = files.get(name)
        if data is None:
            return error(404, f"no such file {name!r}")
        suffix = name[name.rfind("."):]
        return Response(data, media_type=STATIC_TYPES[suffix], headers={"Cache-Control": "no-cache"})

    def index(request: Request):
        return static_response("index.html")

    def static(request: Request):
        return static_response(request.path_params["name"])

    def info(request: Request):
        out = source.info()
        out["compare"] = None if compare is None else {"path": str(compare.path), "name": compare.name,
                                                       "clips": len(compare.table)}
        return JSONResponse(out)

    def clips(request: Request):
        return JSONResponse(source.table.page(ClipQuery.from_params(request.query_params)))

    def clip(request: Request):
        return JSONResponse(source.clip(request.path_params["clip_id"]))

    def pose(request: Request):
        clip_id = request.path_params["clip_id"]
        params = request.query_params
        which = params.get("source") or "main"
        if which not in ("main", "compare"):
            raise QueryError(f"source must be 'main' or 'compare', got {which!r}")
        src = source
        if which == "compare":
            if compare is None:
                raise UnknownId("source", "compare")
            src = compare
            if src.table.row(clip_id) is None:
                # A single-sequence comparison goes beside whatever clip is shown.
                clip_id = src.only_clip() or clip_id
        elif source.table.row(clip_id) is None:
            raise UnknownId("clip", clip_id)
        person = params.get("person")
        try:
            person_n = None if person in (None, "") else int(person)
        except ValueError:
            raise QueryError(f"person must be an integer, got {person!r}") from None
        field = params.get("field") or None
        style = params.get("style") or "dwpose"
        key = (which, clip_id, field, style, person_n)
        payload = poses.get(key, lambda: pose_payload(src.pose(clip_id, field), style=style,
                                                      person=person_n))
        return JSONResponse({"clip_id": clip_id, "source": which, "field": field or src.corpus.field,
                             **payload})

    def video(request: Request):
        clip_id = request.path_params["clip_id"]
        row = source.table.row(clip_id)
        if row is None:
            raise UnknownId("clip", clip_id)
        path = source.video_path(row.get("video_id"))
        if path is None:
            raise UnknownId("video of clip", clip_id)
        # FileResponse answers Range requests (206 with Content-Range), so the player can seek.
        return FileResponse(path)

    def stats(request: Request):
        return JSONResponse(source.stats())

    def layout(request: Request):
        from signverse.layouts import get_layout
        name = request.path_params["name"]
        try:
            layout_ = get_layout(name)
        except SignverseError:
            raise UnknownId("layout", name) from None
        style = request.query_params.get("style") or "native"
        from signverse.render.style import STYLES
        if style not in STYLES:
            raise QueryError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
        return JSONResponse({"layout": layout_.name, "style": style,
                             "points": list(layout_.point_names),
                             "components": draw_plan_json(layout_.name, style)})

    async def not_found(request: Request, exc: HTTPException):
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "error")

    async def unknown(request: Request, exc: Exception):
        return error(404, str(exc))

    async def bad_request(request: Request, exc: Exception):
        return error(400, str(exc))

    async def failed(request: Request, exc: Exception):
        log.exception("viewer: %s %s failed", request.method, request.url.path)
        return error(500, f"internal error ({type(exc).__name__})")

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
        Route("/api/info", info, methods=["GET"]),
        Route("/api/clips", clips, methods=["GET"]),
        Route("/api/clips/{clip_id}", clip, methods=["GET"]),
        Route("/api/clips/{clip_id}/pose", pose, methods=["GET"]),
        Route("/api/clips/{clip_id}/video", video, methods=["GET", "HEAD"]),
        Route("/api/stats", stats, methods=["GET"]),
        Route("/api/layouts/{name}", layout, methods=["GET"]),
    ]
    hosts = list(allowed_hosts) if allowed_hosts is not None else list(LOCAL_HOSTS)
    handlers = {HTTPException: not_found, UnknownId: unknown, QueryError: bad_request,
                InputError: bad_request, SignverseError: bad_request, Exception: failed}
    return Starlette(routes=routes, exception_handlers=handlers,
                     middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])


def bind(host: str, port: int):
    """A listening socket on ``host:port`` (port 0: any free port), or a one-line error."""
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without
    # it every keep-alive response waited ~40 ms for a delayed ACK (measured here).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SignverseError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(source: ViewSource, *, compare: ViewSource | None = None, host: str = "127.0.0.1",
          port: int = 8765, open_browser: bool = True, on_ready=None) -> None:
    """Serve the viewer until interrupted (``on_ready(url)`` is called once it listens)."""
    uvicorn = require("uvicorn", "view")
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{actual}/"
    hosts = list(LOCAL_HOSTS)
    if host not in ("0.0.0.0", "::"):
        hosts.append(host)
    else:
        log.warning("listening on all interfaces (%s): anyone who can reach this machine can read "
                    "the corpus", host)
        hosts = ["*"]
    app = create_app(source, compare=compare, allowed_hosts=hosts)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

    def when_ready() -> None:
        import time
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if not server.started:
            return
        if on_ready is not None:
            on_ready(url)
        if open_browser:
            import webbrowser
            webbrowser.open(url)

    threading.Thread(target=when_ready, daemon=True).start()
    # The statistics and the sort orders (one DuckDB sort per column) are made in the background
    # while the page loads, so the first click on a column header does not wait for them.
    def warm() -> None:
        try:
            source.stats()
            source.table.warm()
        except SignverseError as exc:
            log.warning("%s", exc)

    threading.Thread(target=warm, daemon=True).start()
    import signal
    # uvicorn stops on SIGTERM and then re-sends it to the process, which would die before the
    # caller removes its temporary files; raising KeyboardInterrupt instead lets them run.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run(sockets=[sock])
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt

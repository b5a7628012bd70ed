"""A loopback stand-in for the few Hugging Face Hub routes signverse uses (for HF_ENDPOINT).

Repositories are folders on disk (``ROOT/datasets/OWNER/NAME/...``). Routes: repo info, tree
listing, paths-info, file resolve (HEAD/GET with range requests, ETag and X-Repo-Commit headers),
repo creation, YAML validation of dataset cards, preupload and commit (every file uploaded inline, base64). Every request is
recorded (method, path, Range header, bytes sent) so tests can check what was transferred.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from pathlib import Path


class HubServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[dict] = []
        self.commit = "a" * 40
        self.fail_after_bytes: int | None = None   # cut a download short (resume tests)
        self.cards: list[str] = []                  # README.md contents validated

    def repo_dir(self, kind: str, owner: str, name: str) -> Path:
        return self.root / kind / owner / name

    def files(self, repo: Path) -> list[Path]:
        return sorted(p for p in repo.rglob("*") if p.is_file())

    def app(self):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        def entry(repo: Path, p: Path) -> dict:
            if p.is_dir():
                return {"type": "directory", "path": p.relative_to(repo).as_posix(), "oid": "0" * 40}
            data = p.read_bytes()
            return {"type": "file", "path": p.relative_to(repo).as_posix(), "size": len(data),
                    "oid": hashlib.sha1(data).hexdigest()}

        def repo_of(request) -> Path:
            pp = request.path_params
            return self.repo_dir(pp["kind"], pp["owner"], pp["name"])

        async def info(request: Request):
            repo = repo_of(request)
            if not repo.is_dir():
                return JSONResponse({"error": "Repository not found"}, 404,
                                    headers={"X-Error-Code": "RepoNotFound"})
            pp = request.path_params
            return JSONResponse({"id": f"{pp['owner']}/{pp['name']}", "sha": self.commit, "private": False,
                                 "siblings": [{"rfilename": f.relative_to(repo).as_posix(), "size": f.stat().st_size}
                                              for f in self.files(repo)]})

        async def tree(request: Request):
            repo = repo_of(request)
            if not repo.is_dir():
                return JSONResponse({"error": "Repository not found"}, 404,
                                    headers={"X-Error-Code": "RepoNotFound"})
            sub = request.path_params.get("path", "")
            base = repo / sub
            if not base.is_dir():
                return JSONResponse({"error": "Entry not found"}, 404, headers={"X-Error-Code": "EntryNotFound"})
            recursive = request.query_params.get("recursive") in ("true", "True", "1")
            items = sorted(base.rglob("*") if recursive else base.iterdir())
            return JSONResponse([entry(repo, p) for p in items])

        async def paths_info(request: Request):
            repo = repo_of(request)
            form = await request.form()
            paths = form.getlist("paths")
            return JSONResponse([entry(repo, repo / p) for p in paths if (repo / p).exists()])

        async def resolve(request: Request):
            repo = repo_of(request)
            path = repo / request.path_params["path"]
            record = {"method": request.method, "path": request.url.path,
                      "range": request.headers.get("range")}
            self.requests.append(record)
            if ".." in request.path_params["path"].split("/") or not path.is_file():
                return JSONResponse({"error": "Entry not found"}, 404, headers={"X-Error-Code": "EntryNotFound"})
            data = path.read_bytes()
            etag = f'"{hashlib.sha1(data).hexdigest()}"'
            headers = {"X-Repo-Commit": self.commit, "ETag": etag, "Accept-Ranges": "bytes"}
            if request.method == "HEAD":
                return Response(b"", headers={**headers, "Content-Length": str(len(data))})
            start, end = 0, len(data) - 1
            rng = request.headers.get("range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                start = int(a) if a else max(0, len(data) - int(b))
                end = min(int(b), len(data) - 1) if (a and b) else len(data) - 1
            body = data[start:end + 1]
            record["bytes"] = len(body)
            status = 206 if rng else 200
            if rng:
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            limit = self.fail_after_bytes
            if limit is not None and not rng:
                self.fail_after_bytes = None

                def cut():
                    yield body[:limit]
                    raise ConnectionError("connection dropped by the test server")
                return StreamingResponse(cut(), status_code=status,
                                         headers={**headers, "Content-Length": str(len(body))})
            return Response(body, status_code=status, headers={**headers, "Content-Length": str(len(body))})

        async def create(request: Request):
            payload = await request.json()
            kind = (payload.get("type") or "model") + "s"
            owner = payload.get("organization") or "me"
            repo = self.repo_dir(kind, owner, payload["name"])
            repo.mkdir(parents=True, exist_ok=True)
            base = str(request.base_url).rstrip("/")
            return JSONResponse({"url": f"{base}/{kind}/{owner}/{payload['name']}",
                                 "name": f"{owner}/{payload['name']}"})

        async def whoami(request: Request):
            return JSONResponse({"name": "me", "type": "user", "orgs": []})

        async def preupload(request: Request):
            payload = await request.json()
            return JSONResponse({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                           for f in payload.get("files", [])]})

        async def commit(request: Request):
            repo = repo_of(request)
            text = (await request.body()).decode()
            for line in text.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                if item.get("key") == "file":
                    value = item["value"]
                    target = repo / value["path"]
                    assert ".." not in value["path"].split("/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(base64.b64decode(value["content"]))
            self.commit = hashlib.sha1(str(time.time()).encode()).hexdigest()
            base = str(request.base_url).rstrip("/")
            pp = request.path_params
            return JSONResponse({"commitUrl": f"{base}/{pp['kind']}/{pp['owner']}/{pp['name']}/commit/{self.commit}",
                                 "commitOid": self.commit,
                                 "success": True})

        async def validate_yaml(request: Request):
            # What the Hub checks before a README.md commit: front matter that parses as YAML.
            import yaml
            content = (await request.json())["content"]
            self.cards.append(content)
            errors = []
            if content.startswith("---"):
                try:
                    meta = yaml.safe_load(content.split("---")[1])
                    if not isinstance(meta, dict):
                        errors.append({"message": "metadata is not a mapping"})
                except yaml.YAMLError as exc:
                    errors.append({"message": str(exc)})
            return JSONResponse({"errors": errors, "warnings": []}, 400 if errors else 200)

        repo = "/{kind}/{owner}/{name}"
        routes = [
            Route(f"/api{repo}/revision/{{rev}}", info),
            Route(f"/api{repo}", info),
            Route(f"/api{repo}/tree/{{rev}}", tree),
            Route(f"/api{repo}/tree/{{rev}}/{{path:path}}", tree),
            Route(f"/api{repo}/paths-info/{{rev}}", paths_info, methods=["POST"]),
            Route(f"/api{repo}/preupload/{{rev}}", preupload, methods=["POST"]),
            Route(f"/api{repo}/commit/{{rev}}", commit, methods=["POST"]),
            Route("/api/repos/create", create, methods=["POST"]),
            Route("/api/whoami-v2", whoami),
            Route("/api/validate-yaml", validate_yaml, methods=["POST"]),
            Route("/{kind}/{owner}/{name}/resolve/{rev}/{path:path}", resolve, methods=["GET", "HEAD"]),
        ]
        return Starlette(routes=routes)


def serve(server: HubServer):
    """Start on a free loopback port; returns (url, stop())."""
    import socket

    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    srv = uvicorn.Server(uvicorn.Config(server.app(), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)

    def stop():
        srv.should_exit = True
        thread.join(10)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop

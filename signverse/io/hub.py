"""The Hugging Face Hub: ``hf://`` paths, downloading the SignVerse-2M release, pushing a corpus.

Everything goes through ``huggingface_hub`` (the ``hub`` extra), so ``HF_ENDPOINT``, tokens and
proxies work as they do for ``huggingface_hub`` itself. No reader knows about the network: this
module turns an ``hf://datasets/OWNER/NAME/PATH`` into something the readers take.

- :func:`open_file` streams one file with HTTP range requests (``HfFileSystem``): a tar shard can
  be listed, or one video read, without downloading the whole 10 GiB.
- :func:`local_path` gives a local copy for readers that need a file (a ``.pose`` file, the
  Parquet files of a corpus), through the Hub cache (downloaded once, resumed when interrupted).
- :func:`download_release` fetches release shards into a folder (by shard number, or the shards
  that hold the requested languages when the repo has a video -> shard map), verifies sizes, and
  completes an interrupted download when run again.
- :func:`push_corpus` uploads a corpus store as it is on disk (so ``open_corpus`` reads it back)
  with a dataset card whose YAML names ``clips/*.parquet`` as the default config: the Hub's
  dataset viewer shows the clips table (plain Parquet columns), not the packed pose blobs.

>>> is_hub_path("hf://datasets/SignerX/SignVerse-2M/dataset/Sign_DWPose_NPZ_000001.tar")
True
>>> parse_hub_path("hf://datasets/me/corpus@v1/clips/shard-00000.parquet")
HubPath(repo_type='dataset', repo_id='me/corpus', revision='v1', path='clips/shard-00000.parquet')
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable

from signverse.core.errors import InputError, SignverseError, require

log = logging.getLogger(__name__)
PREFIX = "hf://"
SHARD_RE = re.compile(r"(?:^|/)Sign_DWPose_NPZ_(\d+)\.tar$")


class HubError(SignverseError):
    """The Hub (or the endpoint in ``HF_ENDPOINT``) refused or failed a request."""


@dataclass(frozen=True)
class HubPath:
    repo_type: str
    repo_id: str
    revision: str | None
    path: str

    def url(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{PREFIX}{self.repo_type}s/{self.repo_id}{rev}/{self.path}".rstrip("/")


def is_hub_path(path: Any) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX)


def parse_hub_path(path: str) -> HubPath:
    """``hf://[datasets/|models/|spaces/]OWNER/NAME[@REVISION][/PATH]`` (default: a dataset)."""
    if not is_hub_path(path):
        raise InputError(path, "not an hf:// path")
    rest = path[len(PREFIX):].strip("/")
    repo_type = "dataset"
    for kind in ("datasets", "models", "spaces"):
        if rest.startswith(kind + "/"):
            repo_type, rest = kind[:-1], rest[len(kind) + 1:]
            break
    parts = rest.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InputError(path, "an hf:// path needs OWNER/NAME (hf://datasets/OWNER/NAME/...)")
    name, _, revision = parts[1].partition("@")
    inner = "/".join(parts[2:])
    if any(p in ("..", ".") for p in inner.split("/")):
        raise InputError(path, "'..' and '.' are not allowed in an hf:// path")
    return HubPath(repo_type, f"{parts[0]}/{name}", revision or None, inner)


def _hub():
    return require("huggingface_hub", "hub")


def _endpoint() -> str | None:
    # Read at each call (huggingface_hub reads HF_ENDPOINT once, at import).
    return os.environ.get("HF_ENDPOINT") or None


def _cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def _api():
    return _hub().HfApi(endpoint=_endpoint())


def _errors() -> tuple[type[BaseException], ...]:
    """What a Hub request raises when it fails: huggingface_hub's errors, its HTTP client's
    (httpx, or httpx2 in recent releases) and OS errors."""
    import importlib
    hub = _hub()
    errors = hub.errors
    out: list[type[BaseException]] = [errors.HfHubHTTPError, errors.EntryNotFoundError,
                                      errors.RepositoryNotFoundError, errors.RevisionNotFoundError,
                                      OSError]
    for client in ("httpx", "httpx2"):
        try:
            out.append(importlib.import_module(client).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(out)


def _fail(path: str, exc: BaseException) -> HubError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return HubError(f"{path}: {text}")


def filesystem():
    """An ``HfFileSystem`` (reads ``HF_ENDPOINT`` and the token like ``huggingface_hub``)."""
    return _hub().HfFileSystem(endpoint=_endpoint())


def open_file(path: str, *, block_size: int = 1 << 20) -> IO[bytes]:
    """A seekable binary file object over an ``hf://`` file, read with range requests."""
    hp = parse_hub_path(path)
    try:
        return filesystem().open(hp.url()[len(PREFIX):], "rb", block_size=block_size)
    except _errors() as exc:
        raise _fail(path, exc) from None


def list_files(path: str) -> list[dict[str, Any]]:
    """Every file under an ``hf://`` folder (or the file itself): ``{"path", "size"}``."""
    hp = parse_hub_path(path)
    api = _api()
    try:
        entries = api.list_repo_tree(hp.repo_id, path_in_repo=hp.path or None, recursive=True,
                                     revision=hp.revision, repo_type=hp.repo_type)
        files = [{"path": e.path, "size": int(e.size)} for e in entries if hasattr(e, "size")]
    except _errors() as exc:
        if not hp.path:
            raise _fail(path, exc) from None
        files = []
    if not files and hp.path:   # a single file: the tree of a file is empty or an error
        try:
            infos = api.get_paths_info(hp.repo_id, [hp.path], revision=hp.revision,
                                       repo_type=hp.repo_type)
        except _errors() as exc:
            raise _fail(path, exc) from None
        files = [{"path": i.path, "size": int(i.size)} for i in infos if hasattr(i, "size")]
    if not files:
        raise InputError(path, "no such file or folder on the Hub")
    return sorted(files, key=lambda f: f["path"])


def local_path(path: str) -> Path:
    """A local copy of an ``hf://`` file or folder, through the Hub cache (resumable)."""
    hp = parse_hub_path(path)
    hub = _hub()
    files = list_files(path)
    try:
        if len(files) == 1 and files[0]["path"] == hp.path:
            return Path(hub.hf_hub_download(hp.repo_id, hp.path, repo_type=hp.repo_type,
                                            revision=hp.revision, endpoint=_endpoint(),
                                            cache_dir=_cache_dir()))
        folder = hub.snapshot_download(hp.repo_id, repo_type=hp.repo_type, revision=hp.revision,
                                       endpoint=_endpoint(), cache_dir=_cache_dir(),
                                       allow_patterns=[f"{hp.path}/*" if hp.path else "*",
                                                       f"{hp.path}/**" if hp.path else "**"])
    except _errors() as exc:
        raise _fail(path, exc) from None
    return Path(folder) / hp.path if hp.path else Path(folder)


# -- the release ------------------------------------------------------------------------------
def _shard_number(path: str) -> int | None:
    m = SHARD_RE.search(path)
    return int(m.group(1)) if m else None


def parse_shards(spec: str) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``."""
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise InputError(None, f"bad shard range {part!r} (use e.g. 0-3,7)") from None
        if b < a or a < 0:
            raise InputError(None, f"bad shard range {part!r}")
        out.update(range(a, b + 1))
    return sorted(out)


def shard_map(repo: str, files: list[dict[str, Any]]) -> dict[str, tuple[int, str | None]] | None:
    """``video_id -> (shard, sign_language)`` from a map file in the release, or None.

    A map is a CSV / JSON-lines file in the repo whose rows name a video (``video_id``) and its
    shard (``shard`` number or ``tar`` name), optionally with ``sign_language``.
    """
    import csv
    import io
    import json
    candidates = [f for f in files if re.search(r"(shard|manifest|index)[^/]*\.(csv|jsonl)$",
                                                f["path"], re.I) and f["size"] < (256 << 20)]
    for f in candidates:
        with open_file(f"{repo}/{f['path']}") as handle:
            text = handle.read().decode("utf-8", "replace")
        if f["path"].lower().endswith(".jsonl"):
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        out: dict[str, tuple[int, str | None]] = {}
        for row in rows:
            if not isinstance(row, dict) or not row.get("video_id"):
                continue
            shard = row.get("shard")
            number = int(shard) if str(shard or "").strip().isdigit() else _shard_number(str(row.get("tar") or ""))
            if number is not None:
                out[str(row["video_id"])] = (number, row.get("sign_language") or None)
        if out:
            log.info("video -> shard map: %s (%d videos)", f["path"], len(out))
            return out
    return None


def download_release(repo: str, dest: str | Path, *, languages: Iterable[str] | None = None,
                     shards: Iterable[int] | None = None, max_gb: float | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Download release shards from ``repo`` (``hf://datasets/OWNER/NAME``) into ``dest``.

    Shards are picked by number (``shards``) and/or by language (the shards holding videos of
    ``languages``, from the repo's video -> shard map; without one, a one-line error says to pick
    shards by number). ``max_gb`` stops before the total would exceed it. Files already complete
    (same size) are kept, partial ones are resumed by ``huggingface_hub``; each file's size is
    verified against the Hub's listing. Returns ``{"shards", "files", "bytes", "skipped"}``.
    """
    hub = _hub()
    hp = parse_hub_path(repo)
    dest = Path(dest)
    files = list_files(hp.url())
    tars = {n: f for f in files if (n := _shard_number(f["path"])) is not None}
    if not tars:
        raise InputError(repo, "no Sign_DWPose_NPZ_*.tar shards in this repository")
    wanted: set[int] = set(shards or [])
    languages = [x for x in (languages or []) if x]
    if languages:
        mapping = shard_map(hp.url(), files)
        if mapping is None:
            raise InputError(repo, "the release has no video -> shard map, so shards cannot be picked "
                                   "by language: give shard numbers (--shards 0-3)")
        by_language = {n for _, (n, lang) in mapping.items() if lang in languages}
        if not by_language:
            raise InputError(repo, f"no video of {', '.join(languages)} in the shard map")
        wanted |= by_language
    if not wanted:
        wanted = set(tars)
    missing = sorted(wanted - set(tars))
    if missing:
        log.warning("%s: no shard(s) %s in the repository", repo, ", ".join(map(str, missing)))
    chosen = [tars[n] for n in sorted(wanted) if n in tars]
    budget = None if max_gb is None else int(max_gb * (1 << 30))
    total, picked, skipped = 0, [], []
    for f in chosen:
        if budget is not None and total + f["size"] > budget:
            skipped.append(f["path"])
            continue
        total += f["size"]
        picked.append(f)
    if skipped:
        log.warning("--max-gb %s: %d shard(s) left out: %s", max_gb, len(skipped), ", ".join(skipped))
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for f in picked:
        target = dest / f["path"]
        if target.is_file() and target.stat().st_size == f["size"]:
            log.info("%s: complete, kept", target)
        else:
            try:
                # local_dir downloads resume from the .incomplete file huggingface_hub keeps there.
                # A dropped connection is resumed with a range request by huggingface_hub; a file
                # left with the wrong size (cut by a crash, or changed) is fetched again.
                hub.hf_hub_download(hp.repo_id, f["path"], repo_type=hp.repo_type, revision=hp.revision,
                                    local_dir=dest, endpoint=_endpoint(), force_download=target.exists(),
                                    tqdm_class=None if progress else _quiet_tqdm())
            except _errors() as exc:
                raise _fail(f"{repo}/{f['path']}", exc) from None
        size = target.stat().st_size if target.is_file() else -1
        if size != f["size"]:
            raise HubError(f"{target}: {size} bytes on disk, the Hub lists {f['size']}: "
                           "run the command again to complete it")
        done.append(str(target))
    return {"shards": sorted(_shard_number(f["path"]) for f in picked), "files": done,
            "bytes": total, "skipped": skipped}


def _quiet_tqdm():
    """A tqdm class that draws nothing (tqdm comes with huggingface_hub)."""
    from tqdm.auto import tqdm

    class Quiet(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
    return Quiet


# -- pushing a corpus -------------------------------------------------------------------------
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: clips/*.parquet
tags:
- sign-language
- pose
- signverse
---

# {name}

A sign-language pose corpus written by [signverse](https://github.com/) ({clips} clips, {videos}
videos, {hours:.2f} hours, {languages} sign languages).

- `clips/shard-*.parquet`: one row per clip (clip_id, video_id, sign_language, signer, start, end,
  fps, n_frames, text, gloss, split, QC figures, layout, frame size): what the dataset viewer shows.
- `poses/<field>/shard-*.parquet`: the packed poses of the same rows (signverse's corpus codec).
- `corpus.json`: format version, pose fields and quantisation.

```python
import signverse
corpus = signverse.open_corpus("hf://datasets/{repo_id}")
```
"""


def push_corpus(corpus_dir: str | Path, target: str, *, private: bool = False,
                message: str = "Upload a signverse corpus") -> str:
    """Upload a corpus store to ``hf://datasets/OWNER/NAME``; returns the commit URL."""
    from signverse.io.corpus import open_corpus
    hub = _hub()
    hp = parse_hub_path(target)
    if hp.repo_type != "dataset" or hp.path:
        raise InputError(target, "push to a dataset repository: hf://datasets/OWNER/NAME")
    corpus = open_corpus(corpus_dir)
    root = Path(corpus_dir)
    summary = corpus.summary()
    card = CARD.format(name=hp.repo_id.split("/")[-1], clips=summary["clips"], videos=summary["videos"],
                       hours=summary["hours"], languages=len(summary["languages"]), repo_id=hp.repo_id)
    ops = [hub.CommitOperationAdd("README.md", card.encode()),
           hub.CommitOperationAdd("corpus.json", (root / "corpus.json").read_bytes())]
    for shard in corpus.shards:
        ops.append(hub.CommitOperationAdd(f"clips/{corpus.clips_path(shard).name}",
                                          str(corpus.clips_path(shard))))
        for field in corpus.fields():
            path = corpus.poses_path(shard, field)
            if path.is_file():
                ops.append(hub.CommitOperationAdd(f"poses/{field}/{path.name}", str(path)))
    api = _api()
    try:
        api.create_repo(hp.repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.create_commit(hp.repo_id, ops, commit_message=message, repo_type="dataset",
                                 revision=hp.revision)
    except _errors() as exc:
        raise _fail(target, exc) from None
    return str(getattr(info, "commit_url", info))


# -- release tars, streamed -------------------------------------------------------------------
def is_hub_tar(path: Any) -> bool:
    return is_hub_path(path) and str(path).lower().endswith(".tar")


def localize(path: Any) -> Any:
    """``hf://`` paths other than tar shards become local copies (Hub cache); others pass through."""
    if is_hub_path(path) and not is_hub_tar(path):
        return local_path(path)
    return path


def hub_release(path: str, **options):
    """A :class:`~signverse.io.signverse2m.Release` over an ``hf://`` tar shard, streamed with
    range requests from front to back (memory: one video at a time, nothing written to disk)."""
    from signverse.io.signverse2m.release import DEFAULT_MAX_MEMBER_BYTES, Release, iter_tar_videos

    class HubRelease(Release):
        def __init__(self, url: str, *, repair: bool = True, person: int | None = None,
                     max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES):
            self.path = url
            self.repair, self.person, self.max_member_bytes = repair, person, max_member_bytes
            self.failures = []

        def __iter__(self):
            self.failures = []
            try:
                with open_file(self.path, block_size=8 << 20) as handle:
                    yield from iter_tar_videos(handle, name=self.path, release=self)
            except _errors() as exc:   # the connection broke mid-shard: keep what was read
                self._fail(self.path, None, None, f"Hub read failed ({_fail(self.path, exc)}); "
                                                  "the videos after this point are not read")

    parse_hub_path(path)
    return HubRelease(path, **options)


def tar_members(path: str) -> list[dict[str, Any]]:
    """The members of an ``hf://`` tar (name, size, offset), reading only their headers: one small
    range request per member, so listing a 10 GiB shard transfers kilobytes."""
    import tarfile
    with open_file(path, block_size=4096) as handle:
        try:
            with tarfile.open(fileobj=handle, mode="r:") as tar:
                return [{"name": m.name, "size": m.size, "offset": m.offset_data, "type": m.type.decode()}
                        for m in tar.getmembers()]
        except (tarfile.TarError, EOFError) as exc:
            raise InputError(path, f"damaged tar ({exc})") from None
        except _errors() as exc:
            raise _fail(path, exc) from None


def tar_videos(path: str) -> dict[str, list[str]]:
    """``video_id -> member paths`` of an ``hf://`` tar shard (headers only)."""
    from signverse.io.signverse2m.release import _split_member
    videos: dict[str, list[str]] = {}
    for m in tar_members(path):
        video_id, rel = _split_member(m["name"])
        if video_id and rel and m["type"] in ("0", "\x00"):
            videos.setdefault(video_id, []).append(rel)
    return videos


def read_tar_video(path: str, video_id: str, *, repair: bool = True, person: int | None = None):
    """One video of an ``hf://`` tar shard, fetching only its members (range requests)."""
    import tarfile

    from signverse.io.signverse2m.release import _member_problem, _split_member, video_from_files
    files: dict[str, bytes] = {}
    with open_file(path, block_size=1 << 16) as handle:
        try:
            with tarfile.open(fileobj=handle, mode="r:") as tar:
                for member in tar.getmembers():
                    vid, rel = _split_member(member.name)
                    if vid != video_id or not rel or member.isdir():
                        continue
                    problem = _member_problem(member)
                    if problem:
                        raise InputError(f"{path}:{member.name}", f"refused: {problem}")
                    extracted = tar.extractfile(member)
                    files[rel] = extracted.read() if extracted is not None else b""
        except (tarfile.TarError, EOFError) as exc:
            raise InputError(path, f"damaged tar ({exc})") from None
        except _errors() as exc:
            raise _fail(path, exc) from None
    if not files:
        raise InputError(path, f"no video {video_id!r} in this shard")
    return video_from_files(video_id, files, source=path, repair=repair, person=person)

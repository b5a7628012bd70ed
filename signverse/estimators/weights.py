"""Where DWPose's ONNX weights are found, and a helper that downloads them (never used by tests).

Lookup order for each file: the explicit path argument, then its environment variable
(``SIGNVERSE_DWPOSE_DET`` for ``yolox_l.onnx``, ``SIGNVERSE_DWPOSE_POSE`` for
``dw-ll_ucoco_384.onnx``), then the folder ``$SIGNVERSE_MODELS`` (default
``~/.cache/signverse/models``), where ``download_dwpose_weights`` puts them.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from signverse.core.errors import SignverseError

log = logging.getLogger(__name__)

HF_REPO = "yzd-v/DWPose"
DET_FILE = "yolox_l.onnx"
POSE_FILE = "dw-ll_ucoco_384.onnx"
ENV_DET, ENV_POSE, ENV_DIR = "SIGNVERSE_DWPOSE_DET", "SIGNVERSE_DWPOSE_POSE", "SIGNVERSE_MODELS"


def models_dir() -> Path:
    """The folder searched (and filled by the download helper): ``$SIGNVERSE_MODELS`` or the cache."""
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "signverse" / "models"


def _resolve(explicit: str | os.PathLike | None, env: str, filename: str) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    candidate = models_dir() / filename
    return candidate if candidate.exists() else None


def resolve_dwpose_weights(det: str | os.PathLike | None = None, pose: str | os.PathLike | None = None
                           ) -> tuple[Path, Path]:
    """Paths of the detector and pose ONNX files, or a ``SignverseError`` saying how to supply them."""
    found = (_resolve(det, ENV_DET, DET_FILE), _resolve(pose, ENV_POSE, POSE_FILE))
    for path, env, filename in zip(found, (ENV_DET, ENV_POSE), (DET_FILE, POSE_FILE)):
        if path is None or not path.is_file():
            where = f"'{path}' does not exist" if path is not None else "it was not found"
            raise SignverseError(
                f"DWPose weights {filename}: {where}; pass the path, set {env}, put it in "
                f"{models_dir()} (or set {ENV_DIR}), or run "
                f"signverse.estimators.weights.download_dwpose_weights()")
    return found[0], found[1]  # type: ignore[return-value]


def hf_url(filename: str, repo: str = HF_REPO, revision: str = "main") -> str:
    return f"https://huggingface.co/{repo}/resolve/{revision}/{filename}"


def download_dwpose_weights(dest: str | os.PathLike | None = None, *, overwrite: bool = False,
                            timeout: float = 60.0) -> tuple[Path, Path]:
    """Download ``yolox_l.onnx`` and ``dw-ll_ucoco_384.onnx`` from Hugging Face ``yzd-v/DWPose``.

    Files go to ``dest`` (default ``models_dir()``), written atomically; existing files are kept
    unless ``overwrite``. Raises ``SignverseError`` with a clear message when offline.
    """
    folder = Path(dest).expanduser() if dest else models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename in (DET_FILE, POSE_FILE):
        target = folder / filename
        paths.append(target)
        if target.exists() and not overwrite:
            continue
        url = hf_url(filename)
        log.info("downloading %s -> %s", url, target)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                shutil.copyfileobj(resp, out, length=1 << 20)
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            Path(tmp).unlink(missing_ok=True)
            raise SignverseError(
                f"could not download {url} ({exc}); are you offline? Download the file by hand "
                f"and put it in {folder} or set {ENV_DET}/{ENV_POSE}") from None
    return paths[0], paths[1]

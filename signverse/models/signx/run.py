"""SignX run directories: the trained pieces an end-to-end recogniser needs.

Layout::

    RUN/signx.json        kind, configs, vocabulary, which components are present, metrics
    RUN/fusion.pt         FusionModel state_dict            (optional)
    RUN/gloss.pt          Pose2Gloss / PoseClassifier state_dict
    RUN/video2pose.pt     Video2Pose state_dict             (optional)

Weights are plain state_dicts loaded with ``torch.load(weights_only=True)``: no pickled code runs.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from signverse.core.errors import InputError
from signverse.models.signx.fusion import FusionConfig, FusionModel
from signverse.models.signx.gloss import GlossConfig, PoseClassifier, Pose2Gloss
from signverse.models.signx.video2pose import Video2Pose, Video2PoseConfig
from signverse.core.jsonio import dumps as json_dumps

MANIFEST = "signx.json"


def _fusion_config(d: dict) -> FusionConfig:
    return FusionConfig(**{**d, "tracks": tuple(d["tracks"])})


@dataclass
class SignXRun:
    """The loaded components of a run (any may be None except where a command needs it)."""

    gloss: Pose2Gloss | PoseClassifier | None = None
    fusion: FusionModel | None = None
    video2pose: Video2Pose | None = None
    info: dict = dataclasses.field(default_factory=dict)


def save_run(run_dir: str | Path, *, gloss=None, fusion: FusionModel | None = None,
             video2pose: Video2Pose | None = None, info: dict | None = None) -> Path:
    """Write the given components and a manifest to ``run_dir`` (created if needed)."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"format": "signx-run/1", "info": info or {}}
    if fusion is not None:
        torch.save(fusion.state_dict(), run / "fusion.pt")
        manifest["fusion"] = {"config": dataclasses.asdict(fusion.cfg)}
    if gloss is not None:
        torch.save(gloss.state_dict(), run / "gloss.pt")
        manifest["gloss"] = {"kind": "classifier" if isinstance(gloss, PoseClassifier) else "diffusion",
                             "config": dataclasses.asdict(gloss.cfg), "vocab": list(gloss.vocab)}
    if video2pose is not None:
        torch.save(video2pose.state_dict(), run / "video2pose.pt")
        manifest["video2pose"] = {"config": dataclasses.asdict(video2pose.cfg)}
    tmp = run / (MANIFEST + ".tmp")
    tmp.write_text(json_dumps(manifest, indent=1))
    tmp.replace(run / MANIFEST)
    return run


def _state(run: Path, name: str) -> dict:
    try:
        return torch.load(run / name, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(run / name, "missing (incomplete SignX run directory)") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable weight file is a user error here
        raise InputError(run / name, f"not a readable weight file ({exc})") from None


def load_run(run_dir: str | Path) -> SignXRun:
    """Load every component a run directory holds (on CPU, in eval mode)."""
    run = Path(run_dir)
    try:
        manifest = json.loads((run / MANIFEST).read_text())
    except FileNotFoundError:
        raise InputError(run, f"not a SignX run directory (no {MANIFEST})") from None
    except json.JSONDecodeError as exc:
        raise InputError(run / MANIFEST, f"not valid JSON: {exc}") from None
    out = SignXRun(info=manifest.get("info", {}))
    try:
        if "fusion" in manifest:
            out.fusion = FusionModel(_fusion_config(manifest["fusion"]["config"]))
            out.fusion.load_state_dict(_state(run, "fusion.pt"))
        if "gloss" in manifest:
            g = manifest["gloss"]
            cls = PoseClassifier if g["kind"] == "classifier" else Pose2Gloss
            out.gloss = cls(GlossConfig.from_dict(g["config"]), g["vocab"])
            out.gloss.load_state_dict(_state(run, "gloss.pt"))
        if "video2pose" in manifest:
            out.video2pose = Video2Pose(Video2PoseConfig(**manifest["video2pose"]["config"]))
            out.video2pose.load_state_dict(_state(run, "video2pose.pt"))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise InputError(run / MANIFEST, f"inconsistent SignX run ({exc})") from None
    for m in (out.fusion, out.gloss, out.video2pose):
        if m is not None:
            m.eval()
    return out

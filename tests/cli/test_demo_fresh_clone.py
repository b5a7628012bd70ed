"""`signverse demo` on a fresh clone: no network, no ``../shared`` beside the checkout.

The checkout's files (tracked plus new, not ignored: what a clone would hold) are copied into a
temporary folder that has no ``shared/`` sibling, and the demo runs there in a subprocess on its
built-in sample videos.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def _checkout_files() -> list[str]:
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: cannot tell which files a fresh clone holds")
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=REPO, capture_output=True, check=True).stdout.decode()
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


def _fresh_clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone" / "signverse"
    for name in _checkout_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, target)
    assert not (clone.parent / "shared").exists()
    return clone


def test_sample_videos_ship_with_their_licence():
    from signverse.samples import sample_videos

    folder = sample_videos()
    videos = sorted(p.name for p in folder.glob("*.mp4"))
    assert videos == ["asl_different.mp4", "asl_house.mp4", "asl_wrong_what.mp4"]
    attribution = (folder / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in attribution and "sign-language-processing.github.io" in attribution
    assert sum(p.stat().st_size for p in folder.glob("*.mp4")) < 400_000


def test_package_data_declares_the_samples():
    text = (REPO / "pyproject.toml").read_text()
    assert '"signverse.samples" = ["videos/*.mp4", "videos/ATTRIBUTION.md"]' in text


@pytest.mark.slow
def test_demo_runs_on_a_fresh_clone_without_shared_data(tmp_path):
    pytest.importorskip("mediapipe")
    clone = _fresh_clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SIGNVERSE_SHARED_DATA")}
    env.update(PYTHONPATH=str(clone), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "signverse", "demo", "--limit", "1", "--workers", "0"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = clone / "demo-out"
    assert (out / "corpus" / "corpus.json").is_file()
    assert list((out / "release").rglob("*.tar")), "no release shard written"
    assert (out / "stats.png").stat().st_size > 0
    rendered = list(out.glob("asl_*.mp4"))
    assert rendered and rendered[0].stat().st_size > 0 and list(out.glob("asl_*.png"))
    assert "demo finished" in proc.stdout
    # the code that ran is the clone's, not the original checkout's
    probe = subprocess.run([sys.executable, "-c", "import signverse; print(signverse.__file__)"],
                           cwd=clone, env=env, capture_output=True, text=True, check=True)
    assert Path(probe.stdout.strip()).is_relative_to(clone)
    json.loads((out / "corpus" / "corpus.json").read_text())
    _every_output_opens(out)


def _every_output_opens(out: Path) -> None:
    """What the demo writes opens in other tools: strict JSON (no NaN/Infinity), videos that
    PyAV decodes to real frames (not 1x1, not one frame), Parquet that pyarrow reads."""
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    checked = 0
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    json.loads(line, parse_constant=refuse)
        elif path.suffix == ".mp4":
            av = pytest.importorskip("av")
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                frames = sum(1 for _ in container.decode(video=0))
                size = (stream.codec_context.width, stream.codec_context.height)
            assert frames > 1 and min(size) >= 16, (path, frames, size)
        elif path.suffix == ".parquet":
            pq = pytest.importorskip("pyarrow.parquet")
            pq.read_table(path)
        else:
            continue
        checked += 1
    assert checked >= 3, f"only {checked} outputs checked under {out}"

"""The README is executable truth: every ```bash command and every ```python block of README.md
runs here, in README order, in one temporary working directory.

Conventions (also stated at the top of README.md):

* The working directory has ``../shared`` beside it (a link to the real data folder), exactly as a
  checkout has; without the real data the whole file is skipped with the reason.
* ``signverse`` and ``.venv/bin/signverse`` run this checkout's code with this interpreter;
  ``python`` / ``python3`` / ``.venv/bin/python`` are this interpreter.
* A command or block that cannot run here says why with a trailing marker comment
  ``# needs: network`` (package index, downloads, URLs), ``# needs: gpu``, ``# needs: browser``
  (an interactive viewer), or ``# needs: suite`` (the test suite itself); it is skipped by that
  name. In a ```python block, a ``# needs: ...`` comment anywhere skips the block.
* A ```text (or unlabelled) fence is not run: use it for usage synopses with placeholders.
* Long jobs are shortened where a flag allows, never otherwise changed: ``signverse train``
  gets ``--epochs 1 --limit 100`` (SignX: 1 step; ``signx-video2pose``: ``--limit 1`` video),
  ``signverse demo`` ``--limit 1 --workers 0``, ``signverse extract`` ``--limit 2 --workers 0``
  (each only when the command does not set it itself).
"""
from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA

README = REPO / "README.md"
NEEDS = re.compile(r"#\s*needs:\s*([\w\- ,]+)")
TIMEOUT_S = 420          # one command; the whole file runs in a few minutes on 2 cores
# flags appended to shorten a command (only when the command does not set the flag itself),
# by "COMMAND TASK" first, then by "COMMAND"
SHORTEN = {"train signx-video2pose": [("--limit", ["--limit", "1"])],
           "train": [("--epochs", ["--epochs", "1"]), ("--limit", ["--limit", "100"])],
           "demo": [("--limit", ["--limit", "1"]), ("--workers", ["--workers", "0"])],
           "extract": [("--limit", ["--limit", "2"]), ("--workers", ["--workers", "0"])]}


@dataclass
class Snippet:
    kind: str        # "bash" or "python"
    line: int        # first line in README.md
    text: str
    needs: str | None

    @property
    def id(self) -> str:
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return f"L{self.line}-{self.kind}: {first[:70]}"


def _strip_comment(command: str) -> str:
    """``command`` without a trailing ``# ...`` comment (quotes respected)."""
    quote = None
    for i, ch in enumerate(command):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip()
    return command.rstrip()


def extract_snippets(text: str) -> list[Snippet]:
    """Each command of ```bash fences (continuation lines joined) and each ```python fence."""
    out: list[Snippet] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w+)\s*$", lines[i])
        if not fence or fence[1] not in ("bash", "sh", "shell", "python"):
            i += 1
            continue
        kind, start, body = ("python" if fence[1] == "python" else "bash"), i + 2, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if kind == "python":
            block = "\n".join(body)
            needs = NEEDS.search(block)
            out.append(Snippet("python", start, block, needs[1].strip() if needs else None))
            continue
        n = 0
        while n < len(body):
            first, command = start + n, body[n]
            while command.rstrip().endswith("\\") and n + 1 < len(body):
                n += 1
                command = command.rstrip()[:-1].rstrip() + " " + body[n].strip()
            n += 1
            if not command.strip() or command.lstrip().startswith("#"):
                continue
            needs = NEEDS.search(command)
            out.append(Snippet("bash", first, command.strip(), needs[1].strip() if needs else None))
    return out


def shorten(command: str) -> str:
    """Append the shortening flags of SHORTEN to a plain ``signverse CMD ...`` command."""
    command = _strip_comment(command)
    if any(op in command for op in ("|", "&&", ";", ">")):
        return command
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) < 2 or words[0] not in ("signverse", ".venv/bin/signverse"):
        return command
    extra: list[str] = []
    rules = SHORTEN.get(" ".join(words[1:3]), []) + SHORTEN.get(words[1], [])
    for flag, add in rules:
        if flag not in words and flag not in extra:
            extra += add
    return command + "".join(f" {shlex.quote(w)}" for w in extra)


SNIPPETS = extract_snippets(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} (README commands use ../shared/data)")
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").symlink_to(SHARED_DATA.parent.resolve(), target_is_directory=True)
    work = root / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, target in (("signverse", f'exec "{sys.executable}" -m signverse "$@"'),
                         ("python", f'exec "{sys.executable}" "$@"'), ("python3", f'exec "{sys.executable}" "$@"')):
        for folder in (bin_dir, work / ".venv" / "bin"):
            shim = folder / name
            shim.write_text(f"#!/bin/sh\n{target}\n")
            shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k not in ("SIGNVERSE_SHARED_DATA",)}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(REPO),
               OMP_NUM_THREADS="1", HF_HOME=str(root / "hf"), HF_DATASETS_OFFLINE="1",
               HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    return work, env


def test_readme_has_runnable_snippets():
    kinds = {s.kind for s in SNIPPETS}
    assert kinds == {"bash", "python"} and len(SNIPPETS) > 10


def test_markers_and_shortening():
    snippets = extract_snippets("```bash\nsignverse train islr --data d \\\n    --out r   # needs: gpu\n"
                                "# a comment\nsignverse demo\n```\n```text\nsignverse x\n```\n"
                                "```python\n# needs: network\nimport x\n```\n")
    assert [(s.kind, s.line, s.needs) for s in snippets] == [("bash", 2, "gpu"), ("bash", 5, None),
                                                            ("python", 11, "network")]
    assert snippets[0].text.startswith("signverse train islr --data d --out r")
    assert shorten("signverse train islr --data d --out r   # why") == \
        "signverse train islr --data d --out r --epochs 1 --limit 100"
    assert shorten("signverse train islr --epochs 3 --limit 5") == "signverse train islr --epochs 3 --limit 5"
    assert shorten("signverse train signx-video2pose --data v") == \
        "signverse train signx-video2pose --data v --limit 1 --epochs 1"
    assert shorten("signverse demo") == "signverse demo --limit 1 --workers 0"
    assert shorten("signverse info 'a # b'") == "signverse info 'a # b'"


@pytest.mark.slow
@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_readme_snippet_runs(snippet: Snippet, workdir):
    if snippet.needs:
        pytest.skip(f"README marks it '# needs: {snippet.needs}'")
    work, env = workdir
    if snippet.kind == "python":
        script = work / f"readme_L{snippet.line}.py"
        script.write_text(snippet.text, encoding="utf-8")
        args = [sys.executable, str(script)]
        shown = f"python block at README.md:{snippet.line}"
    else:
        command = shorten(snippet.text)
        args = ["bash", "-eo", "pipefail", "-c", command]
        shown = f"README.md:{snippet.line}: {command}"
    proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, (f"{shown}\nexit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
                                  f"\n--- stderr\n{proc.stderr[-3000:]}")

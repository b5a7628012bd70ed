"""One error family, so the CLI can print user errors as one line and never a traceback."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType


class SignverseError(Exception):
    """Base of every error signverse raises on purpose (bad input, missing extras, ...)."""


class InputError(SignverseError):
    """A file or value that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        # One line, whatever a library's message held (pyarrow ends some with a newline).
        self.problem = " ".join(line.strip() for line in str(problem).splitlines() if line.strip())
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


class MissingDependency(SignverseError):
    """An optional dependency is not installed; the message names the pip extra to install."""

    def __init__(self, module: str, extra: str):
        self.module, self.extra = module, extra
        super().__init__(
            f"this feature needs the Python package '{module}': pip install 'signverse[{extra}]'")


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or raise MissingDependency naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module.split(".")[0], extra) from exc

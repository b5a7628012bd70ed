"""Entry point: builds the parser from one module per command group and turns user errors into
one line on stderr with a non-zero exit code (never a traceback)."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from signverse.core.errors import SignverseError

# Each module defines ``register(subparsers)``; heavy imports stay inside the command handlers so
# that ``signverse --help`` stays fast. Modules that are not present are skipped.
COMMAND_MODULES = ("demo", "info", "convert", "render", "stats", "extract", "status", "repair", "train",
                   "evaluate", "predict", "recognize", "layouts", "view", "download", "push", "retarget",
                   "anonymize", "privacy")

EXIT_USER_ERROR = 2


class ShortErrorParser(argparse.ArgumentParser):
    """Argument errors as one line pointing at --help, not the whole usage block."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class OncePerMessage(logging.Filter):
    """Each distinct warning is printed once per run, however many items repeat it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def build_parser() -> argparse.ArgumentParser:
    from signverse import __version__
    parser = ShortErrorParser(
        prog="signverse", description="Pose-native sign-language data and models.")
    parser.add_argument("--version", action="version", version=f"signverse {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"signverse.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    parser.commands = sub.choices
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:   # say so from the command's own parser (its usage, its --help)
        commands = getattr(parser, "commands", {})
        (commands.get(getattr(args, "command", None)) or parser).error(
            f"unrecognized arguments: {' '.join(unknown)}")
    fresh = not logging.getLogger().handlers   # else the host (a test, an app) owns logging
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if fresh:
        for handler in logging.getLogger().handlers:
            handler.addFilter(OncePerMessage())
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except SignverseError as exc:
        print(f"signverse {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # output piped into e.g. `head`: stop quietly, like other command-line tools
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("signverse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

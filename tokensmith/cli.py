"""The `tokensmith` command line: the only module that joins schema, compiler and runtime.

Each verb lives in `tokensmith/commands/<verb>.py` with `register(subparsers)`, which adds its
parser and sets `func(args) -> int` as the default. Heavy imports stay inside `func`, so that
`tokensmith serve` does not pay for the compiler and `tokensmith check` not for the server.
Exit codes: 0 success, 1 findings or failed tests, 2 usage or I/O errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tokensmith import __version__
from tokensmith.commands._build_side import refusal

COMMANDS = (
    "check",
    "compile",
    "serve",
    "test",
    "explain",
    "diff",
    "schema",
    "demo",
    "vault",
    "import_statebacked",
    "keygen",
    "sign",
    "verify",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokensmith", description="A token exchange configured as code."
    )
    parser.add_argument("--version", action="version", version=f"tokensmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tokensmith.commands.{name}")
        except ModuleNotFoundError as exc:  # pragma: no cover - only while a verb is being built
            if exc.name != f"tokensmith.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stdout is None:  # started with standard output closed: output goes nowhere
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    parser = build_parser()
    args = parser.parse_args(argv)
    refused = refusal(args.command)
    if refused is not None:  # a runtime-only install: say what is missing, do nothing
        print(refused, file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a full disk or an unwritable output: an I/O error, exit 2
        _quiet_stdout()
        print(f"tokensmith: cannot write output: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return code


def _quiet_stdout() -> None:
    # Output still buffered would fail again when the interpreter flushes at exit.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

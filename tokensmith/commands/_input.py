"""Reading a verb's input file (or `-`, standard input) as UTF-8 text, with a clear error."""

from __future__ import annotations

import sys

from tokensmith.schema.errors import BuildError


class InputError(BuildError):
    """The input cannot be read as UTF-8 text; the message starts with where it came from."""


def read_text(source: str) -> str:
    """The UTF-8 text of the file `source`, or of standard input when `source` is `-`."""
    try:
        if source == "-":
            if sys.stdin is None:  # started with standard input closed
                raise InputError("-: standard input is closed")
            data = sys.stdin.buffer.read()
        else:
            with open(source, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise InputError(f"{source}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from None

"""Argument types shared by several verbs: each refuses a bad value with argparse's usage error
(exit 2) instead of letting it reach code that would crash on it."""

from __future__ import annotations

import argparse
import math

#: The epochs a timestamp can be shown for: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_EPOCH = -62_135_596_800
MAX_EPOCH = 253_402_300_799


def epoch(text: str) -> float:
    """A time in seconds since 1970 (decimals allowed), finite and within years 1 to 9999."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number of seconds since 1970: {_shown(text)}"
        ) from None
    if not math.isfinite(value) or not MIN_EPOCH <= value <= MAX_EPOCH:
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} is out of range (seconds since 1970, within years 1 to 9999)"
        )
    return value


def whole_epoch(text: str) -> int:
    """An `epoch` given as a whole number of seconds."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a whole number of seconds since 1970: {_shown(text)}"
        ) from None
    if not MIN_EPOCH <= value <= MAX_EPOCH:
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} is out of range (seconds since 1970, within years 1 to 9999)"
        )
    return value


def port(text: str) -> int:
    """A TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be between 0 and 65535")
    return value


MAX_WORKERS = 256


def workers(text: str) -> int:
    """A number of worker processes: 1 to `MAX_WORKERS` (a typo must not start 100,000)."""
    value = positive(text)
    if value > MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WORKERS}")
    return value


def positive(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _shown(text: str) -> str:
    """`text` quoted, shortened when long (a 5,000-digit number is no help in a message)."""
    return repr(text) if len(text) <= 40 else repr(text[:20] + "...") + f" ({len(text)} characters)"

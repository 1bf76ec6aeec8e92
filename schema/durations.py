"""Durations as the config writes them: `90s`, `30m`, `1h`, `1d`, or a whole number of seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")


def parse_duration(value: str | int) -> int | None:
    """Seconds for `value`, or None when it is not a duration.

    A string is digits followed by one unit (`s`, `m`, `h`, `d`); an int is seconds and must not
    be negative. Zero parses (as 0): whether zero is allowed is the caller's rule, not the syntax.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]

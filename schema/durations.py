"""Durations as the config writes them: `90s`, `30m`, `1h`, `1d`, or a whole number of seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
#: The longest duration the written form allows (999999999d); whole seconds stop there too, so
#: that a lifetime always fits the 64-bit integers of JSON parsers and JWT libraries.
MAX_SECONDS = 999_999_999 * _UNITS["d"]


def parse_duration(value: str | int) -> int | None:
    """Seconds for `value`, or None when it is not a duration.

    A string is digits followed by one unit (`s`, `m`, `h`, `d`); an int is seconds and must not
    be negative nor over `MAX_SECONDS`. Zero parses (as 0): whether zero is allowed is the
    caller's rule, not the syntax.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_SECONDS else None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]

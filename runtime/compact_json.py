"""The issued claims as compact UTF-8 JSON: orjson where it writes what the stdlib writes.

`plain_compact_json` is the reference: the stdlib encoder with `,`/`:` separators, UTF-8 as
is, no NaN, which writes a value or raises `TypeError`, `ValueError` or `RecursionError`.
`compact_json` is its shortcut: orjson writes the common claim set (strings, integers, lists,
objects) fifteen times faster and identically, and the shortcut is taken only when that is
certain; everything else (floats, null, integers over 64 bits, non-string keys, subclasses,
lone surrogates, deep nesting) goes to the reference, errors included.
`tests/runtime/test_shortcut_equivalence.py` pins the two against each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

# One encoder, built once: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)

# Output orjson may spell differently from `_ENCODER`: any float (orjson writes 1e-05 as
# 0.00001) and `null` (orjson writes NaN and infinities as null where `_ENCODER` refuses them).
# In compact output a number value follows `:`, `,` or `[`, and a float has `.` or `e`/`E`
# after its leading digits, so `_FLOAT` finds every float. A string that merely contains such
# text (or `null`) only costs the plain path; a random `jti` never does (no `:`, `,` or `[`),
# where the earlier `[0-9][.eE]` sent about one exchange in ten down the plain path.
# (One regex with `|null` is twice as slow as the two searches.)
_FLOAT = re.compile(rb"[:,\[]-?[0-9]+[.eE]")

_ALIKE_SCALARS = frozenset({str, int, bool})


def compact_json(value: Mapping[str, Any]) -> bytes:
    """`plain_compact_json(value)`, byte for byte and exception for exception, mostly by orjson.

    Three steps: orjson writes the value (or refuses it: the reference decides); a walk over
    the value finds only types both write alike (the usual claim set: cheaper than a search of
    the output); else the output is searched for a float or a `null`, which orjson may spell
    differently, and only output without either is kept.
    """
    return written_compact_json(value)[0]


def written_compact_json(value: Mapping[str, Any], walk: Any = None) -> tuple[bytes, bool]:
    """`compact_json(value)`, and whether orjson wrote `value` without an error (whichever
    text is returned).

    When it did, `value` holds only what orjson writes as itself (no subclass, no dataclass,
    no date, string keys, no integer over 64 bits), and the compact JSON determines what orjson
    writes: two such values with the same compact JSON are the same JSON to orjson too (the
    shadow compares two claim sets by their payloads on that ground, `runtime.shadow_candidate`).

    `walk`: the part of `value` that may hold anything, when the caller knows that everything
    else in it is a string or an integer of exactly those types (the issued claims: the
    registered claims around the mapping output); the walk looks at it alone. By default,
    `value` itself.
    """
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return plain_compact_json(value), False
    if _written_alike(value if walk is None else walk) or (
        b"null" not in data and _FLOAT.search(data) is None
    ):
        return data, True
    return plain_compact_json(value), True


def plain_compact_json(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of `value` by the stdlib encoder: the reference of `compact_json`."""
    return _ENCODER.encode(value).encode("utf-8")


def _written_alike(value: Any) -> bool:
    """True when `value` (a dict or a list) holds only dicts, lists, strings, integers and
    booleans, of exactly those types: values orjson writes as `_ENCODER` does, when it writes
    them at all (a non-string key, a lone surrogate or a big integer makes it raise)."""
    items = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind in _ALIKE_SCALARS:
            continue
        if (kind is dict or kind is list) and _written_alike(item):
            continue
        return False
    return True

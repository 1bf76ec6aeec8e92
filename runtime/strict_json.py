"""Strict JSON for token headers, claims and JWKS documents.

Python's `json` accepts several things that make two parsers disagree about one document:
duplicate members (the last wins), `NaN` and `Infinity`, numbers that overflow to infinity,
lone UTF-16 surrogates, and (for bytes) a BOM or UTF-16 input. Each disagreement is an attack
on whoever trusts the other parser, so `loads` refuses them all, and caps the nesting depth
without ever reaching a `RecursionError`.

`plain_loads` is the strict stdlib decoder that decides. `loads` first tries a shortcut,
`canonical_json.canonical_loads` (a document orjson writes back byte for byte is canonical, so
orjson's value is the answer), with nesting bounded by counting brackets first; any other
document (whitespace, escapes, exponents, anything refused) goes to `plain_loads`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .canonical_json import NOT_CANONICAL, canonical_loads
from .errors import ExchangeError

MAX_DEPTH = 32

# A `\uD800`-`\uDFFF` escape; only then can a lone surrogate reach a decoded string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


class StrictJSONError(ExchangeError, ValueError):
    """The bytes are not one strict JSON document (see the module docstring)."""


def loads(
    data: bytes | str, max_depth: int = MAX_DEPTH, max_containers: int | None = None
) -> Any:
    """Decode one strict JSON document from UTF-8 `data` (or from text); `StrictJSONError` else.

    `max_containers` bounds the `[` and `{` in the text (counted in C, strings included, so an
    upper bound of the arrays and objects): a document with more is refused before it is
    parsed, since each container costs the parse and the depth check Python work.
    """
    if type(data) is bytes:
        containers = data.count(b"[") + data.count(b"{")
        if max_containers is not None and containers > max_containers:
            raise StrictJSONError("too many arrays and objects")
        if containers <= max_depth:
            value = canonical_loads(data)
            if value is not NOT_CANONICAL:
                return value
    return plain_loads(data, max_depth, max_containers)


def plain_loads(
    data: bytes | str, max_depth: int = MAX_DEPTH, max_containers: int | None = None
) -> Any:
    """`loads` without its shortcut: the strict stdlib decoder with its hooks, which decides."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJSONError("not valid UTF-8") from exc
    else:
        text = data
    if text.startswith("\ufeff"):
        raise StrictJSONError("byte order mark")
    # `[` and `{` counted in C: a document with few of them cannot be deep, so the common
    # case never walks the result.
    containers = text.count("[") + text.count("{")
    if max_containers is not None and containers > max_containers:
        raise StrictJSONError("too many arrays and objects")
    deep = containers > max_depth
    try:
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise StrictJSONError("nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, our hooks, int digit limit
        if isinstance(exc, StrictJSONError):
            raise
        raise StrictJSONError("not valid JSON") from exc
    if deep and _depth_exceeds(value, max_depth):
        raise StrictJSONError("nested too deeply")
    if _SURROGATE_ESCAPE.search(text) is not None:
        _reject_lone_surrogates(value)
    return value


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise StrictJSONError("duplicate member")
    return obj


def _parse_constant(name: str) -> Any:
    raise StrictJSONError("NaN and Infinity are not JSON")


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJSONError("number out of range")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_pairs, parse_constant=_parse_constant, parse_float=_parse_float
)


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when containers nest deeper than `max_depth`; level by level, so no recursion
    limit, and with the per-child work in C (`extend`, a comprehension): a token's worth of
    shallow arrays used to cost a microsecond each here."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        children: list[Any] = []
        for item in level:
            children.extend(item.values() if type(item) is dict else item)
        level = [child for child in children if type(child) is dict or type(child) is list]
    return False


def _reject_lone_surrogates(value: Any) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StrictJSONError("unpaired surrogate") from exc

"""`strict_json.loads` with its orjson fast path decides exactly as the strict stdlib decoder.

The fast path accepts a document only when orjson writes the parsed value back as the very same
bytes; these tests throw random documents at both (compact and spaced, with duplicate members,
escapes, big and special numbers, deep nesting, bad UTF-8) and require the same value or the same
refusal, down to the types (`1` vs `1.0`) and the sign of zero.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime.strict_json import MAX_DEPTH, StrictJSONError, _strict_loads, loads

_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, codec="utf-8"),
                max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _outcome(decode: Any, data: bytes) -> Any:
    try:
        return ("value", _typed(decode(data)))
    except StrictJSONError:
        return ("refused",)


def _typed(value: Any) -> Any:
    """The value with every scalar tagged by its type (so 1 != 1.0 and 0.0 != -0.0)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", value, math.copysign(1.0, value))
    return (type(value).__name__, value)


def _same(data: bytes) -> None:
    assert _outcome(loads, data) == _outcome(lambda d: _strict_loads(d, MAX_DEPTH), data)


def _spellings(value: Any) -> list[bytes]:
    texts = [json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":"))]
    # the spelling the fast path accepts (orjson cannot write integers over 64 bits)
    with contextlib.suppress(orjson.JSONEncodeError):
        texts.append(orjson.dumps(value).decode())
    return [t.encode("utf-8", "surrogatepass") for t in texts]


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_every_spelling_of_a_value_decodes_the_same(value: Any) -> None:
    for data in _spellings(value):
        _same(data)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, min_size=1, max_size=4), st.data())
def test_duplicate_members_are_refused_on_both_paths(obj: dict[str, Any], data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    for text in _spellings(obj):
        member = json.dumps({key: obj[key]}, ensure_ascii=False, separators=(",", ":"))
        member_bytes = member[1:-1].encode()
        duplicated = text[:-1] + b"," + member_bytes + b"}"
        assert _outcome(loads, duplicated) == ("refused",)
        _same(duplicated)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_decode_the_same(data: bytes) -> None:
    _same(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":1}',
        b'{"a":{"b":1,"b":2}}',
        b"NaN",
        b'{"x":Infinity}',
        b'{"x":-Infinity}',
        b"1e400",
        b"123456789012345678901234567890",
        b"-0",
        b"-0.0",
        b"1.0",
        b"1E5",
        b'"\\ud800"',
        b'"\\udc00x"',
        b'"\\ud83d\\ude00"',
        b'"\\u00e9"',
        b'"\\/"',
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b'{"a":"\xed\xa0\x80"}',
        b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
        b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]',
        b'{"alg":"HS256","typ":"JWT"}',
        b" {}",
        b"{} ",
        b"",
        b"true",
        b'"\x01"',
    ],
)
def test_edge_cases_decode_the_same(data: bytes) -> None:
    _same(data)


def test_the_fast_path_still_refuses_what_the_strict_decoder_refuses() -> None:
    for data in (b'{"a":1,"a":2}', b"[NaN]", b"[1e999]", b'["\\udfff"]', b"\xff"):
        with pytest.raises(StrictJSONError):
            loads(data)
    too_deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    with pytest.raises(StrictJSONError):
        loads(too_deep)
    assert loads(b'{"iss":"https://i/","exp":1700000000}') == {
        "iss": "https://i/",
        "exp": 1700000000,
    }

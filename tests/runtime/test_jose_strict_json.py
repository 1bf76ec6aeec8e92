"""Strict JSON: one document, one meaning, or a `StrictJSONError` (a `ValueError`)."""

from __future__ import annotations

import time

import pytest

from tokensmith.runtime.strict_json import StrictJSONError, loads


def test_plain_documents_decode_as_json_would() -> None:
    assert loads(b'{"a":[1,2.5,"x",true,null,{"b":{}}]}') == {
        "a": [1, 2.5, "x", True, None, {"b": {}}]
    }
    assert loads('{"s":"\\ud83d\\ude00 é"}') == {"s": "\U0001f600 é"}
    assert loads(b'{"big":' + b"9" * 40 + b"}") == {"big": int("9" * 40)}


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":1}',
        b'{"a":{"b":1,"b":2}}',
        b'[{"x":1},{"y":1,"y":2}]',
        b"NaN",
        b"[Infinity]",
        b'{"n":-Infinity}',
        b"1e999",
        b"[-1e400]",
        b'"\\ud800"',
        b'{"\\udc00":1}',
        b'["ok","\\uDBFF x"]',
        b"\xef\xbb\xbf{}",
        "{}".encode("utf-16"),
        "{}".encode("utf-32"),
        b"\xff",
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8 bytes is not UTF-8
        b'"\x00"',
        b'"tab\there"',
        b"{} {}",
        b"",
        b"1" * 5000,
    ],
)
def test_ambiguous_or_invalid_documents_are_refused(data: bytes) -> None:
    with pytest.raises(StrictJSONError):
        loads(data)


def test_the_error_is_a_value_error() -> None:
    assert issubclass(StrictJSONError, ValueError)


def test_nesting_is_capped_without_recursion_error() -> None:
    assert loads(b"[" * 32 + b"]" * 32) is not None
    for depth in (33, 500, 5000, 200_000):
        with pytest.raises(StrictJSONError):
            loads(b"[" * depth + b"]" * depth)
    with pytest.raises(StrictJSONError):
        loads(b'{"a":' * 40 + b"1" + b"}" * 40)


def test_many_brackets_in_strings_do_not_count_as_depth() -> None:
    assert loads(b'{"s":"' + b"[{" * 100 + b'"}') == {"s": "[{" * 100}


def test_hostile_inputs_are_refused_fast() -> None:
    started = time.perf_counter()
    for data in (b"[" * 100_000, b'{"a":' * 50_000, b"[1," * 20_000 + b"]"):
        with pytest.raises(StrictJSONError):
            loads(data)
    assert time.perf_counter() - started < 0.5

"""Property tests: hostile input never escapes as anything but the documented refusal."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.jwk import JwkSetError, parse_jwk_set
from tokensmith.runtime.strict_json import StrictJSONError, loads


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_parsed_or_refused_as_invalid_request(token: str) -> None:
    try:
        parse_compact(token)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.reason


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=80), st.binary(max_size=80))
def test_any_segment_bytes_are_parsed_or_refused(header: bytes, payload: bytes, sig: bytes) -> None:
    try:
        jws = parse_compact(f"{b64(header)}.{b64(payload)}.{b64(sig)}")
    except InvalidRequest:
        return
    assert isinstance(jws.header["alg"], str) and isinstance(jws.claims, dict)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_any_json_header_and_payload_are_parsed_or_refused(header: Any, payload: Any) -> None:
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.AAAA"
    try:
        parse_compact(token)
    except InvalidRequest:
        return
    assert isinstance(header, dict) and isinstance(payload, dict)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_strict_json_raises_only_its_own_error(data: bytes) -> None:
    with contextlib.suppress(StrictJSONError):
        loads(data)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(json_values)
def test_strict_json_agrees_with_json_on_what_json_writes(value: Any) -> None:
    text = json.dumps(value, allow_nan=True)
    try:
        decoded = loads(text.encode())
    except StrictJSONError:
        return  # NaN/Infinity, or deeper than the cap
    assert json.dumps(decoded) == text


jwk_members = st.dictionaries(
    st.sampled_from(["kty", "crv", "x", "y", "n", "e", "d", "k", "kid", "alg", "use", "key_ops"]),
    st.sampled_from(
        [
            "RSA",
            "EC",
            "OKP",
            "oct",
            "P-256",
            "Ed25519",
            "AQAB",
            "sig",
            "enc",
            "RS256",
            "ES256",
            "EdDSA",
            "AAAA",
            "_-_-",
            "",
        ]
    )
    | st.integers()
    | st.none()
    | st.lists(st.sampled_from(["verify", "sign", "encrypt"]), max_size=2),
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(jwk_members | json_values, max_size=5))
def test_jwk_sets_drop_bad_keys_and_never_raise_for_them(keys: list[Any]) -> None:
    result = parse_jwk_set({"keys": keys}, ["RS256", "ES256", "EdDSA", "HS256"])
    assert len(result.keys) + len(result.dropped) == len(keys)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_jwk_set_documents_of_any_shape_are_refused_with_one_error(document: Any) -> None:
    with contextlib.suppress(JwkSetError):
        parse_jwk_set(document, ["RS256"])

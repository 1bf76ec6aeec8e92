"""The shortcuts the hot path takes write and refuse exactly what the slow paths did.

- `signing.compact_json` (orjson with a stdlib fallback) writes the same bytes as the stdlib
  encoder the issued claims used to go through, and refuses what it refused;
- `exchange` signs the size-checked bytes: the issued payload is `compact_json(claims)`;
- the table of checked JWS headers answers only for the exact segment it checked, never
  remembers a refused one, stays bounded and hands out read-only headers.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime import jose
from tokensmith.runtime.b64 import b64url_decode, b64url_encode
from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.issuing import MAX_ISSUED_CLAIMS_BYTES, payload_within_limit
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.model import SigningKeySpec
from tokensmith.runtime.signing import compact_json, load_signer

_STDLIB = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# every code point, lone surrogates included (they come from `\ud800` escapes in claims)
_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # across orjson's 64-bit limit
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
    | st.sampled_from(["1e5", "x.y", "null", "é", "\u2028", "\x7f", "a\"b\\c\n"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _stdlib(value: Any) -> bytes | type[Exception]:
    try:
        return _STDLIB.encode(value).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc)


def _fast(value: Any) -> bytes | type[Exception]:
    try:
        return compact_json(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_TEXT, _JSON, max_size=6))
def test_compact_json_writes_and_refuses_exactly_what_the_stdlib_encoder_does(
    claims: dict[str, Any],
) -> None:
    assert _fast(claims) == _stdlib(claims)


@pytest.mark.parametrize(
    "value",
    [
        {"n": float("nan")},
        {"n": math.inf},
        {"n": [1, {"x": -math.inf}]},
        {"big": 2**64},
        {"s": "\ud800"},
        {1: "non-string key"},
        {"f": 1e-05, "g": 1e16, "h": 0.1},
        # a float as the first element of an array, nested, negative, after a string with digits
        {"a": [1e-05]},
        {"a": [[1e-05, 2]]},
        {"a": {"b": [-1e-05]}},
        {"s": "3e", "jti": "x1e2.0", "f": [7, 1e-05]},
    ],
)
def test_compact_json_edge_cases_match_the_stdlib(value: Any) -> None:
    assert _fast(value) == _stdlib(value)


def test_compact_json_is_compact_ordered_and_utf8() -> None:
    claims = {"iss": "https://i/", "aud": "svc", "iat": 1, "act": {"sub": "ü", "z": [1, 2]}}
    assert compact_json(claims) == '{"iss":"https://i/","aud":"svc","iat":1,"act":{"sub":"ü","z":[1,2]}}'.encode()


def test_payload_within_limit_returns_what_is_signed_and_still_refuses() -> None:
    claims = {"iss": "i", "act": {"email": "ada@example.com"}}
    assert payload_within_limit(claims) == compact_json(claims)
    with pytest.raises(InvalidRequest) as too_large:
        payload_within_limit({"x": "a" * MAX_ISSUED_CLAIMS_BYTES})
    assert too_large.value.reason == "claims_too_large"
    for bad in ({"x": float("nan")}, {"x": "\udc00"}, {"x": object()}):
        with pytest.raises(InvalidRequest) as invalid:
            payload_within_limit(bad)
        assert invalid.value.reason == "claims_invalid"


def test_sign_payload_signs_the_same_token_as_sign() -> None:
    signer = load_signer(SigningKeySpec("k", "HS256", None, None), b"0123456789abcdef" * 2)
    claims = {"iss": "i", "exp": 2, "act": {"sub": "u", "n": 1.5}}
    token = signer.sign(claims)
    assert token == signer.sign_payload(compact_json(claims))
    payload = token.split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))) == claims


@given(st.binary(max_size=200))
def test_b64url_encode_is_unpadded_urlsafe_base64_and_round_trips(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert b64url_decode(text) == data


def test_embedded_key_headers_are_still_refused() -> None:
    for member in ("jku", "jwk", "x5u", "x5c"):
        header = b64url_encode(json.dumps({"alg": "HS256", member: "x"}).encode())
        with pytest.raises(InvalidRequest) as refused:
            parse_compact(f"{header}.{b64url_encode(b'{}')}.c2ln")
        assert refused.value.reason == "embedded_key_header"


def _token(header: dict[str, Any]) -> str:
    segment = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    return f"{segment}.{b64url_encode(b'{}')}.c2ln"


def test_a_refused_header_is_refused_every_time_and_never_remembered() -> None:
    token = _token({"alg": "HS256", "crit": ["exp"]})
    for _ in range(3):
        with pytest.raises(InvalidRequest) as refused:
            parse_compact(token)
        assert refused.value.reason == "crit_header"
    assert token.split(".")[0] not in jose._checked_headers


def test_a_remembered_header_is_the_same_read_only_value() -> None:
    token = _token({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    first, second = parse_compact(token), parse_compact(token)
    assert dict(first.header) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert second.header is first.header
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]


def test_one_character_more_is_another_header() -> None:
    # the table is keyed by the exact segment: a look-alike with a refused member misses it
    parse_compact(_token({"alg": "HS256"}))
    with pytest.raises(InvalidRequest) as refused:
        parse_compact(_token({"alg": "HS256", "jku": "https://attacker.example/jwks"}))
    assert refused.value.reason == "embedded_key_header"


def test_the_table_stays_bounded_and_long_headers_are_not_kept() -> None:
    for i in range(jose.HEADER_CACHE_ENTRIES * 3):
        parse_compact(_token({"alg": "HS256", "kid": f"key-{i}"}))
        assert len(jose._checked_headers) <= jose.HEADER_CACHE_ENTRIES
    long = _token({"alg": "HS256", "kid": "k" * 256, "x": "y" * 300})
    parse_compact(long)
    assert long.split(".")[0] not in jose._checked_headers

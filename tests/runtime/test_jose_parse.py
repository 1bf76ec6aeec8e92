"""The strict compact-JWS envelope: every malformed or over-featured token is refused.

Rows of the attack catalogue (A01, A02, A06, A07, A08, A13-A20, B16, B17) at the parser level;
the HTTP level is tested with the exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.jose import MALFORMED, UNSUPPORTED, parse_compact

SECRET = b"s" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return b64(raw)


def hs256(header: Any, payload: Any) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    sig = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


GOOD = hs256({"alg": "HS256", "typ": "JWT", "kid": "k1"}, {"sub": "u1", "exp": 2_000_000_000})


def refused(token: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_compact(token)
    # descriptions are fixed and general: never the token or a part of it
    assert info.value.description in (MALFORMED, UNSUPPORTED)
    assert info.value.status == 400 and info.value.error == "invalid_request"
    return info.value


def test_a_good_token_parses_into_header_claims_and_signing_input() -> None:
    jws = parse_compact(GOOD)
    assert jws.header["alg"] == "HS256" and jws.header["kid"] == "k1"
    assert dict(jws.claims) == {"sub": "u1", "exp": 2_000_000_000}
    assert jws.signing_input == GOOD.rsplit(".", 1)[0].encode()
    assert len(jws.signature) == 32


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_every_casing_is_refused(alg: str) -> None:
    payload = segment({"sub": "u1", "exp": 2_000_000_000})
    assert refused(f"{segment({'alg': alg, 'typ': 'JWT'})}.{payload}.").reason == "alg_unsupported"
    # `none` keeping the old signature of a real token
    kept = GOOD.split(".")[2]
    assert refused(f"{segment({'alg': alg})}.{payload}.{kept}").reason == "alg_unsupported"


@pytest.mark.parametrize(
    "header",
    [{"typ": "JWT"}, {"alg": ["HS256"]}, {"alg": 123}, {"alg": None}, {"alg": {"x": 1}}],
)
def test_missing_or_non_string_alg_is_refused(header: dict[str, Any]) -> None:
    assert refused(hs256(header, {"exp": 1})).reason == "alg_missing"


@pytest.mark.parametrize("alg", ["hs256", "rs256", "HS1", "ES256K", "RSA-OAEP", ""])
def test_unknown_or_wrongly_cased_alg_is_refused(alg: str) -> None:
    assert refused(hs256({"alg": alg}, {"exp": 1})).reason == "alg_unsupported"


@pytest.mark.parametrize(
    "crit",
    [["exp2"], [], ["alg"], ["b64"], "exp2", None, ["missing"]],
)
def test_crit_in_any_form_is_refused(crit: Any) -> None:
    header = {"alg": "HS256", "crit": crit, "exp2": 1}
    assert refused(hs256(header, {"exp": 1})).reason == "crit_header"


@pytest.mark.parametrize("b64_value", [False, True, "false"])
def test_b64_header_is_refused(b64_value: Any) -> None:
    assert refused(hs256({"alg": "HS256", "b64": b64_value}, {"exp": 1})).reason == "b64_header"


@pytest.mark.parametrize(
    "member, value",
    [
        ("jwk", {"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        ("jku", "https://attacker.example/jwks.json"),
        ("jku", "http://169.254.169.254/latest/meta-data/"),
        ("x5u", "file:///etc/passwd"),
        ("x5c", ["MIIB"]),
    ],
)
def test_embedded_or_remote_key_headers_are_refused(member: str, value: Any) -> None:
    token = hs256({"alg": "HS256", member: value}, {"exp": 1})
    assert refused(token).reason == "embedded_key_header"


def test_thumbprint_headers_are_ignored_not_refused() -> None:
    # Azure AD sends x5t beside kid; a thumbprint selects nothing here
    jws = parse_compact(hs256({"alg": "HS256", "x5t": "abc", "x5t#S256": "def"}, {"exp": 1}))
    assert jws.header["alg"] == "HS256"


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/jwt"])
def test_nested_token_is_refused(cty: str) -> None:
    assert refused(hs256({"alg": "HS256", "cty": cty}, {"exp": 1})).reason == "nested_token"


@pytest.mark.parametrize("kid", [123, None, {"$ne": 1}, ["k"], True, "k" * 257])
def test_kid_that_is_not_a_short_string_is_refused(kid: Any) -> None:
    assert refused(hs256({"alg": "HS256", "kid": kid}, {"exp": 1})).reason == "bad_kid"


def test_kid_injection_strings_are_only_data() -> None:
    for kid in ("../../../../../../dev/null", "x' UNION SELECT '1';--", "|sleep 10", ""):
        assert parse_compact(hs256({"alg": "HS256", "kid": kid}, {"exp": 1})).header["kid"] == kid


def test_a_megabyte_kid_is_refused_by_length_before_decoding() -> None:
    token = hs256({"alg": "HS256", "kid": "k" * 1_000_000}, {"exp": 1})
    assert refused(token).reason == "token_too_long"


@pytest.mark.parametrize(
    "raw_header",
    [
        b'{"alg":"none","alg":"HS256"}',
        b'{"alg":"HS256","alg":"HS256"}',
        b'{"alg":"HS256","kid":"a","kid":"b"}',
    ],
)
def test_duplicate_header_members_are_refused(raw_header: bytes) -> None:
    assert refused(hs256(raw_header, {"exp": 1})).reason == "bad_json"


def test_duplicate_claims_are_refused_even_when_validly_signed() -> None:
    token = hs256({"alg": "HS256"}, b'{"sub":"alice","sub":"admin","exp":1}')
    assert refused(token).reason == "bad_json"


def test_duplicate_members_nested_in_claims_are_refused() -> None:
    token = hs256({"alg": "HS256"}, b'{"exp":1,"app":{"role":"user","role":"admin"}}')
    assert refused(token).reason == "bad_json"


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"foo"', b"null", b"1", b"", b"{", b'{"exp":NaN}', b'{"exp":1e999}', b"\xff\xfe{}"],
)
def test_payload_that_is_not_a_strict_json_object_is_refused(payload: bytes) -> None:
    assert refused(hs256({"alg": "HS256"}, payload)).reason in ("bad_json", "not_an_object")


def test_bom_and_utf16_headers_are_refused() -> None:
    header = b'{"alg":"HS256"}'
    assert refused(hs256(b"\xef\xbb\xbf" + header, {"exp": 1})).reason == "bad_json"
    assert refused(hs256(header.decode().encode("utf-16"), {"exp": 1})).reason == "bad_json"
    assert refused(hs256(header.decode().encode("utf-16-le"), {"exp": 1})).reason == "bad_json"


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    assert refused(hs256({"alg": "HS256"}, b"[" * 10_000)).reason == "bad_json"
    deep = b'{"exp":1,"a":' + b"[" * 40 + b"]" * 40 + b"}"
    assert refused(hs256({"alg": "HS256"}, deep)).reason == "bad_json"


@pytest.mark.parametrize(
    "token",
    ["", ".", "..", "a.b", "a.b.c.d", "a.b.c.d.e", GOOD + ".", "." + GOOD, GOOD.replace(".", "..")],
)
def test_wrong_segment_counts_are_refused(token: str) -> None:
    refused(token)


def test_jwe_shaped_tokens_are_refused() -> None:
    parts = GOOD.split(".")
    assert refused(".".join([*parts, parts[2], parts[2]])).reason == "jwe_not_supported"


def test_a_megabyte_of_dots_is_refused_fast() -> None:
    started = time.perf_counter()
    assert refused("." * 1_000_000).reason == "token_too_long"
    assert refused("." * 16384).reason == "segment_count"
    assert time.perf_counter() - started < 0.05


def test_json_serialisation_is_refused() -> None:
    doc = json.dumps({"payload": "e30", "signatures": [{"protected": "e30", "signature": "AA"}]})
    refused(doc)


def test_stripped_signature_is_refused() -> None:
    assert refused(GOOD.rsplit(".", 1)[0] + ".").reason == "missing_signature"


def _with(token: str, index: int, text: str) -> str:
    parts = token.split(".")
    parts[index] = text
    return ".".join(parts)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_non_canonical_base64url_is_refused_on_every_segment(index: int) -> None:
    part = GOOD.split(".")[index]
    padded = part + "=" * (-len(part) % 4 or 4)
    variants = [
        padded,
        part + "==",
        part[:4] + " " + part[4:],
        part[:4] + "\n" + part[4:],
        part[:4] + "+" + part[5:],
        part[:4] + "/" + part[5:],
        part + "A" * ((1 - len(part)) % 4 or 4),  # a length of 4n + 1 is never base64
    ]
    for text in variants:
        if text != part:
            assert refused(_with(GOOD, index, text)).reason == "bad_base64", text


def test_non_zero_unused_bits_are_refused() -> None:
    # 32 signature bytes -> 43 characters, the last carrying 2 unused bits
    sig = GOOD.split(".")[2]
    assert len(sig) % 4 == 3
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    tampered = sig[:-1] + alphabet[last | 1 if not last & 1 else last & ~1]
    assert base64.urlsafe_b64decode(tampered + "=") == base64.urlsafe_b64decode(sig + "=")
    assert refused(_with(GOOD, 2, tampered)).reason == "bad_base64"


def test_non_ascii_tokens_are_refused() -> None:
    refused(GOOD[:10] + "é" + GOOD[11:])
    refused(GOOD + "\u200b")


@pytest.mark.parametrize("value", [None, 123, b"abc", ["a.b.c"]])
def test_non_string_tokens_are_refused(value: Any) -> None:
    refused(value)


def test_max_length_is_enforced_and_configurable() -> None:
    assert parse_compact(GOOD, max_length=len(GOOD)).header["alg"] == "HS256"
    with pytest.raises(InvalidRequest) as info:
        parse_compact(GOOD, max_length=len(GOOD) - 1)
    assert info.value.reason == "token_too_long"


def test_header_refusals_come_before_the_payload_is_decoded() -> None:
    # b64:false tokens carry a raw (here: huge, non-base64) payload; nothing of it is decoded
    header = segment({"alg": "HS256", "b64": False, "crit": ["b64"]})
    token = f"{header}.{'$' * 15000}.AAAA"
    assert refused(token).reason == "crit_header"

"""Every shortcut of the hot path writes, reads and refuses exactly what its plain version does.

One section per shortcut, each against its plain reference, byte for byte:

- `strict_json.loads` (the orjson round trip of `canonical_json`) = `strict_json.plain_loads`;
- `compact_json.compact_json` (orjson) = `compact_json.plain_compact_json` (the stdlib encoder);
- `access_lines.LineFormatter.line` (remembered fragments) = `access_lines.plain_line` (orjson);
- `hmac_state.PrecomputedHmac` (pad states) = `hmac.digest`;
- `b64.b64url_encode` (binascii) = `base64.urlsafe_b64encode` without padding;
- `jose`'s table of checked headers = parsing and checking the header again;
- `request.parse_form` = `urllib.parse.parse_qsl(..., strict_parsing=True)`, with the
  differences its docstring lists; `request.body_kind`'s cache = the function itself.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import math
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime import jose
from tokensmith.runtime.access_lines import MAX_FRAGMENTS, LineFormatter, plain_line
from tokensmith.runtime.accesslog import RequestRecord
from tokensmith.runtime.b64 import b64url_decode, b64url_encode
from tokensmith.runtime.canonical_json import NOT_CANONICAL, canonical_loads
from tokensmith.runtime.compact_json import compact_json, plain_compact_json
from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.hmac_state import PrecomputedHmac
from tokensmith.runtime.issuing import (
    MAX_ISSUED_CLAIMS_BYTES,
    issue_claims,
    payload_within_limit,
)
from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.model import SigningKeySpec, TokenProviderSpec
from tokensmith.runtime.request import MAX_FIELDS, UnsupportedMediaType, body_kind, parse_form
from tokensmith.runtime.signing import load_signer
from tokensmith.runtime.strict_json import MAX_DEPTH, StrictJSONError, loads, plain_loads

# --- strict JSON: the orjson round trip decides exactly as the strict stdlib decoder --------
# Random documents (compact and spaced, duplicate members, escapes, big and special numbers,
# deep nesting, bad UTF-8) must give the same value or the same refusal on both paths, down to
# the types (`1` vs `1.0`) and the sign of zero.

_UTF8_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, codec="utf-8"),
                     max_size=8)
_DOCUMENT_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | _UTF8_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_UTF8_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _decoded(decode: Any, data: bytes) -> Any:
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
    plain = _decoded(plain_loads, data)
    assert _decoded(loads, data) == plain
    # the shortcut alone either declines or gives the plain value, for the documents shallow
    # enough by their bracket count (`loads` counts before it takes the shortcut)
    shortcut = canonical_loads(data)
    if shortcut is not NOT_CANONICAL and data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        assert ("value", _typed(shortcut)) == plain


def _spellings(value: Any) -> list[bytes]:
    texts = [json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":"))]
    # the spelling the shortcut accepts (orjson cannot write integers over 64 bits)
    with contextlib.suppress(orjson.JSONEncodeError):
        texts.append(orjson.dumps(value).decode())
    return [t.encode("utf-8", "surrogatepass") for t in texts]


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(_DOCUMENT_VALUES)
def test_every_spelling_of_a_value_decodes_the_same(value: Any) -> None:
    for data in _spellings(value):
        _same(data)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_UTF8_TEXT, _DOCUMENT_VALUES, min_size=1, max_size=4), st.data())
def test_duplicate_members_are_refused_on_both_paths(obj: dict[str, Any], data: Any) -> None:
    key = data.draw(st.sampled_from(sorted(obj)))
    for text in _spellings(obj):
        member = json.dumps({key: obj[key]}, ensure_ascii=False, separators=(",", ":"))
        duplicated = text[:-1] + b"," + member[1:-1].encode() + b"}"
        assert _decoded(loads, duplicated) == ("refused",)
        _same(duplicated)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_decode_the_same(data: bytes) -> None:
    _same(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":1}', b'{"a":{"b":1,"b":2}}', b"NaN", b'{"x":Infinity}', b'{"x":-Infinity}',
        b"1e400", b"123456789012345678901234567890", b"-0", b"-0.0", b"1.0", b"1E5",
        b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b'"\\u00e9"', b'"\\/"',
        b"\xef\xbb\xbf{}", b'{"a":"\xff"}', b'{"a":"\xed\xa0\x80"}',
        b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
        b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]',
        b'{"alg":"HS256","typ":"JWT"}', b" {}", b"{} ", b"", b"true", b'"\x01"',
    ],
)
def test_edge_cases_decode_the_same(data: bytes) -> None:
    _same(data)


def test_the_shortcut_still_refuses_what_the_strict_decoder_refuses() -> None:
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


# --- compact JSON: orjson writes and refuses exactly what the stdlib encoder does ----------

# every code point, lone surrogates included (they come from `\ud800` escapes in claims)
_ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
_CLAIM_VALUES = st.recursive(
    st.none() | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # across orjson's 64-bit limit
    | st.floats(allow_nan=True, allow_infinity=True) | _ANY_TEXT
    | st.sampled_from(["1e5", "x.y", "null", "é", "\u2028", "\x7f", "a\"b\\c\n"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _written(encode: Any, value: Any) -> bytes | type[Exception]:
    try:
        data: bytes = encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc)
    return data


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_ANY_TEXT, _CLAIM_VALUES, max_size=6))
def test_compact_json_writes_and_refuses_exactly_what_the_stdlib_encoder_does(
    claims: dict[str, Any],
) -> None:
    assert _written(compact_json, claims) == _written(plain_compact_json, claims)


@pytest.mark.parametrize(
    "value",
    [
        {"n": float("nan")}, {"n": math.inf}, {"n": [1, {"x": -math.inf}]}, {"big": 2**64},
        {"s": "\ud800"}, {1: "non-string key"}, {"f": 1e-05, "g": 1e16, "h": 0.1},
        # a float as the first element of an array, nested, negative, after a string with digits
        {"a": [1e-05]}, {"a": [[1e-05, 2]]}, {"a": {"b": [-1e-05]}},
        {"s": "3e", "jti": "x1e2.0", "f": [7, 1e-05]},
    ],
)
def test_compact_json_edge_cases_match_the_stdlib(value: Any) -> None:
    assert _written(compact_json, value) == _written(plain_compact_json, value)


def test_compact_json_is_compact_ordered_and_utf8() -> None:
    claims = {"iss": "https://i/", "aud": "svc", "iat": 1, "act": {"sub": "ü", "z": [1, 2]}}
    assert compact_json(claims) == '{"iss":"https://i/","aud":"svc","iat":1,"act":{"sub":"ü","z":[1,2]}}'.encode()


_SERVICE = TokenProviderSpec(
    service="svc", signing_key="k", expires_in=3600, audience="svc", issuer="https://i/",
    identity_providers=None, claims="act", outlive_subject_token=False,
)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(
    mapped=st.dictionaries(_ANY_TEXT, _CLAIM_VALUES, max_size=6),
    claims=st.sampled_from(["act", "root"]),
    jti=st.sampled_from(["j" * 22, "1e5", "null", "x.0"]),
)
def test_issued_claims_are_signed_as_the_stdlib_writes_them(
    mapped: dict[str, Any], claims: str, jti: str
) -> None:
    """`issue_claims` walks only the mapping output (the registered claims are strings and
    integers): its payload is still the stdlib's compact JSON of the whole claim set, and it
    refuses exactly what the stdlib cannot write."""
    spec = dataclasses.replace(_SERVICE, claims=claims)
    try:
        issued, _, payload, _ = issue_claims(spec, mapped, 2_000_000_000, 1_700_000_000.5, jti)
    except InvalidRequest as exc:
        assert exc.reason in ("claims_invalid", "claims_too_large")
        iat = 1_700_000_000
        registered = {"iss": "https://i/", "aud": "svc", "iat": iat, "exp": iat + 3600,
                      "jti": jti}
        whole = ({**{k: v for k, v in mapped.items() if k not in registered}, **registered}
                 if claims == "root" else {**registered, "act": mapped})
        written = _written(plain_compact_json, whole)
        assert not isinstance(written, bytes) or len(written) > MAX_ISSUED_CLAIMS_BYTES
        return
    assert payload == plain_compact_json(issued)


def test_issued_claims_with_floats_and_nulls_in_the_mapping_output_are_the_stdlibs() -> None:
    for mapped in ({"f": 1e-05}, {"n": None, "g": [1e-06, 0.1]}, {"deep": {"x": [{"y": 1e-07}]}}):
        for claims in ("act", "root"):
            spec = dataclasses.replace(_SERVICE, claims=claims)
            issued, _, payload, _ = issue_claims(
                spec, mapped, 2_000_000_000, 1_700_000_000.0, "j" * 22
            )
            assert payload == plain_compact_json(issued), (mapped, claims)
            assert payload != orjson.dumps(issued)  # not the shortcut: floats


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


# --- access-log lines: remembered fragments write exactly orjson's line ---------------------

_LOG_TEXT = st.text(max_size=20)  # quotes, backslashes, control and non-ASCII characters


@pytest.mark.slow
@settings(max_examples=300)
@given(
    request_id=_LOG_TEXT,
    method=st.sampled_from(["POST", "GET", "OPTIONS"]) | _LOG_TEXT,
    path=st.sampled_from(["/tokens", "/healthz", "other"]) | _LOG_TEXT,
    status=st.integers(min_value=0, max_value=999),
    outcome=st.none() | _LOG_TEXT,
    identity_provider=st.none() | _LOG_TEXT,
    service=st.none() | _LOG_TEXT,
    revision=_LOG_TEXT,
    now=st.floats(min_value=0, max_value=4e9),
    started_ns=st.integers(min_value=0, max_value=2**62),
    took_ns=st.integers(min_value=0, max_value=10**13),
)
def test_fast_lines_are_exactly_orjsons_lines(
    request_id: str, method: str, path: str, status: int, outcome: str | None,
    identity_provider: str | None, service: str | None, revision: str, now: float,
    started_ns: int, took_ns: int,
) -> None:
    record = RequestRecord(request_id, method, path, started_ns, status, outcome,
                           identity_provider, service)
    entry = (record, revision, now, started_ns + took_ns)
    expected = plain_line(*entry)
    # what the line is: the object, in this order, as orjson writes it
    assert expected == orjson.dumps({
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(now))),
        "request_id": request_id, "method": method, "path": path, "status": status,
        "outcome": outcome, "identity_provider": identity_provider, "service": service,
        "latency_ms": round(took_ns / 1e6, 3), "revision": revision,
    }, option=orjson.OPT_APPEND_NEWLINE)
    formatter = LineFormatter()
    assert formatter.line(*entry) == expected
    assert formatter.line(*entry) == expected  # remembered the second time


def test_the_first_second_of_the_epoch_has_its_time_too() -> None:
    record = RequestRecord("r", "GET", "/healthz", 0, 200)
    for now in (0.0, 0.5, 1.0, 0.0):
        assert LineFormatter().line(record, "rev", now, 1000) == plain_line(record, "rev", now, 1000)


def test_the_table_of_repeated_members_stays_bounded() -> None:
    formatter = LineFormatter()
    for i in range(MAX_FRAGMENTS * 2):
        record = RequestRecord("r", "POST", "/tokens", 0, 200, "issued", f"idp-{i}", "app")
        line = json.loads(formatter.line(record, "rev", 0.0, 1000))
        assert line["identity_provider"] == f"idp-{i}"
        assert len(formatter) <= MAX_FRAGMENTS


# --- HMAC from precomputed pad states: exactly `hmac.digest`'s bytes ------------------------

_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@given(
    alg=st.sampled_from(sorted(_DIGESTS)),
    # around both block sizes (64 and 128 bytes): shorter keys are padded, longer ones hashed
    key=st.binary(min_size=0, max_size=300),
    messages=st.lists(st.binary(max_size=2000), min_size=1, max_size=4),
)
def test_same_bytes_as_hmac_digest(alg: str, key: bytes, messages: list[bytes]) -> None:
    mac = PrecomputedHmac.for_algorithm(key, alg)
    for message in messages:  # the precomputed states are reused, never consumed
        assert mac.digest(message) == hmac.digest(key, message, _DIGESTS[alg])


@pytest.mark.parametrize("alg", sorted(_DIGESTS))
@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 127, 128, 129, 1000])
def test_key_lengths_at_the_block_boundaries(alg: str, length: int) -> None:
    key = (bytes(range(256)) * 4)[:length]
    mac = PrecomputedHmac.for_algorithm(key, alg)
    assert mac.digest(b"header.payload") == hmac.digest(key, b"header.payload", _DIGESTS[alg])


def test_rfc4231_test_case_2() -> None:
    # RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?"
    mac = PrecomputedHmac.for_algorithm(b"Jefe", "HS256")
    assert mac.digest(b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_repr_does_not_show_the_key() -> None:
    key = b"supersecret-supersecret-supersecret"
    text = repr(PrecomputedHmac.for_algorithm(key, "HS256"))
    assert "supersecret" not in text and key.hex() not in text
    assert text == "PrecomputedHmac(sha256)"


# --- base64url through binascii: exactly unpadded `urlsafe_b64encode` ----------------------

@pytest.mark.slow
@given(st.binary(max_size=200))
def test_b64url_encode_is_unpadded_urlsafe_base64_and_round_trips(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert b64url_decode(text) == data


# --- the table of checked JWS headers: the same answer as checking again --------------------

def _token(header: dict[str, Any]) -> str:
    segment = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    return f"{segment}.{b64url_encode(b'{}')}.c2ln"


def test_embedded_key_headers_are_still_refused() -> None:
    for member in ("jku", "jwk", "x5u", "x5c"):
        with pytest.raises(InvalidRequest) as refused:
            parse_compact(_token({"alg": "HS256", member: "x"}))
        assert refused.value.reason == "embedded_key_header"


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
    jose.clear_caches()
    assert parse_compact(token).header == first.header  # checked again: the same header
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


# --- the form parser: `parse_qsl(strict_parsing=True)`'s fields, a repeated name refused ----

_FORM_PIECES = st.sampled_from([
    "a", "b", "grant_type", "x", "", "=", "&", "+", "%", "%2", "%20", "%3D", "%26", "%2B",
    "%C3%A9", "%c3%a9", "%ff", "%ED%A0%80", "é", "€", ";", "?", "#", " ", "%%", "==",
])
_FORM_TEXT = st.lists(_FORM_PIECES, max_size=3).map("".join)  # short: names repeat
_FORMS = (
    st.lists(_FORM_PIECES, max_size=16).map("".join)
    | st.lists(  # fields, now and then one without `=`
        st.tuples(_FORM_TEXT, _FORM_TEXT).map("=".join) | _FORM_TEXT, max_size=8
    ).map("&".join)
)


def _reference(text: str) -> dict[str, str] | str:
    """What `parse_form` must do with UTF-8 `text`, from `parse_qsl`: the fields, or a reason."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:  # a ValueError: first
        return "bad_encoding"
    except ValueError as exc:
        return "too_many_parameters" if "Max number of fields" in str(exc) else "bad_form"
    names = [name for name, _ in pairs]
    return dict(pairs) if len(set(names)) == len(names) else "repeated_parameter"


def _parsed(body: bytes) -> dict[str, str] | str:
    try:
        return parse_form(body)
    except InvalidRequest as exc:
        return exc.reason


def _repeats_before_first_bad_field(text: str) -> bool:
    """True when a name repeats among the fields before the first one `parse_qsl` refuses: the
    one case where the reasons differ (`parse_form` stops at the repetition, the first problem
    in the body; `parse_qsl`, which allows repetitions, goes on to the bad field)."""
    parts = text.split("&")
    for index, part in enumerate(parts):
        if not part or isinstance(_reference(part), str):
            return _reference("&".join(parts[:index])) == "repeated_parameter"
    return False


def _same_form(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # parse_qsl reads text: the body must be UTF-8 to begin with
        assert _parsed(body) == "bad_encoding"
        return
    expected, got = _reference(text), _parsed(body)
    if got == "repeated_parameter" and expected in ("bad_form", "bad_encoding"):
        assert _repeats_before_first_bad_field(text)
    else:
        assert got == expected
    if isinstance(got, dict):  # in the body's order, as parse_qsl lists them
        assert list(got.items()) == parse_qsl(text, keep_blank_values=True, strict_parsing=True)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(_FORMS)
def test_parse_form_reads_what_parse_qsl_reads(text: str) -> None:
    _same_form(text.encode())


@given(st.binary(max_size=40))
def test_parse_form_reads_any_bytes_as_parse_qsl_reads_their_text(body: bytes) -> None:
    _same_form(body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"grant_type", "bad_form"),  # a field without `=`
        (b"a=1&&b=2", "bad_form"),  # an empty field
        (b"a=1&", "bad_form"),
        (b"&a=1", "bad_form"),
        (b"a=1&a=1", "repeated_parameter"),
        (b"a=1&%61=2", "repeated_parameter"),  # the same name once decoded
        (b"a+b=1&a%20b=2", "repeated_parameter"),
        (b"a=1&a=2&b", "repeated_parameter"),  # the first problem in the body decides
        (b"b&a=1&a=2", "bad_form"),
        (b"a=%ff", "bad_encoding"),
        (b"a=\xff", "bad_encoding"),
        (b"&".join([b"a%d=1" % i for i in range(MAX_FIELDS + 1)]), "too_many_parameters"),
    ],
)
def test_form_refusals_and_their_reasons(body: bytes, reason: str) -> None:
    assert _parsed(body) == reason


def test_form_fields_as_parse_qsl_reads_them() -> None:
    assert parse_form(b"") == {}
    assert parse_form(b"a=&=b&c=d=e") == {"a": "", "": "b", "c": "d=e"}  # blank values kept
    assert parse_form(b"a+b=c%2Bd&x=%C3%A9;y") == {"a b": "c+d", "x": "é;y"}  # `;` is data


@settings(max_examples=200, deadline=None)
@given(st.none() | st.text(max_size=40) | st.sampled_from([
    "application/x-www-form-urlencoded", "application/json; charset=UTF-8",
    'APPLICATION/JSON ; Charset="utf8"', "application/json; charset=latin1", "text/plain",
]))
def test_body_kind_answers_as_the_uncached_function(content_type: str | None) -> None:
    def kind(decide: Any) -> str:
        try:
            return str(decide(content_type))
        except UnsupportedMediaType as exc:
            return f"refused: {exc.reason}"

    assert kind(body_kind) == kind(body_kind.__wrapped__)
    assert kind(body_kind) == kind(body_kind.__wrapped__)  # cached the second time

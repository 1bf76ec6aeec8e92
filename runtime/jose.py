"""Strict parsing of compact JWS tokens (RFC 7515 §7.1), before any key is looked at.

`parse_compact` accepts exactly one shape: three canonical base64url segments, a header and a
payload that are strict JSON objects, and a header that asks for nothing we do not do. Every
refusal is an `InvalidRequest` whose description is a fixed general sentence and whose `reason`
is a stable code for logs and metrics; token content never appears in either.

Header policy (docs/security.md repeats it):
- `alg` must be a string naming a supported algorithm (`none` never is); the identity
  provider's allow-list is checked later by the exchange.
- `crit` in any form and `b64` (RFC 7797) are refused: we implement no extension.
- `jku`, `jwk`, `x5u` and `x5c` carry or point at keys chosen by the sender; keys come only
  from the identity provider's configuration, so tokens carrying them are refused outright
  (never fetched, never used). `x5t` / `x5t#S256` are ignored: some providers (Azure AD) always
  send a thumbprint beside `kid`, and a thumbprint selects nothing here.
- `cty: JWT` (a nested token) is refused.
- `kid`, when present, is a string of at most 256 characters.

The header and the payload may each hold at most `MAX_CONTAINERS` arrays and objects, counted
before they are parsed.

Tokens of one identity provider carry the same header segment, so a header segment that passed
these checks is remembered (up to `HEADER_CACHE_ENTRIES` segments of at most
`MAX_CACHED_HEADER_LENGTH` characters; the table is emptied when full, so a client sending
endless distinct headers only costs itself the parsing it would have cost anyway). A refused
header is never remembered, and the remembered header is read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from .b64 import Base64Error, b64url_decode
from .errors import InvalidRequest
from .strict_json import StrictJSONError, loads

MAX_TOKEN_LENGTH = 16384
MAX_KID_LENGTH = 256
#: Arrays and objects (counted as `[` and `{`, strings included) in a header or a payload. Each
#: costs the strict parse Python work, and a 16 KB token of shallow arrays held thousands
#: (100 times the CPU of a whole good exchange, before its issuer was even looked at); claims
#: of real providers hold tens (groups, roles, `realm_access`, `resource_access` per client).
MAX_CONTAINERS = 256

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})
OKP_ALGORITHMS = frozenset({"EdDSA"})
ALGORITHMS = HMAC_ALGORITHMS | RSA_ALGORITHMS | EC_ALGORITHMS | OKP_ALGORITHMS

MALFORMED = "malformed token"
UNSUPPORTED = "token header is not supported"

_EMBEDDED_KEY_MEMBERS = frozenset({"jku", "jwk", "x5u", "x5c"})

HEADER_CACHE_ENTRIES = 256
MAX_CACHED_HEADER_LENGTH = 512
_checked_headers: dict[str, Mapping[str, Any]] = {}


class ParsedJWS(NamedTuple):
    """A compact JWS that passed the envelope checks; its signature is not verified yet.

    The records of one exchange are named tuples: immutable like frozen dataclasses, and built
    in a third of the time (every exchange builds several).
    """

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str, max_length: int = MAX_TOKEN_LENGTH) -> ParsedJWS:
    """Split, decode and check a compact JWS; `InvalidRequest` (with a `reason`) when it is not one."""
    if not isinstance(token, str) or not token:
        raise InvalidRequest(MALFORMED, "malformed")
    if len(token) > max_length:
        raise InvalidRequest(MALFORMED, "token_too_long")
    if not token.isascii():
        raise InvalidRequest(MALFORMED, "malformed")
    dots = token.count(".")
    if dots != 2:
        raise InvalidRequest(MALFORMED, "jwe_not_supported" if dots == 4 else "segment_count")
    first = token.index(".")
    second = token.index(".", first + 1)
    header = _header(token[:first])
    claims = _json_object(_segment(token[first + 1 : second]))
    signature = _segment(token[second + 1 :])
    if not signature:
        raise InvalidRequest(MALFORMED, "missing_signature")
    return ParsedJWS(header, claims, token[:second].encode("ascii"), signature)


def clear_caches() -> None:
    """Forget every remembered header (`runtime.caches.reset_all`)."""
    _checked_headers.clear()


def _header(segment: str) -> Mapping[str, Any]:
    """The checked header of `segment`, from the table of headers already seen when it is there."""
    header = _checked_headers.get(segment)
    if header is None:
        parsed = _json_object(_segment(segment))
        _check_header(parsed)
        header = MappingProxyType(parsed)
        if len(segment) <= MAX_CACHED_HEADER_LENGTH:
            if len(_checked_headers) >= HEADER_CACHE_ENTRIES:
                _checked_headers.clear()
            _checked_headers[segment] = header
    return header


def _segment(text: str) -> bytes:
    try:
        return b64url_decode(text)
    except Base64Error:
        raise InvalidRequest(MALFORMED, "bad_base64") from None


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = loads(data, max_containers=MAX_CONTAINERS)
    except StrictJSONError:
        raise InvalidRequest(MALFORMED, "bad_json") from None
    if not isinstance(value, dict):
        raise InvalidRequest(MALFORMED, "not_an_object")
    return value


def _check_header(header: Mapping[str, Any]) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidRequest(MALFORMED, "alg_missing")
    if alg not in ALGORITHMS:
        raise InvalidRequest(UNSUPPORTED, "alg_unsupported")
    if "crit" in header:
        raise InvalidRequest(UNSUPPORTED, "crit_header")
    if "b64" in header:
        raise InvalidRequest(UNSUPPORTED, "b64_header")
    if not _EMBEDDED_KEY_MEMBERS.isdisjoint(header):
        raise InvalidRequest(UNSUPPORTED, "embedded_key_header")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.upper() in ("JWT", "APPLICATION/JWT"):
        raise InvalidRequest(UNSUPPORTED, "nested_token")
    kid = header.get("kid")
    if "kid" in header and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise InvalidRequest(MALFORMED, "bad_kid")

"""Claim checks on a verified subject token: types first, then times, one small check per claim.

Every check takes `now` and the provider's `leeway` from the caller (no clock read here) and
raises `InvalidRequest` with a fixed, general description and a `reason` code for logs. Claim
values never reach a description.

Time rules (RFC 7519 §4.1.4-4.1.6, with PyJWT's comparisons so that every token accepted here is
also accepted by `jwt.decode` with the same leeway):
- `exp` is required; refused when `floor(exp) <= now - leeway`.
- `nbf`, when present, refused when `nbf > now + leeway`.
- `iat`, when present, refused when `iat > now + leeway` (a token from the future).
`exp`, `nbf` and `iat` must be JSON numbers: int or finite float, never bool, string or null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import InvalidRequest

MAX_AUDIENCES = 16
"""A token's `aud` list longer than this is malformed (bounds the index lookups per token)."""

MALFORMED = "token claims are malformed"
EXPIRED = "token expired"
NOT_YET_VALID = "token not yet valid"
ISSUED_IN_FUTURE = "token issued in the future"


def read_issuer(claims: Mapping[str, Any]) -> str | None:
    """The token's `iss`: None when absent, else a non-empty string; anything else is malformed."""
    if "iss" not in claims:
        return None
    iss = claims["iss"]
    if not isinstance(iss, str) or iss == "":
        raise InvalidRequest(MALFORMED, "malformed")
    return iss


def read_audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The token's `aud` as a tuple: () when absent, one item for a string, the list otherwise.

    A list must be non-empty, hold at most `MAX_AUDIENCES` items, all non-empty strings.
    Anything else (number, object, null, empty string or list) is malformed.
    """
    if "aud" not in claims:
        return ()
    aud = claims["aud"]
    if isinstance(aud, str):
        if aud == "":
            raise InvalidRequest(MALFORMED, "malformed")
        return (aud,)
    if not isinstance(aud, list) or not 0 < len(aud) <= MAX_AUDIENCES:
        raise InvalidRequest(MALFORMED, "malformed")
    if not all(isinstance(a, str) and a != "" for a in aud):
        raise InvalidRequest(MALFORMED, "malformed")
    return tuple(aud)


def numeric_date(claims: Mapping[str, Any], name: str) -> int | float | None:
    """The NumericDate claim `name`, or None when absent; a non-number is malformed."""
    if name not in claims:
        return None
    value = claims[name]
    # bool is an int subclass: `true` must not pass as 1
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(MALFORMED, "malformed")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(MALFORMED, "malformed")
    return value


def validate_claims(claims: Mapping[str, Any], now: float, leeway: int) -> int | float:
    """Check `exp`, `nbf`, `iat` and `sub` of verified claims; return the token's `exp`.

    Types are checked before times so that a malformed token is always reported as malformed.
    Inline, one lookup per claim: every exchange runs this (twice under a shadow); an exact
    `int` is a NumericDate as it is, anything else goes through `numeric_date`.
    """
    value = claims.get("exp", _ABSENT)
    exp: int | float | None = value if type(value) is int else numeric_date(claims, "exp")
    nbf = claims.get("nbf", _ABSENT)
    if nbf is _ABSENT:
        nbf = None
    elif type(nbf) is not int:
        nbf = numeric_date(claims, "nbf")
    iat = claims.get("iat", _ABSENT)
    if iat is _ABSENT:
        iat = None
    elif type(iat) is not int:
        iat = numeric_date(claims, "iat")
    # `sub` is optional (State Backed's anonymous tokens have none), but never empty or not a
    # string
    sub = claims.get("sub", _ABSENT)
    if sub is not _ABSENT and (not isinstance(sub, str) or sub == ""):
        raise InvalidRequest(MALFORMED, "malformed")
    if exp is None:
        raise InvalidRequest(MALFORMED, "missing_exp")
    # floor like PyJWT's int(): a fractional exp never buys extra time
    if (exp if type(exp) is int else math.floor(exp)) <= now - leeway:
        raise InvalidRequest(EXPIRED, "expired")
    if nbf is not None and nbf > now + leeway:
        raise InvalidRequest(NOT_YET_VALID, "not_yet_valid")
    if iat is not None and iat > now + leeway:
        raise InvalidRequest(ISSUED_IN_FUTURE, "iat_future")
    return exp


_ABSENT: Any = object()

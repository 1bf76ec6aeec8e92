"""The claims of an issued token: registered claims from the config, the mapping output beside.

`iss`, `aud`, `iat`, `exp` and `jti` come only from the token provider and the clock the caller
passes in; nothing the subject token or a mapping says can replace them. The mapping output goes
under `act` (State Backed's convention, the default) or at the root with `claims: root`, where any
reserved name it carries is dropped (the compiler refuses such mappings; this is the second
guard). The serialised claim set is capped so that a mapping cannot inflate the issued token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .claims import EXPIRED
from .compact_json import written_compact_json
from .errors import InvalidRequest
from .model import TokenProviderSpec

RESERVED_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "jti"})
MAX_ISSUED_CLAIMS_BYTES = 8 * 1024
"""Largest issued claim set, in bytes of compact UTF-8 JSON."""


#: What `issue_claims` gives, as a plain tuple (a named one costs several times as much to
#: build, and every exchange builds one): the claim set to sign, the lifetime to report as
#: `expires_in`, the claim set as the compact JSON that was size-checked, which is what gets
#: signed (serialised once), and whether orjson wrote the claims without an error
#: (`compact_json.written_compact_json`).
IssuedClaims = tuple[dict[str, Any], int, bytes, bool]


def issue_claims(
    provider: TokenProviderSpec,
    mapped: Mapping[str, Any],
    subject_exp: int | float,
    now: float,
    jti: str,
) -> IssuedClaims:
    """Build the issued claims for `provider` from its mapping output `mapped`.

    `exp` = `iat + expires_in`, lowered to the subject token's `exp` unless the provider sets
    `outlive_subject_token`. A token that would be dead on arrival (`exp <= iat`) is refused as
    expired rather than issued.
    """
    iat = math.floor(now)
    exp = iat + provider.expires_in
    if not provider.outlive_subject_token:
        # the earlier of the two (`min` costs a call that every exchange would pay)
        subject = subject_exp if type(subject_exp) is int else math.floor(subject_exp)
        if subject < exp:
            exp = subject
    if exp <= iat:
        raise InvalidRequest(EXPIRED, "expired")
    claims: dict[str, Any]
    if provider.claims == "root":
        claims = {k: v for k, v in mapped.items() if k not in RESERVED_CLAIMS}
        claims.update(
            {"iss": provider.issuer, "aud": provider.audience, "iat": iat, "exp": exp, "jti": jti}
        )
        payload, orjson_wrote = written_payload_within_limit(claims)
    else:
        act = dict(mapped)
        claims = {
            "iss": provider.issuer, "aud": provider.audience, "iat": iat, "exp": exp, "jti": jti,
            "act": act,
        }
        # the registered claims are strings and integers (`jti` is checked, the rest comes
        # from the config and the clock): only the mapping output may hold anything else
        walk = act if type(jti) is str else None
        payload, orjson_wrote = written_payload_within_limit(claims, walk)
    return claims, exp - iat, payload, orjson_wrote


def payload_within_limit(claims: Mapping[str, Any]) -> bytes:
    """The claim set as the compact UTF-8 JSON the signer signs; refused (`InvalidRequest`)
    when it is not plain JSON or is larger than `MAX_ISSUED_CLAIMS_BYTES`."""
    return written_payload_within_limit(claims)[0]


def written_payload_within_limit(
    claims: Mapping[str, Any], walk: Any = None
) -> tuple[bytes, bool]:
    """`payload_within_limit(claims)`, and whether orjson wrote them without an error; `walk`
    as for `compact_json.written_compact_json`."""
    try:
        payload, orjson_wrote = written_compact_json(claims, walk)
    except (TypeError, ValueError, RecursionError):
        # a faulty mapping (not JSON data) or a lone surrogate from a `\ud800` escape in the
        # subject token (not encodable as UTF-8): refuse here so the signer never sees it
        raise InvalidRequest("issued claims could not be built", "claims_invalid") from None
    if len(payload) > MAX_ISSUED_CLAIMS_BYTES:
        raise InvalidRequest("issued claims too large", "claims_too_large")
    return payload, orjson_wrote

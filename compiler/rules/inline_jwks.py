"""Rules on inline `jwks` key sets: public signature keys only, strong enough, usable.

The verdict is the runtime's own (`runtime.jwk.parse_jwk`), so `check` refuses exactly the keys
the runtime would drop at start-up. Compile time can only measure keys written in the config:
keys behind a `jwks_url` are checked when fetched, and signing keys are secret references the
compiler never resolves (their size is checked by the runtime when it loads them).

Codes: E335 private key members; E336 a symmetric (`oct`) key; E337 a key the runtime cannot
use (bad members, unknown type or curve, not for signatures, algorithm not allowed);
E338 an RSA key under 2048 bits (or over 8192, or with a bad exponent); E339 a set with no keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

from tokensmith.runtime.jwk import PRIVATE_MEMBERS, JwkRejected, parse_jwk
from tokensmith.schema.codes import E335, E336, E337, E338, E339
from tokensmith.schema.diagnostics import Diagnostic
from tokensmith.schema.location import ConfigPath, Location, SourceMap
from tokensmith.schema.models import Config

from ._common import Rule, idp_path, quoted
from .identity_providers import families

_UNUSABLE = {
    "not_an_object": "is not a JSON object",
    "bad_kid": "has a `kid` that is not a string of at most 256 characters",
    "unknown_kty": "has no `kty` of RSA, EC or OKP",
    "unknown_crv": "has a curve other than P-256, P-384, P-521, Ed25519 or Ed448",
    "not_for_signatures": "is not for signatures (`use` is not 'sig', or `key_ops` lacks 'verify')",
    "alg_mismatch": "has an `alg` that does not fit its key type and curve",
    "alg_not_allowed": "fits none of the provider's `algorithms`",
    "bad_member": "has a member that is missing, of the wrong length, or not base64url",
    "invalid_key": "does not make a valid public key",
}


def _rsa_bits(jwk: Mapping[str, Any]) -> int | None:
    n = jwk.get("n")
    if not isinstance(n, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length()


def _finding(
    name: str, index: int, jwk: Any, reason: str, path: ConfigPath, source_map: SourceMap
) -> Diagnostic:
    what = f"key {index} of the inline `jwks` of identity provider '{name}'"
    where = source_map.value(path)
    if reason == "private_key":
        members = [m for m in PRIVATE_MEMBERS if m in jwk]
        msg = f"{what} holds private key members ({quoted(members)})"
        hint = "publish only the public half: drop the private members"
        at = source_map.key((*path, members[0]))
        return Diagnostic(E335, msg, at, hint, secret_at=_secret_start(jwk, path, at, source_map))
    if reason == "symmetric_key":
        hint = "a shared secret goes in `secret: {env: NAME}`, never in a key set"
        secret_at = _secret_start(jwk, path, where, source_map)
        message = f"{what} is a symmetric ('oct') key"
        return Diagnostic(E336, message, where, hint, secret_at=secret_at)
    if reason == "weak_key":
        bits = _rsa_bits(jwk)
        found = f"an RSA key of {bits} bits" if bits is not None else "a weak RSA key"
        expected = "expected 2048 to 8192 bits and an odd exponent of at least 3"
        return Diagnostic(E338, f"{what} is {found}; {expected}", where)
    detail = _UNUSABLE.get(reason, f"is not usable ({reason})")
    return Diagnostic(E337, f"{what} {detail}", where)


def _secret_start(
    jwk: Mapping[str, Any], path: ConfigPath, at: Location, source_map: SourceMap
) -> Location | None:
    """Where the first private member's value starts on the finding's line, which the text
    output must not show; None when no private value is written on that line."""
    starts = [source_map.value((*path, m)) for m in PRIVATE_MEMBERS if m in jwk]
    same_line = [s for s in starts if (s.file, s.line) == (at.file, at.line)]
    return min(same_line, default=None)


def inline_keys(config: Config, source_map: SourceMap) -> Iterator[Diagnostic]:
    for name, idp in config.identity_providers.items():
        if idp.jwks is None:
            continue
        if not idp.jwks.keys:
            yield Diagnostic(
                E339,
                f"the inline `jwks` of identity provider '{name}' holds no keys",
                source_map.value(idp_path(name, "jwks", "keys")),
            )
        _, asymmetric = families(idp)
        for index, jwk in enumerate(idp.jwks.keys):
            try:
                parse_jwk(jwk, idp.algorithms)
            except JwkRejected as exc:
                if exc.reason == "alg_not_allowed" and not asymmetric:
                    continue  # E321 or E323 already says the algorithms do not fit
                path = idp_path(name, "jwks", "keys", index)
                yield _finding(name, index, jwk, exc.reason, path, source_map)


RULES: tuple[Rule, ...] = (inline_keys,)

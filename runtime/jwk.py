"""JWK and JWK Set import with hygiene (RFC 7517/7518): public signature keys only.

`parse_jwk_set` refuses a whole document only when its shape is wrong (not an object, no
`keys` list, more than `max_keys` keys); a bad key inside a good document is dropped with a
reason code, never raised, so one odd key cannot take the good ones down with it. Drop reasons
(stable codes, logged and counted by the callers):

    not_an_object      the entry is not a JSON object
    bad_kid            `kid` is not a string, or longer than 256 characters
    private_key        private members present (d, p, q, dp, dq, qi, oth, k)
    symmetric_key      `kty: oct`: shared secrets are never taken from a key set
    unknown_kty        `kty` missing or not RSA, EC, OKP
    unknown_crv        EC curve not P-256/P-384/P-521, OKP curve not Ed25519/Ed448
    not_for_signatures `use` other than `sig`, or `key_ops` without `verify`
    alg_mismatch       the JWK's `alg` is not an algorithm of the key's family and curve
    alg_not_allowed    no algorithm of the key is on the identity provider's allow-list
    bad_member         a member is missing, of the wrong type, or not base64url
    weak_key           RSA under 2048 or over 8192 bits, `e` below 3 or not below 2**32, or a
                       modulus with the ROCA fingerprint (CVE-2017-15361)
    invalid_key        the numbers do not make a key (a point not on the curve, an even `e`
                       or modulus)

A duplicate `kid` with different material keeps every key: the key source tries each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .b64 import Base64Error, b64url_decode_lenient_padding
from .errors import BundleError
from .jose import EC_ALGORITHMS, MAX_KID_LENGTH, OKP_ALGORITHMS, RSA_ALGORITHMS
from .keys import VerificationKey
from .verification_keys import (
    MAX_RSA_BITS,
    MIN_RSA_BITS,
    EcKey,
    EdKey,
    RsaKey,
    is_roca_modulus,
)

MAX_KEYS = 100
MAX_RSA_EXPONENT = 2**32
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

_EC_CURVES: dict[str, tuple[ec.EllipticCurve, str, int]] = {
    "P-256": (ec.SECP256R1(), "ES256", 32),
    "P-384": (ec.SECP384R1(), "ES384", 48),
    "P-521": (ec.SECP521R1(), "ES512", 66),
}
_OKP_CURVES = {"Ed25519": 32, "Ed448": 57}


class JwkSetError(BundleError, ValueError):
    """The document as a whole is not an acceptable JWK Set.

    `kind` is a stable code for logs and metrics: `too_many_keys`, or `document` (wrong shape).
    """

    def __init__(self, message: str, kind: str = "document") -> None:
        super().__init__(message)
        self.kind = kind


class JwkRejected(BundleError, ValueError):
    """One JWK is dropped; `reason` is a stable code from the module docstring."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DroppedKey:
    kid: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class JwkSetResult:
    keys: tuple[VerificationKey, ...]
    dropped: tuple[DroppedKey, ...]


def parse_jwk_set(
    document: Any, algorithms: Sequence[str], *, max_keys: int = MAX_KEYS
) -> JwkSetResult:
    """The usable verification keys of a JWK Set document, and the dropped ones with reasons."""
    if not isinstance(document, Mapping):
        raise JwkSetError("a JWK Set must be a JSON object")
    entries = document.get("keys")
    if not isinstance(entries, list | tuple):
        raise JwkSetError("a JWK Set must have a `keys` list")
    if len(entries) > max_keys:
        raise JwkSetError(f"a JWK Set may hold at most {max_keys} keys", "too_many_keys")
    keys: list[VerificationKey] = []
    dropped: list[DroppedKey] = []
    for entry in entries:
        try:
            keys.append(parse_jwk(entry, algorithms))
        except JwkRejected as exc:
            kid = entry.get("kid") if isinstance(entry, Mapping) else None
            usable = isinstance(kid, str) and len(kid) <= MAX_KID_LENGTH  # never log a huge kid
            dropped.append(DroppedKey(kid if usable else None, exc.reason))
    return JwkSetResult(tuple(keys), tuple(dropped))


def parse_inline_jwks(document: Any, algorithms: Sequence[str]) -> JwkSetResult:
    """Keys given inline in the config (`jwks: {keys: [...]}`): the same hygiene as fetched ones."""
    return parse_jwk_set(document, algorithms)


def parse_jwk(jwk: Any, algorithms: Sequence[str]) -> VerificationKey:
    """One public JWK as a typed key allowed for `algorithms`; `JwkRejected(reason)` otherwise."""
    if not isinstance(jwk, Mapping):
        raise JwkRejected("not_an_object")
    kid = jwk.get("kid")
    if "kid" in jwk and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise JwkRejected("bad_kid")
    if any(member in jwk for member in PRIVATE_MEMBERS):
        raise JwkRejected("symmetric_key" if jwk.get("kty") == "oct" else "private_key")
    kty = jwk.get("kty")
    if kty == "oct":
        raise JwkRejected("symmetric_key")
    builder = _BUILDERS.get(kty) if isinstance(kty, str) else None
    if builder is None:
        raise JwkRejected("unknown_kty")
    _check_usage(jwk)
    try:
        return builder(jwk, kid, algorithms)
    except JwkRejected:
        raise
    except (ValueError, TypeError, OverflowError):  # KeyMaterialError, or a primitive's refusal
        raise JwkRejected("invalid_key") from None


def _check_usage(jwk: Mapping[str, Any]) -> None:
    if "use" in jwk and jwk["use"] != "sig":
        raise JwkRejected("not_for_signatures")
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or "verify" not in ops:
            raise JwkRejected("not_for_signatures")


def _allowed(
    jwk: Mapping[str, Any], family: frozenset[str], algorithms: Sequence[str]
) -> frozenset[str]:
    """The algorithms the key may verify: its family (or its own `alg`) on the allow-list."""
    own = family
    if "alg" in jwk:
        alg = jwk["alg"]
        if not isinstance(alg, str) or alg not in family:
            raise JwkRejected("alg_mismatch")
        own = frozenset({alg})
    allowed = own & set(algorithms)
    if not allowed:
        raise JwkRejected("alg_not_allowed")
    return allowed


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise JwkRejected("bad_member")
    try:
        return b64url_decode_lenient_padding(value)
    except Base64Error:
        raise JwkRejected("bad_member") from None


def _rsa(jwk: Mapping[str, Any], kid: str | None, algorithms: Sequence[str]) -> RsaKey:
    allowed = _allowed(jwk, RSA_ALGORITHMS, algorithms)
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    # A huge `e` would make every verification as slow as a private-key operation.
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS or not 3 <= e < MAX_RSA_EXPONENT:
        raise JwkRejected("weak_key")
    if e % 2 == 0 or n % 2 == 0:
        raise JwkRejected("invalid_key")
    if is_roca_modulus(n):
        raise JwkRejected("weak_key")
    return RsaKey(kid, rsa.RSAPublicNumbers(e, n).public_key(), allowed)


def _ec(jwk: Mapping[str, Any], kid: str | None, algorithms: Sequence[str]) -> EcKey:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _EC_CURVES:
        raise JwkRejected("unknown_crv")
    curve, alg, length = _EC_CURVES[crv]
    allowed = _allowed(jwk, frozenset({alg}) & EC_ALGORITHMS, algorithms)
    x, y = _member(jwk, "x"), _member(jwk, "y")
    if len(x) != length or len(y) != length:  # RFC 7518 §6.2.1.2: full-length coordinates
        raise JwkRejected("bad_member")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
    )
    try:
        key = numbers.public_key()
    except ValueError:
        raise JwkRejected("invalid_key") from None
    return EcKey(kid, key, allowed)


def _okp(jwk: Mapping[str, Any], kid: str | None, algorithms: Sequence[str]) -> EdKey:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in _OKP_CURVES:
        raise JwkRejected("unknown_crv")
    allowed = _allowed(jwk, OKP_ALGORITHMS, algorithms)
    x = _member(jwk, "x")
    if len(x) != _OKP_CURVES[crv]:
        raise JwkRejected("bad_member")
    try:
        key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey = (
            ed25519.Ed25519PublicKey.from_public_bytes(x)
            if crv == "Ed25519"
            else ed448.Ed448PublicKey.from_public_bytes(x)
        )
    except ValueError:
        raise JwkRejected("invalid_key") from None
    return EdKey(kid, key, allowed)


_BUILDERS: dict[str, Callable[[Mapping[str, Any], str | None, Sequence[str]], VerificationKey]] = {
    "RSA": _rsa,
    "EC": _ec,
    "OKP": _okp,
}

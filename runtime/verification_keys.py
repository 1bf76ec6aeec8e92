"""Typed verification keys: each knows its family, its curve and the algorithms it may verify.

A key never takes its algorithm from the token: `verify(alg, ...)` answers False for any `alg`
outside the key's own set, which is the key family's algorithms (and curve) intersected with
the identity provider's allow-list. That is what defeats algorithm confusion (RS256 -> HS256
with the public key as HMAC secret): the HMAC key type is built only from configured secrets,
and refuses material that looks like a public key. `verify` never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .jose import EC_ALGORITHMS, HMAC_ALGORITHMS, OKP_ALGORITHMS, RSA_ALGORITHMS

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
MIN_HMAC_BYTES = 32

SHA_BY_SIZE: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
HMAC_DIGESTS: dict[str, Callable[..., Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}
# RFC 7518 §3.2: an HMAC key at least as long as the hash output.
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# curve name -> (JWS alg, coordinate length in bytes)
EC_CURVES: dict[str, tuple[str, int]] = {
    "secp256r1": ("ES256", 32),
    "secp384r1": ("ES384", 48),
    "secp521r1": ("ES512", 66),
}
_EC_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "secp521r1": int(
        "01FF"
        + "FFFFFFFF" * 7
        + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


class KeyMaterialError(ValueError):
    """Key material that cannot make a verification key of the requested type."""


class _BaseKey:
    """The common part: `kid`, the allowed algorithms, and the never-raising `verify`."""

    __slots__ = ("_algorithms", "_kid")

    def __init__(self, kid: str | None, algorithms: Iterable[str], family: frozenset[str]) -> None:
        self._kid = kid
        self._algorithms = frozenset(algorithms) & family

    @property
    def kid(self) -> str | None:
        return self._kid

    @property
    def algorithms(self) -> frozenset[str]:
        return self._algorithms

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """True when `signature` is valid for `signing_input` under `alg`; never raises."""
        if alg not in self._algorithms:
            return False
        try:
            return self._verify(alg, signing_input, signature)
        except Exception:  # InvalidSignature, or any surprise of a primitive: never a 500
            return False

    def _verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:  # never shows key material
        return f"{type(self).__name__}(kid={self._kid!r}, algorithms={sorted(self._algorithms)})"


class HmacKey(_BaseKey):
    """A shared secret of an identity provider (HS256/384/512), compared in constant time."""

    __slots__ = ("_secret",)

    def __init__(self, kid: str | None, secret: bytes, algorithms: Iterable[str]) -> None:
        super().__init__(kid, algorithms, HMAC_ALGORITHMS)
        if looks_like_public_key(secret):
            raise KeyMaterialError("an HMAC secret must not be a public key (algorithm confusion)")
        if len(secret) < MIN_HMAC_BYTES:
            raise KeyMaterialError(f"an HMAC secret must be at least {MIN_HMAC_BYTES} bytes")
        self._secret = bytes(secret)

    def _verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        expected = hmac.digest(self._secret, signing_input, HMAC_DIGESTS[alg])
        return hmac.compare_digest(expected, signature)


class RsaKey(_BaseKey):
    """An RSA public key (RS256/384/512 PKCS#1 v1.5, PS256/384/512 PSS), 2048 to 8192 bits."""

    __slots__ = ("_key", "_size")

    def __init__(self, kid: str | None, key: rsa.RSAPublicKey, algorithms: Iterable[str]) -> None:
        super().__init__(kid, algorithms, RSA_ALGORITHMS)
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise KeyMaterialError(f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
        self._key = key
        self._size = (key.key_size + 7) // 8

    def _verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != self._size:
            return False
        digest = SHA_BY_SIZE[alg[2:]]()
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if alg.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        )
        self._key.verify(signature, signing_input, pad, digest)
        return True


class EcKey(_BaseKey):
    """An EC public key on P-256 (ES256), P-384 (ES384) or P-521 (ES512); raw r||s only."""

    __slots__ = ("_hash", "_key", "_length", "_order")

    def __init__(
        self, kid: str | None, key: ec.EllipticCurvePublicKey, algorithms: Iterable[str]
    ) -> None:
        curve = EC_CURVES.get(key.curve.name)
        if curve is None:
            raise KeyMaterialError("EC keys must be on P-256, P-384 or P-521")
        alg, self._length = curve
        super().__init__(kid, set(algorithms) & {alg}, EC_ALGORITHMS)
        self._key = key
        self._order = _EC_ORDERS[key.curve.name]
        self._hash = SHA_BY_SIZE[alg[2:]]

    def _verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * self._length:  # DER and truncated signatures end here
            return False
        r = int.from_bytes(signature[: self._length], "big")
        s = int.from_bytes(signature[self._length :], "big")
        if not (0 < r < self._order and 0 < s < self._order):  # psychic signatures
            return False
        self._key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(self._hash()))
        return True


class EdKey(_BaseKey):
    """An Ed25519 or Ed448 public key (EdDSA)."""

    __slots__ = ("_key", "_length")

    def __init__(
        self,
        kid: str | None,
        key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey,
        algorithms: Iterable[str],
    ) -> None:
        super().__init__(kid, algorithms, OKP_ALGORITHMS)
        self._key = key
        self._length = 64 if isinstance(key, ed25519.Ed25519PublicKey) else 114

    def _verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        if len(signature) != self._length:
            return False
        self._key.verify(signature, signing_input)
        return True


_PUBLIC_KEY_MARKERS = (b"-----BEGIN", b"ssh-rsa", b"ssh-ed25519", b"ssh-ed448", b"ecdsa-sha2-")


def looks_like_public_key(material: bytes) -> bool:
    """True when bytes meant as an HMAC secret are (or contain) a public key in a common form.

    PEM armour, OpenSSH public keys, JWK JSON text, DER SubjectPublicKeyInfo or certificates,
    and the same DER as bare base64 are all recognised: an identity provider secret that is its
    public key is the configuration behind RS256 -> HS256 forgeries (CVE-2022-29217 and kin).
    """
    stripped = material.strip()
    if any(marker in stripped for marker in _PUBLIC_KEY_MARKERS):
        return True
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            return False
        return isinstance(doc, dict) and ("kty" in doc or "keys" in doc)
    if material.startswith(b"\x30"):  # an ASN.1 SEQUENCE
        return _is_der_key_or_certificate(material)
    if stripped.startswith(b"M"):  # base64 of an ASN.1 SEQUENCE (0x30)
        try:
            decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
        except ValueError:
            return False
        return _is_der_key_or_certificate(decoded)
    return False


def _is_der_key_or_certificate(data: bytes) -> bool:
    for load in (serialization.load_der_public_key, x509.load_der_x509_certificate):
        try:
            load(data)
        except (ValueError, TypeError):
            continue
        return True
    return False

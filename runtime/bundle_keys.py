"""Keys of bundle signatures: trusted public keys, key ids, private signing keys, new key pairs.

A bundle signature is made with an asymmetric key: EdDSA (Ed25519 or Ed448), ES256 (P-256) or
RS256 (RSA, 2048 to 8192 bits). A key's id is its RFC 7638 JWK thumbprint (SHA-256,
base64url), computed from the key itself, never taken from a file or a signature header, so two
files holding one key are one signer.

Trust (`load_trust`) is read from PEM public keys (SPKI), JWK or JWK Set JSON files, or
directories of them; everything in a trust path must be a public signature key of those types
(a private key, a shared secret or a weak RSA key is refused, not skipped), except names
starting with `.`, which Kubernetes uses for the bookkeeping of a mounted Secret.
Key material never appears in an error message.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .b64 import Base64Error, b64url_decode_lenient_padding, b64url_encode
from .errors import BundleError
from .jwk import JwkRejected, parse_jwk
from .keys import VerificationKey
from .signing import SigningKeyError
from .strict_json import StrictJSONError, loads
from .verification_keys import MAX_RSA_BITS, MIN_RSA_BITS, is_roca_modulus

#: The algorithms a bundle signature may use.
SIGNATURE_ALGORITHMS = ("EdDSA", "ES256", "RS256")
#: A trust file larger than this is not a key file.
MAX_TRUST_FILE_BYTES = 256 * 1024
#: A trust directory (or the whole trust list) with more keys is refused.
MAX_TRUSTED_KEYS = 1000
KEYGEN_RSA_BITS = 3072
_KINDS = {"EdKey": "OKP", "EcKey": "EC", "RsaKey": "RSA"}

_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
_PrivateKey = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)


class TrustError(BundleError):
    """A trust path cannot be read, or holds something that is not a trusted public key."""


@dataclass(frozen=True)
class TrustedKey:
    """One trusted public key: its thumbprint `kid`, the file it came from, the typed key."""

    kid: str
    source: str
    key: VerificationKey

    @property
    def kind(self) -> str:
        """`OKP`, `EC` or `RSA`, for messages."""
        return _KINDS.get(type(self.key).__name__, "unknown")


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a canonical public JWK."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    text = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def public_jwk(key: _PublicKey) -> dict[str, str]:
    """The canonical public JWK of a key (members as RFC 7518 spells them, no `kid`)."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}
        if key.curve.name not in names:
            raise TrustError("EC keys must be on P-256")
        crv, size = names[key.curve.name]
        point = key.public_numbers()
        x, y = (b64url_encode(v.to_bytes(size, "big")) for v in (point.x, point.y))
        return {"kty": "EC", "crv": crv, "x": x, "y": y}
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    crv = "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448"
    return {"kty": "OKP", "crv": crv, "x": b64url_encode(raw)}


def load_trust(paths: Iterable[str]) -> tuple[TrustedKey, ...]:
    """Every trusted key of `paths` (files or directories), one per key id, sorted by id."""
    found: dict[str, TrustedKey] = {}
    for path in paths:
        for key in _keys_of_path(path):
            found.setdefault(key.kid, key)
            if len(found) > MAX_TRUSTED_KEYS:
                raise TrustError(f"more than {MAX_TRUSTED_KEYS} trusted keys")
    if not found:
        raise TrustError("no trusted key given")
    return tuple(found[kid] for kid in sorted(found))


def _keys_of_path(path: str) -> list[TrustedKey]:
    if os.path.isdir(path):
        try:
            names = sorted(os.listdir(path))
        except OSError as exc:
            raise TrustError(f"{path}: cannot read ({exc.strerror})") from None
        keys: list[TrustedKey] = []
        for name in names:
            if name.startswith("."):
                continue
            keys.extend(_keys_of_file(os.path.join(path, name)))
        if not keys:
            raise TrustError(f"{path}: no key files in the directory")
        return keys
    return _keys_of_file(path)


def _keys_of_file(path: str) -> list[TrustedKey]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRUST_FILE_BYTES + 1)
    except IsADirectoryError:
        raise TrustError(f"{path}: a directory inside a trust directory") from None
    except OSError as exc:
        raise TrustError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_TRUST_FILE_BYTES:
        raise TrustError(f"{path}: over {MAX_TRUST_FILE_BYTES} bytes; not a key file")
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        return [_trusted(_jwk_of_pem(path, data), path)]
    if stripped.startswith(b"{"):
        return [_trusted(jwk, path) for jwk in _jwks_of_json(path, data)]
    raise TrustError(f"{path}: not a PEM public key, a JWK or a JWK Set")


def _jwk_of_pem(path: str, data: bytes) -> dict[str, str]:
    if b"PRIVATE KEY" in data:
        raise TrustError(f"{path}: a private key; trust needs the public key (.pub) only")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise TrustError(f"{path}: not a PEM public key (SPKI)") from None
    if not isinstance(key, _PublicKey):
        raise TrustError(f"{path}: a key type that cannot sign bundles")
    return public_jwk(key)


def _jwks_of_json(path: str, data: bytes) -> list[dict[str, str]]:
    try:
        document = loads(data)
    except StrictJSONError as exc:
        raise TrustError(f"{path}: not strict JSON ({exc})") from None
    entries = document.get("keys") if isinstance(document, dict) and "keys" in document else [document]
    if not isinstance(entries, list) or not entries:
        raise TrustError(f"{path}: a JWK Set needs a non-empty `keys` list")
    jwks = []
    for entry in entries:
        try:
            parse_jwk(entry, SIGNATURE_ALGORITHMS)
            jwks.append(_canonical_jwk(entry))
        except JwkRejected as exc:
            raise TrustError(f"{path}: a JWK that cannot be trusted ({exc.reason})") from None
    return jwks


def _canonical_jwk(jwk: Mapping[str, Any]) -> dict[str, str]:
    """The thumbprint members of a JWK that `parse_jwk` accepted, spelled canonically."""

    def member(name: str) -> bytes:
        try:
            return b64url_decode_lenient_padding(str(jwk[name]))
        except Base64Error:
            raise JwkRejected("bad_member") from None

    if jwk["kty"] == "RSA":
        n, e = (int.from_bytes(member(name), "big") for name in ("n", "e"))
        return {"kty": "RSA", "n": _uint(n), "e": _uint(e)}
    canonical = {"kty": str(jwk["kty"]), "crv": str(jwk["crv"]), "x": b64url_encode(member("x"))}
    if jwk["kty"] == "EC":
        canonical["y"] = b64url_encode(member("y"))
    return canonical


def _trusted(jwk: dict[str, str], source: str) -> TrustedKey:
    try:
        key = parse_jwk(jwk, SIGNATURE_ALGORITHMS)
    except JwkRejected as exc:
        raise TrustError(f"{source}: a key that cannot be trusted ({exc.reason})") from None
    return TrustedKey(thumbprint(jwk), source, key)


# ---- private keys: signing and key generation ------------------------------------------------


@dataclass(frozen=True)
class BundleSigningKey:
    """A private key able to sign bundles; `repr` never shows the key."""

    kid: str
    algorithm: str
    private_key: _PrivateKey

    def __repr__(self) -> str:
        return f"BundleSigningKey(kid={self.kid!r}, algorithm={self.algorithm!r})"


def load_signing_key(material: bytes, origin: str) -> BundleSigningKey:
    """The bundle signing key in PEM `material`; `SigningKeyError` names why not (never the key)."""
    if b"-----BEGIN" not in material:
        raise SigningKeyError(
            f"{origin}: not a PEM private key (a shared HMAC secret cannot sign bundles: "
            "make a key pair with `tokensmith keygen`)"
        )
    if b"PRIVATE KEY" not in material:
        raise SigningKeyError(f"{origin}: a public key or certificate; signing needs the private key")
    try:
        key = serialization.load_pem_private_key(material, password=None)
    except TypeError:
        raise SigningKeyError(f"{origin}: the private key is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError(f"{origin}: not a usable PEM private key") from None
    if not isinstance(key, _PrivateKey):
        raise SigningKeyError(f"{origin}: a key type that cannot sign bundles (EdDSA, ES256, RS256)")
    algorithm = _algorithm_of(key, origin)
    return BundleSigningKey(thumbprint(public_jwk(key.public_key())), algorithm, key)


def _algorithm_of(key: _PrivateKey, origin: str) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != "secp256r1":
            raise SigningKeyError(f"{origin}: EC keys must be on P-256 (ES256)")
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise SigningKeyError(
                f"{origin}: RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits"
            )
        if is_roca_modulus(key.public_key().public_numbers().n):
            raise SigningKeyError(f"{origin}: the RSA key comes from a flawed generator (ROCA)")
        return "RS256"
    raise SigningKeyError(f"{origin}: a key type that cannot sign bundles")  # pragma: no cover


def generate_key(algorithm: str) -> tuple[bytes, bytes, str]:
    """A new key pair for `algorithm`: (PKCS#8 PEM, SPKI PEM, key id)."""
    private: _PrivateKey
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEYGEN_RSA_BITS)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem, thumbprint(public_jwk(public))


def _uint(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))

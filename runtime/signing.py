"""Signing issued tokens, and the public JWK Set of the asymmetric signing keys.

A `Signer` is built once per configured signing key by `load_signer`; `sign(claims)` emits a
compact JWS whose header is exactly `{"alg","kid","typ":"JWT"}` (that order, compact JSON) and
whose payload is the claims as compact JSON in their given order. HS* keys sign with the raw
secret bytes, so a token signed with the UTF-8 bytes of a State Backed `sbsec_...` secret
verifies wherever `@statebacked/token` would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .b64 import b64url_encode
from .compact_json import compact_json, plain_compact_json
from .errors import BundleError
from .hmac_state import PrecomputedHmac
from .jose import EC_ALGORITHMS, HMAC_ALGORITHMS, OKP_ALGORITHMS, RSA_ALGORITHMS
from .model import SigningKeySpec
from .verification_keys import (
    EC_CURVES,
    HMAC_MIN_BYTES,
    MAX_RSA_BITS,
    MIN_RSA_BITS,
    SHA_BY_SIZE,
    is_roca_modulus,
    looks_like_public_key,
)

_JWK_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

_EdPrivateKey = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | _EdPrivateKey


class SigningKeyError(BundleError, ValueError):
    """Key material that does not make a signing key for its algorithm. Never holds the material."""


class Signer:
    """Signs issued tokens with one configured key."""

    __slots__ = ("_header", "_jwk", "_sign", "algorithm", "kid")

    def __init__(
        self,
        kid: str,
        algorithm: str,
        sign_bytes: Callable[[bytes], bytes],
        public_jwk: Mapping[str, str] | None,
    ) -> None:
        self.kid = kid
        self.algorithm = algorithm
        self._sign = sign_bytes
        self._jwk = None if public_jwk is None else dict(public_jwk)
        header = plain_compact_json({"alg": algorithm, "kid": kid, "typ": "JWT"})
        self._header = b64url_encode(header) + "."

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of `claims` (JSON-serialisable, no NaN); the header is fixed per key."""
        return self.sign_payload(compact_json(claims))

    def sign_payload(self, payload: bytes) -> str:
        """A compact JWS of `payload`, the claims already serialised by `compact_json`."""
        signing_input = self._header + b64url_encode(payload)
        signature = self._sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def public_jwk(self) -> dict[str, str] | None:
        """The public JWK (`kid`, `alg`, `use: sig`), or None for a shared HMAC secret."""
        return None if self._jwk is None else dict(self._jwk)

    def __repr__(self) -> str:  # never shows key material
        return f"Signer(kid={self.kid!r}, algorithm={self.algorithm!r})"


def public_jwks_document(signers: Iterable[Signer]) -> dict[str, list[dict[str, str]]]:
    """`{"keys": [...]}` with the public JWK of every asymmetric signer, sorted by `kid`."""
    jwks = [jwk for s in sorted(signers, key=lambda s: s.kid) if (jwk := s.public_jwk())]
    return {"keys": jwks}


def load_signer(spec: SigningKeySpec, material: bytes) -> Signer:
    """The signer for `spec` from its resolved secret (HS*) or private key PEM (others)."""
    alg = spec.algorithm
    if alg in HMAC_ALGORITHMS:
        return _hmac_signer(spec.kid, alg, material)
    if alg in RSA_ALGORITHMS:
        return _rsa_signer(spec.kid, alg, _load_private_key(material))
    if alg in EC_ALGORITHMS:
        return _ec_signer(spec.kid, alg, _load_private_key(material))
    if alg in OKP_ALGORITHMS:
        return _ed_signer(spec.kid, alg, _load_private_key(material))
    raise SigningKeyError(f"algorithm {alg!r} is not supported for signing")


def _hmac_signer(kid: str, alg: str, secret: bytes) -> Signer:
    minimum = HMAC_MIN_BYTES[alg]
    if len(secret) < minimum:
        raise SigningKeyError(f"an {alg} secret must be at least {minimum} bytes")
    if looks_like_public_key(secret):
        raise SigningKeyError("an HMAC secret must not be a public key")
    return Signer(kid, alg, PrecomputedHmac.for_algorithm(bytes(secret), alg).digest, None)


def _load_private_key(material: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(material, password=None)
    except TypeError:
        raise SigningKeyError("the private key is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningKeyError("the private key is not a PEM private key") from None
    if not isinstance(key, PrivateKey):
        raise SigningKeyError("the private key is of an unsupported type")
    return key


def _rsa_signer(kid: str, alg: str, key: PrivateKey) -> Signer:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningKeyError(f"{alg} needs an RSA private key")
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise SigningKeyError(f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
    if is_roca_modulus(key.public_key().public_numbers().n):
        raise SigningKeyError("the RSA key comes from a flawed generator (ROCA); make a new one")
    digest = SHA_BY_SIZE[alg[2:]]()
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg.startswith("RS")
        else padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    )
    numbers = key.public_key().public_numbers()
    jwk = _jwk(kid, alg, kty="RSA", n=_uint(numbers.n), e=_uint(numbers.e))
    return Signer(kid, alg, lambda data: key.sign(data, pad, digest), jwk)


def _ec_signer(kid: str, alg: str, key: PrivateKey) -> Signer:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"{alg} needs an EC private key")
    curve = EC_CURVES.get(key.curve.name)
    if curve is None or curve[0] != alg:
        raise SigningKeyError(f"{alg} needs an EC private key on its own curve")
    length = curve[1]
    signature_algorithm = ec.ECDSA(SHA_BY_SIZE[alg[2:]]())

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, signature_algorithm))
        return r.to_bytes(length, "big") + s.to_bytes(length, "big")

    numbers = key.public_key().public_numbers()
    jwk = _jwk(
        kid,
        alg,
        kty="EC",
        crv=_JWK_CURVES[key.curve.name],
        x=b64url_encode(numbers.x.to_bytes(length, "big")),
        y=b64url_encode(numbers.y.to_bytes(length, "big")),
    )
    return Signer(kid, alg, sign, jwk)


def _ed_signer(kid: str, alg: str, key: PrivateKey) -> Signer:
    if not isinstance(key, _EdPrivateKey):
        raise SigningKeyError(f"{alg} needs an Ed25519 or Ed448 private key")
    crv = "Ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "Ed448"
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = _jwk(kid, alg, kty="OKP", crv=crv, x=b64url_encode(raw))
    return Signer(kid, alg, key.sign, jwk)


def _jwk(kid: str, alg: str, **members: str) -> dict[str, str]:
    return {**members, "kid": kid, "alg": alg, "use": "sig"}


def _uint(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))

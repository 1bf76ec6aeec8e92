"""Typed verification keys: each verifies only its own family, curve and allowed algorithms.

Catalogue rows A03, A04, A05, A09, A10, A12, A13 at the key level.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from tokensmith.runtime.verification_keys import (
    EcKey,
    EdKey,
    HmacKey,
    KeyMaterialError,
    RsaKey,
    looks_like_public_key,
)

RSA_KEY = rsa.generate_private_key(65537, 2048)
P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
P521 = ec.generate_private_key(ec.SECP521R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
ED448 = ed448.Ed448PrivateKey.generate()
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# FIPS 186-4 D.1.2.4 / D.1.2.5
P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
P521_ORDER = int(
    "01" + "F" * 65 + "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
)
ALL = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
       "ES256", "ES384", "ES512", "EdDSA"]  # fmt: skip
MESSAGE = b"eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9"


def pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def der(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def openssh(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    )


def certificate(key: Any) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


CERTIFICATE = certificate(RSA_KEY)


def jwk_text(key: Any) -> bytes:
    return json.dumps(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))).encode()


def sign(alg: str, key: Any, message: bytes = MESSAGE) -> bytes:
    return jwt.get_algorithm_by_name(alg).sign(message, key)


# --- algorithm confusion (A04, E04) ---------------------------------------------------------


@pytest.mark.parametrize(
    "material",
    [
        pem(RSA_KEY),
        pem(RSA_KEY).replace(b"\n", b"\r\n"),
        b"  \n" + pem(RSA_KEY) + b"\n\n",
        der(RSA_KEY),
        jwk_text(RSA_KEY),
        openssh(RSA_KEY),
        openssh(P256),
        openssh(ED25519),
        pem(P256),
        der(P256),
        json.dumps({"keys": [json.loads(jwk_text(RSA_KEY))]}).encode(),
        base64.b64encode(der(RSA_KEY)),  # PEM body without armour
        base64.encodebytes(der(P256)),  # ... wrapped in lines
        CERTIFICATE.public_bytes(serialization.Encoding.PEM),  # x5c-style certificate
        CERTIFICATE.public_bytes(serialization.Encoding.DER),
        base64.b64encode(CERTIFICATE.public_bytes(serialization.Encoding.DER)),  # an x5c entry
    ],
)
def test_hmac_key_never_takes_public_key_material(material: bytes) -> None:
    assert looks_like_public_key(material)
    with pytest.raises(KeyMaterialError):
        HmacKey("k1", material, ["HS256"])


def test_ordinary_secrets_are_not_mistaken_for_public_keys() -> None:
    ordinary = (
        b"sbsec_" + b"A" * 40,
        b"0" * 40,
        b"{not json" + b"x" * 32,
        bytes(range(48)),
        b"MI" + b"x" * 40,
        b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",  # a truncated key is not a key
    )
    for secret in ordinary:
        assert not looks_like_public_key(secret)
        assert HmacKey(None, secret, ["HS256"]).algorithms == {"HS256"}


def test_hmac_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(KeyMaterialError):
        HmacKey(None, b"x" * 31, ["HS256"])


def test_rs256_to_hs256_forgery_with_the_public_key_fails() -> None:
    # the forged token: HS256 keyed with the RSA public key's PEM
    forged = sign("HS256", pem(RSA_KEY))
    rsa_key = RsaKey("k1", RSA_KEY.public_key(), ALL)
    assert rsa_key.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert not rsa_key.verify("HS256", MESSAGE, forged)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA", "none", "HS1"])
def test_hmac_key_verifies_only_hmac_algorithms(alg: str) -> None:
    key = HmacKey(None, b"k" * 32, ALL)
    assert key.algorithms == {"HS256", "HS384", "HS512"}
    assert not key.verify(alg, MESSAGE, sign("HS256", b"k" * 32))


def test_each_key_verifies_only_the_intersection_with_the_allow_list() -> None:
    good = sign("RS256", RSA_KEY)
    assert RsaKey(None, RSA_KEY.public_key(), ["RS256"]).verify("RS256", MESSAGE, good)
    only_ps = RsaKey(None, RSA_KEY.public_key(), ["PS256"])
    assert not only_ps.verify("RS256", MESSAGE, good)
    assert only_ps.verify("PS256", MESSAGE, sign("PS256", RSA_KEY))


def test_ec_keys_verify_only_the_algorithm_of_their_curve() -> None:
    key = EcKey(None, P256.public_key(), ALL)
    assert key.algorithms == {"ES256"}
    assert key.verify("ES256", MESSAGE, sign("ES256", P256))
    # the P-384 key does not verify an ES256 signature even when ES256 is allowed
    assert EcKey(None, P384.public_key(), ["ES256", "ES384"]).algorithms == {"ES384"}


def test_rsa_keys_outside_2048_to_8192_bits_are_refused() -> None:
    weak = rsa.generate_private_key(65537, 1024)
    with pytest.raises(KeyMaterialError):
        RsaKey(None, weak.public_key(), ["RS256"])


def test_unsupported_curve_is_refused() -> None:
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(KeyMaterialError):
        EcKey(None, k1.public_key(), ["ES256"])


# --- every family: good signature, flipped, truncated, extended ----------------------------

FAMILIES = [
    ("HS256", lambda: HmacKey(None, b"h" * 32, ALL), b"h" * 32),
    ("HS384", lambda: HmacKey(None, b"h" * 48, ALL), b"h" * 48),
    ("HS512", lambda: HmacKey(None, b"h" * 64, ALL), b"h" * 64),
    ("RS256", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("RS384", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("RS512", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("PS256", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("PS384", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("PS512", lambda: RsaKey(None, RSA_KEY.public_key(), ALL), RSA_KEY),
    ("ES256", lambda: EcKey(None, P256.public_key(), ALL), P256),
    ("ES384", lambda: EcKey(None, P384.public_key(), ALL), P384),
    ("ES512", lambda: EcKey(None, P521.public_key(), ALL), P521),
    ("EdDSA", lambda: EdKey(None, ED25519.public_key(), ALL), ED25519),
    ("EdDSA", lambda: EdKey(None, ED448.public_key(), ALL), ED448),
]


@pytest.mark.parametrize("alg, make, signing_key", FAMILIES)
def test_valid_signatures_verify_and_any_damage_fails(
    alg: str, make: Any, signing_key: Any
) -> None:
    key = make()
    signature = sign(alg, signing_key)
    assert key.verify(alg, MESSAGE, signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    damaged = [
        flipped,
        signature[:-1],
        signature + b"\x00",
        b"",
        b"\x00" * len(signature),
    ]
    for bad in damaged:
        assert not key.verify(alg, MESSAGE, bad)
    assert not key.verify(alg, MESSAGE[:-1] + b"X", signature)  # payload bit changed
    assert not key.verify(alg, b"X" + MESSAGE[1:], signature)  # header changed


@pytest.mark.parametrize("alg, make, signing_key", FAMILIES)
def test_verify_never_raises(alg: str, make: Any, signing_key: Any) -> None:
    key = make()
    for signature in (b"\xff" * 1000, b"\x00", bytes(range(256)) * 3):
        assert key.verify(alg, MESSAGE, signature) is False
    assert key.verify("garbage", MESSAGE, b"") is False


# --- ECDSA specials (A09, A10) ---------------------------------------------------------------


def _raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize(
    "r, s",
    [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (P256_ORDER, P256_ORDER),
        (P256_ORDER - 1, P256_ORDER - 1),
        (P256_ORDER, 1),
        (1, P256_ORDER),
    ],
)
def test_psychic_es256_signatures_fail(r: int, s: int) -> None:
    key = EcKey(None, P256.public_key(), ["ES256"])
    assert not key.verify("ES256", MESSAGE, _raw(r, s))
    assert base64.urlsafe_b64encode(_raw(0, 0)).rstrip(b"=") == b"A" * 86


def test_der_encoded_es256_signature_fails() -> None:
    der_signature = P256.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    key = EcKey(None, P256.public_key(), ["ES256"])
    assert not key.verify("ES256", MESSAGE, der_signature)


def test_r_plus_n_is_not_accepted_as_r() -> None:
    raw = sign("ES256", P256)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    key = EcKey(None, P256.public_key(), ["ES256"])
    assert key.verify("ES256", MESSAGE, _raw(r, s))
    if r + P256_ORDER < 2**256:
        assert not key.verify("ES256", MESSAGE, _raw(r + P256_ORDER, s))
    # DER of the same (r, s) is not the JWS encoding either
    assert not key.verify("ES256", MESSAGE, encode_dss_signature(r, s))


@pytest.mark.parametrize(
    "alg, private, length",
    [("ES256", P256, 32), ("ES384", P384, 48), ("ES512", P521, 66)],
)
def test_malleated_ecdsa_signatures_are_accepted_consistently(
    alg: str, private: Any, length: int
) -> None:
    # (r, n - s) is as valid as (r, s) (catalogue A11): accepting it pins each curve's order n,
    # which the range check 0 < r, s < n relies on
    key = EcKey(None, private.public_key(), [alg])
    order = {"ES256": P256_ORDER, "ES384": P384_ORDER, "ES512": P521_ORDER}[alg]
    for index in range(5):
        message = MESSAGE + bytes([index])
        raw = sign(alg, private, message)
        r, s = int.from_bytes(raw[:length], "big"), int.from_bytes(raw[length:], "big")
        malleated = r.to_bytes(length, "big") + (order - s).to_bytes(length, "big")
        assert key.verify(alg, message, raw) and key.verify(alg, message, malleated)
        if s + order < 256**length:  # s + n fits (P-521 has room): still refused
            beyond = r.to_bytes(length, "big") + (s + order).to_bytes(length, "big")
            assert not key.verify(alg, message, beyond)


def test_rsa_pss_with_another_salt_length_fails() -> None:
    other = RSA_KEY.sign(
        MESSAGE, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20), hashes.SHA256()
    )
    assert not RsaKey(None, RSA_KEY.public_key(), ["PS256"]).verify("PS256", MESSAGE, other)


def test_key_repr_shows_no_material() -> None:
    text = repr(HmacKey("k1", b"supersecret-" * 4, ["HS256"]))
    assert "supersecret" not in text and "k1" in text

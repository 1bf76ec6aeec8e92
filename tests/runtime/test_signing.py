"""Signing issued tokens: every algorithm round-trips through PyJWT with the published JWK."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tokensmith.runtime.jose import parse_compact
from tokensmith.runtime.jwk import parse_jwk_set
from tokensmith.runtime.model import SigningKeySpec
from tokensmith.runtime.signing import (
    Signer,
    SigningKeyError,
    load_signer,
    public_jwks_document,
)

RSA_KEY = rsa.generate_private_key(65537, 2048)
PRIVATE_KEYS: dict[str, Any] = {
    "RS256": RSA_KEY,
    "RS384": RSA_KEY,
    "RS512": RSA_KEY,
    "PS256": RSA_KEY,
    "PS384": RSA_KEY,
    "PS512": RSA_KEY,
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
}
ED_KEYS = {
    "Ed25519": ed25519.Ed25519PrivateKey.generate(),
    "Ed448": ed448.Ed448PrivateKey.generate(),
}
CLAIMS = {"iss": "https://tokens.example.com/", "aud": "svc", "exp": 4_000_000_000,
          "iat": 1_700_000_000, "jti": "j1", "act": {"sub": "u1", "name": "Zoë"}}  # fmt: skip


def pem(key: Any, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )


def signer(alg: str, material: bytes, kid: str = "key-1") -> Signer:
    return load_signer(SigningKeySpec(kid, alg, None, None), material)


def header_of(token: str) -> bytes:
    segment = token.split(".")[0]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize("alg", sorted(PRIVATE_KEYS))
def test_asymmetric_round_trip_through_pyjwt_with_the_published_jwk(alg: str) -> None:
    s = signer(alg, pem(PRIVATE_KEYS[alg]), kid=f"k-{alg}")
    token = s.sign(CLAIMS)
    assert header_of(token) == f'{{"alg":"{alg}","kid":"k-{alg}","typ":"JWT"}}'.encode()
    document = public_jwks_document([s])
    (jwk,) = document["keys"]
    assert jwk["kid"] == f"k-{alg}" and jwk["alg"] == alg and jwk["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    decoded = jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg], audience="svc")
    assert decoded == CLAIMS
    # and our own strict parser and typed keys accept it too
    jws = parse_compact(token)
    (key,) = parse_jwk_set(document, [alg]).keys
    assert key.verify(alg, jws.signing_input, jws.signature)


@pytest.mark.parametrize("curve", sorted(ED_KEYS))
def test_eddsa_round_trip(curve: str) -> None:
    s = signer("EdDSA", pem(ED_KEYS[curve]))
    token = s.sign(CLAIMS)
    jwk = s.public_jwk()
    assert jwk is not None and jwk["crv"] == curve and jwk["kty"] == "OKP"
    assert jwt.decode(token, jwt.PyJWK(jwk), algorithms=["EdDSA"], audience="svc") == CLAIMS


@pytest.mark.parametrize("alg, size", [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_round_trip_and_no_public_jwk(alg: str, size: int) -> None:
    secret = b"x" * size
    s = signer(alg, secret)
    token = s.sign(CLAIMS)
    assert jwt.decode(token, secret, algorithms=[alg], audience="svc") == CLAIMS
    assert s.public_jwk() is None
    assert public_jwks_document([s]) == {"keys": []}


def test_hs256_token_verifies_with_state_backed_secret_convention() -> None:
    # @statebacked/token: HMAC key = UTF-8 bytes of the whole `sbsec_...` string, not decoded
    secret_text = "sbsec_" + "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0" + "-_x"
    s = signer("HS256", secret_text.encode("utf-8"), kid="sbk_nXzdtCxESemgtxS5JX-LrA")
    token = s.sign(CLAIMS)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": "sbk_nXzdtCxESemgtxS5JX-LrA", "typ": "JWT"}
    claims = jwt.decode(token, secret_text, algorithms=["HS256"], audience="svc")
    assert claims["act"] == {"sub": "u1", "name": "Zoë"}
    # the key is the text itself: the same token keyed with the base64-decoded text differs
    signing_input, signature = token.rsplit(".", 1)
    decoded_key = base64.urlsafe_b64decode(secret_text[6:] + "==")
    other = hmac.new(decoded_key, signing_input.encode(), hashlib.sha256).digest()
    assert jwt.utils.base64url_encode(other).decode() != signature


def test_payload_is_compact_json_in_the_given_order() -> None:
    token = signer("HS256", b"k" * 32).sign({"b": 1, "a": [1, {"z": None}], "é": "ü"})
    payload = token.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == '{"b":1,"a":[1,{"z":null}],"é":"ü"}'.encode()


def test_signing_is_deterministic_for_hmac_and_eddsa() -> None:
    for s in (signer("HS256", b"k" * 32), signer("EdDSA", pem(ED_KEYS["Ed25519"]))):
        assert s.sign(CLAIMS) == s.sign(CLAIMS)


def test_jwks_document_lists_asymmetric_keys_sorted_by_kid() -> None:
    signers = [
        signer("ES256", pem(PRIVATE_KEYS["ES256"]), kid="zeta"),
        signer("HS256", b"k" * 32, kid="hmac"),
        signer("RS256", pem(RSA_KEY), kid="alpha"),
    ]
    assert [k["kid"] for k in public_jwks_document(signers)["keys"]] == ["alpha", "zeta"]


SECRET_MARK = b"TOPSECRET-MATERIAL-"


@pytest.mark.parametrize(
    "alg, material",
    [
        ("HS256", b"short"),
        ("HS384", b"x" * 40),
        ("HS512", b"x" * 63),
        ("RS256", SECRET_MARK + b"not a pem"),
        ("RS256", pem(PRIVATE_KEYS["ES256"])),
        ("RS256", pem(rsa.generate_private_key(65537, 1024))),
        ("PS256", pem(RSA_KEY, password=b"pw")),
        ("ES256", pem(PRIVATE_KEYS["ES384"])),
        ("ES512", pem(RSA_KEY)),
        ("ES256", pem(ec.generate_private_key(ec.SECP256K1()))),
        ("EdDSA", pem(PRIVATE_KEYS["ES256"])),
        (
            "RS256",
            RSA_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
        (
            "HS256",
            RSA_KEY.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        ),
        ("none", b"x" * 32),
    ],
)
def test_unfit_key_material_is_refused_without_echoing_it(alg: str, material: bytes) -> None:
    with pytest.raises(SigningKeyError) as info:
        signer(alg, material)
    message = str(info.value)
    assert "TOPSECRET" not in message and "BEGIN" not in message and "xxxx" not in message
    assert message


def test_signer_repr_shows_no_material() -> None:
    s = signer("HS256", SECRET_MARK * 3)
    assert "TOPSECRET" not in repr(s) and "key-1" in repr(s)


def test_claims_that_are_not_json_are_refused() -> None:
    s = signer("HS256", b"k" * 32)
    with pytest.raises(ValueError):
        s.sign({"x": float("nan")})
    assert (
        json.loads(base64.urlsafe_b64decode(s.sign({"n": 10**30}).split(".")[1] + "==="))["n"]
        == 10**30
    )


# Wycheproof `json_web_key_test.json` tc 7: a private key from the ROCA generator (public data).
ROCA_JWK = {
    "n": "AanFpofbj7KjD4Lf-N2hVMKR7yewSyXhhbirIMTGpfYEhZ_lnt5UoK98DnKIgArXGTu3MaW_HhFw16HGaTDUHqPrId7fe4r11CqRw09yBFuW79V8sYIwHdzCaWflUI6auImYbVfoN9_nD5n8N8SY9DwXw7mwZM9wREPXoDPgOoIWl6q_MPsp7n0zs3Z5ZaiQWOOzl1S9OhwAfSiiOwz6efnXEaxuTEtPd7BjSx7NaFka8Dx9U7YqXy2RFj1O9PjyaDGuRh7YXsX3iMUSP_wSyHQg_c_qHRtKUsNSGCT7OZg0hzm2KphtjnayKJvC64vAbROBR4Ubg6Bxg9IQVZ-QYyE",
    "e": "AQAB",
    "d": "NGpEqgz5j8BLNI1mEcK-sIVOr9AgMDWnRKisjAz4eWTtHlYiTLSWY4QeMzNir_LzBEr1LbZteTAvG5dVc9FpRDy6Grngd6bzy5nONYWPy8a1F88V-zT5OCgm2cd9N1EMzsOZEm1gE4xae1Z1dxptVsiGK-HvRypG_SMacch063aSDM46Asvao8PjqWGy-ZGwnaprx5ME4ZWRMKtov8BVMvkrs1KeM7TtjMg27hvreTueu8fbgNc9U93S2sWjw_4YvS72idsM95e-MCNwhKkrfufNhc5-8-pxD6cbiu8BnG4gR0vuQUNJFx16BsskC7JgOwEUhUg1Q0pYYj3DA54OwQ",
    "p": "ARXNC8pC9mwATep-hd8UJIPF-zxRT3SLSo-oqcfvsfxh31YwlKtfIx7TZgXY1Zqva9zzxJZYxR1XrJp3M0Ny5yRSz04EE7tOjSC3-vR2oIGtkWPFUUF4VpEwrDzqPrZa7JKY-ZJ0qchxLYwzKj7LgEA2HY8l1GBQzHYqqbblMNyF",
    "q": "AYhb2gXYokQugcoSDcl9jeeqwpccV-1Fv93RTtaFMoDJ5kJipWpmTIuT06ZLVc0-2FNl9U3HaiNnHgT07Sjnllj2XGBH5tFT-2u8UUby7QEX8I5QRrdCs6FEtoIxY-eGZWD5MbF8bwrdE1xuhk7dvxlGcEzsAqWMU1ORoRdCZgzt",
    "dp": "b2E6rOmUK1Ej7DS2L-6_hSXHyTNAjBWc22RgTg1Ia0xCYygvM1Z9mkpfyVBatB5JPNlvpGgK_-y7A2NvZkeXbPTWsQzpbFveMZQSRhmZ2ORiOoJORdWdv7CoHfQ9GJfz6gLzbUjhGcBm5qNM-MhWr2gDCfW85LEAiRAp426Y3JE",
    "dq": "43ITjgYJ8qpfFKuokGAXLe_AQ-brVaF0Wvrlz9eA8kWYFG2o5GgPAW6dZ64OPB-tOZNGQ2NRNNqm_UqaXHb7ofCWlj24ISqk-cw99XoHR_X_vg_tHnktNlRl1E0bU_CFvlRWqUOv_0Uu3ws3EmrbR6ScnwrFcgBJoY0vLBOSovU",
    "qi": "azvnD35JmJmI6VoGG4J_koriDC-VENRIzJy9P9paHUtk7vVVPWfC2GzsvHXTF1ZrvqYmG-NtYxRkps6AQ8QKio9XbQ7tTnYmbCH9rSXj7yim3A9Rry92_LsplWRW2H_EIviYk4XdQY3SpSXCbd30fpVcJRhzF_SJ2ifEIPWd3NA",
    "kty": "RSA",
}  # fmt: skip


def test_rsa_signing_key_from_the_roca_generator_is_refused() -> None:
    roca = jwt.algorithms.RSAAlgorithm.from_jwk(ROCA_JWK)
    with pytest.raises(SigningKeyError, match="ROCA"):
        signer("RS256", pem(roca))
    assert signer("RS256", pem(RSA_KEY)).algorithm == "RS256"  # a sound key of the same size


@pytest.mark.parametrize("alg", ["none", "HS1", "ES256K", "RSA-OAEP"])
def test_unsupported_algorithms_are_named_as_such(alg: str) -> None:
    with pytest.raises(SigningKeyError, match="not supported"):
        signer(alg, pem(RSA_KEY))

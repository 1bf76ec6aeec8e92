"""Key material and key selection: a public key is never an HMAC secret, and each identity
provider verifies with its own keys only.

The identity provider's public key pasted as its HMAC `secret` is the configuration behind
RS256 -> HS256 forgeries (CVE-2022-29217 and kin): whoever knows the public key can then sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from tokensmith.runtime.errors import ExchangeError, StartupError
from tokensmith.runtime.verification_keys import looks_like_public_key

from ..support.compiled_world import (
    ENV,
    LOOP_CONFIG,
    NOW,
    UPSTREAM,
    compiled_service,
    exchange_for,
)

IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
DER = IDP_KEY.public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)
PEM = IDP_KEY.public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
JWK = RSAAlgorithm.to_jwk(IDP_KEY)


def _b64url_der() -> str:
    text = base64.urlsafe_b64encode(DER).rstrip(b"=").decode()
    assert "-" in text or "_" in text  # else it is plain base64, which is already recognised
    return text


PUBLIC_KEY_TEXTS = {
    "base64url DER": _b64url_der(),
    "hex DER": DER.hex(),
    "base64 of the PEM": base64.b64encode(PEM).decode(),
    "JWK in a list": f"[{JWK}]",
}


def _forge(secret: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = {"iss": UPSTREAM, "aud": "upstream-api", "sub": "admin", "exp": int(NOW) + 600}
    signing_input = f"{header}.{b64(json.dumps(body).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("form", sorted(PUBLIC_KEY_TEXTS))
def test_a_public_key_in_any_text_form_is_never_an_hmac_secret(tmp_path: Path, form: str) -> None:
    text = PUBLIC_KEY_TEXTS[form]
    env = {**ENV, "REVIEW_UPSTREAM_SECRET": text}
    try:
        service = compiled_service(tmp_path, LOOP_CONFIG, env)
    except StartupError as exc:
        assert any("public key" in problem for problem in exc.problems), exc.problems
        assert all(text not in problem for problem in exc.problems)
        return
    with pytest.raises(ExchangeError):  # the forgery must not be exchanged
        exchange_for(service, _forge(text.encode()), "reports")


RECOGNISED = {"PEM": PEM.decode(), "base64 DER": base64.b64encode(DER).decode(), "JWK": JWK}


@pytest.mark.parametrize("form", sorted(RECOGNISED))
def test_a_public_key_in_the_usual_forms_is_refused_at_start_up(tmp_path: Path, form: str) -> None:
    env = {**ENV, "REVIEW_UPSTREAM_SECRET": RECOGNISED[form]}
    with pytest.raises(StartupError) as info:
        compiled_service(tmp_path, LOOP_CONFIG, env)
    assert any("public key" in problem for problem in info.value.problems)


# ---- each provider verifies with its own keys only ----------------------------------------

SECOND_SECRET = "second-idp-review-secret-0a1b2c3d4e5f6a7b8c9d"
RSA_SIGNER = rsa.generate_private_key(public_exponent=65537, key_size=2048)

TWO_SECRETS = (
    LOOP_CONFIG.split("  partner:\n")[0]  # upstream, and no partner
    + f"""\
  second:
    issuer: https://second.example/
    audience: second-api
    secret: {{env: REVIEW_SECOND_SECRET}}
    algorithms: [HS256]
    mapping: {{sub.$: $.sub}}
  rsa:
    issuer: https://rsa.example/
    audience: rsa-api
    jwks: {{keys: [{
        json.dumps(
            {
                **json.loads(RSAAlgorithm.to_jwk(RSA_SIGNER.public_key())),
                "kid": "rsa-1",
                "alg": "RS256",
            }
        )
    }]}}
    algorithms: [RS256]
    mapping: {{sub.$: $.sub}}
token_providers:
  reports:
    signing_key: es_main
    mapping: {{sub.$: $.sub}}
"""
)


def _hs256(secret: str, issuer: str, audience: str, **headers: str) -> str:
    claims = {"iss": issuer, "aud": audience, "sub": "u", "exp": int(NOW) + 60}
    return jwt.encode(claims, secret.encode(), algorithm="HS256", headers=headers or None)


def test_an_hmac_provider_never_accepts_another_providers_secret(tmp_path: Path) -> None:
    service = compiled_service(
        tmp_path, TWO_SECRETS, {**ENV, "REVIEW_SECOND_SECRET": SECOND_SECRET}
    )
    assert exchange_for(service, _hs256(SECOND_SECRET, "https://second.example/", "second-api"),
                        "reports").identity_provider == "second"  # fmt: skip
    for token in (
        _hs256(SECOND_SECRET, UPSTREAM, "upstream-api"),  # the other HMAC provider's secret
        _hs256(SECOND_SECRET, UPSTREAM, "upstream-api", kid="rsa-1"),  # and a JWKS provider's kid
    ):
        with pytest.raises(ExchangeError) as info:
            exchange_for(service, token, "reports")
        assert info.value.reason == "bad_signature"
    # an RS256 token claiming the HMAC provider, signed by the JWKS provider's key, with its kid
    claims = {"iss": UPSTREAM, "aud": "upstream-api", "sub": "u", "exp": int(NOW) + 60}
    forged = jwt.encode(claims, RSA_SIGNER, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(ExchangeError) as info:
        exchange_for(service, forged, "reports")
    assert info.value.reason == "alg_not_allowed"


@given(st.binary(min_size=32, max_size=96), st.sampled_from(["raw", "hex", "b64", "b64url"]))
def test_random_secrets_in_any_text_form_are_not_taken_for_public_keys(
    secret: bytes, form: str
) -> None:
    # The wider recognition of finding 3 must not refuse real HMAC secrets, which are often
    # written as hex or base64 text (Supabase's JWT secret is base64).
    text = {
        "raw": secret,
        "hex": secret.hex().encode(),
        "b64": base64.b64encode(secret),
        "b64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
    }[form]
    assert not looks_like_public_key(text)

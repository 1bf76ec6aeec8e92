"""A small, real exchange world shared by the exchange tests (this module holds no tests).

Seven identity providers (HS256 secret, RS256/ES256/EdDSA inline JWKS, issuer-only, two
audience-only) and a few services, built the production way: `RuntimeConfig` ->
`secrets.resolve_all` (secrets from a fake environment) -> `state.build_state`. Mapping functions
are hand-written stand-ins for the generated ones. Tokens are minted with PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tokensmith.runtime import claims as claims_module
from tokensmith.runtime import exchange as exchange_module
from tokensmith.runtime import idp_index, jose
from tokensmith.runtime.bundle import Bundle
from tokensmith.runtime.errors import ExchangeError
from tokensmith.runtime.exchange import ExchangeRequest, Issued, exchange
from tokensmith.runtime.model import (
    IdentityProviderSpec,
    RuntimeConfig,
    SecretRef,
    SigningKeySpec,
    TokenProviderSpec,
)
from tokensmith.runtime.secrets import resolve_all
from tokensmith.runtime.state import ExchangeState, build_state

NOW = 1_800_000_000.0

AUTH0 = "https://example.us.auth0.com/"
AUTH0_AUD = "https://example.us.auth0.com/api/v2/"
SUPABASE = "https://abc.supabase.co/auth/v1"
GITHUB = "https://token.actions.githubusercontent.com"
EC_ISS = "https://ec.example"
ED_ISS = "https://ed.example"
MIXED_ISS = "https://mixed.example"

SB_SECRET = "sbsec_" + "Zq3xT9vLmP0aB7cD1eF5gH2iJ8kL4mN6"  # State Backed style signing secret
SUPABASE_SECRET = b"supabase-jwt-secret-for-tests-0123456789abcdef"
AUD_A_SECRET = b"audience-a-secret-for-the-tests-0123456789"
AUD_B_SECRET = b"audience-b-secret-for-the-tests-0123456789"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GITHUB_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ES_SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())

# every name, kid, issuer and secret a description must never echo
SENSITIVE = (
    "auth0", "supabase", "github", "ecidp", "edidp", "mixed", "aud-a", "aud-b",
    "rsa1", "gh1", "ec1", "ed1", "mx1", "sbk_main", "es_main", "http", "://",
    SB_SECRET, SUPABASE_SECRET.decode(), "RS256", "HS256", "ES256", "EdDSA",
)  # fmt: skip

DESCRIPTIONS = frozenset(
    {
        claims_module.MALFORMED,
        claims_module.EXPIRED,
        claims_module.NOT_YET_VALID,
        claims_module.ISSUED_IN_FUTURE,
        idp_index.UNTRUSTED,
        exchange_module.BAD_SIGNATURE,
        exchange_module.CONDITION_FAILED,
        exchange_module.MAPPING_FAILED,
        exchange_module.UNKNOWN_SERVICE,
        exchange_module.IDP_NOT_ALLOWED,
        jose.MALFORMED,
        jose.UNSUPPORTED,
        "subject token is too large",
        "issued claims too large",
        "issued claims could not be built",
    }
)


def public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    codec: Any = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[alg]
    jwk: dict[str, Any] = codec.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def _idp(
    name: str,
    issuer: str | None,
    audience: str | None,
    algorithms: tuple[str, ...],
    *,
    leeway: int = 60,
    jwks: list[dict[str, Any]] | None = None,
    secret_env: str | None = None,
    has_require: bool = False,
) -> IdentityProviderSpec:
    return IdentityProviderSpec(
        name=name,
        issuer=issuer,
        audience=audience,
        algorithms=algorithms,
        leeway=leeway,
        jwks_url=None,
        discovery=False,
        allow_insecure_http=False,
        jwks=None if jwks is None else MappingProxyType({"keys": jwks}),
        secret=None if secret_env is None else SecretRef("env", secret_env),
        has_require=has_require,
    )


def _tp(
    service: str,
    signing_key: str = "sbk_main",
    *,
    expires_in: int = 3600,
    claims: str = "act",
    allowed: tuple[str, ...] | None = None,
    outlive: bool = False,
) -> TokenProviderSpec:
    return TokenProviderSpec(
        service=service,
        signing_key=signing_key,
        expires_in=expires_in,
        audience="https://api.example.com/" if service == "my-service" else service,
        issuer="https://tokens.example.com/",
        identity_providers=allowed,
        claims=claims,
        outlive_subject_token=outlive,
    )


def config() -> RuntimeConfig:
    idps = [
        _idp("auth0", AUTH0, AUTH0_AUD, ("RS256",), jwks=[public_jwk(RSA_KEY, "rsa1", "RS256")],
             has_require=True),
        _idp("supabase", SUPABASE, "authenticated", ("HS256",), leeway=0,
             secret_env="SUPABASE_JWT_SECRET"),
        _idp("github", GITHUB, None, ("RS256",), jwks=[public_jwk(GITHUB_KEY, "gh1", "RS256")]),
        _idp("ecidp", EC_ISS, "svc", ("ES256",), jwks=[public_jwk(EC_KEY, "ec1", "ES256")],
             has_require=True),
        _idp("edidp", ED_ISS, "svc", ("EdDSA",), jwks=[public_jwk(ED_KEY, "ed1", "EdDSA")],
             has_require=True),
        # wrongly mixes families (the compiler refuses this, E08): typed keys must still hold
        _idp("mixed", MIXED_ISS, "svc", ("RS256", "HS256"),
             jwks=[public_jwk(RSA_KEY, "mx1", "RS256")]),
        _idp("aud-a", None, "svc-a", ("HS256",), secret_env="AUD_A_SECRET"),
        _idp("aud-b", None, "svc-b", ("HS256",), secret_env="AUD_B_SECRET"),
    ]  # fmt: skip
    tps = [
        _tp("my-service"),
        _tp("es-service", "es_main", expires_in=600, claims="root", allowed=("auth0", "supabase")),
        _tp("long-lived", expires_in=86400, outlive=True),
        _tp("greedy"),
        _tp("broken"),
        _tp("not-a-dict"),
    ]
    return RuntimeConfig(
        issuer="https://tokens.example.com/",
        cors_allow_origins=(),
        signing_keys=MappingProxyType(
            {
                "sbk_main": SigningKeySpec("sbk_main", "HS256", SecretRef("env", "SBK_MAIN"), None),
                "es_main": SigningKeySpec("es_main", "ES256", None, SecretRef("env", "ES_MAIN")),
            }
        ),
        identity_providers=MappingProxyType({i.name: i for i in idps}),
        token_providers=MappingProxyType({t.service: t for t in tps}),
    )


ENV = {
    "SBK_MAIN": SB_SECRET,
    "ES_MAIN": ES_SIGNING_KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode(),
    "SUPABASE_JWT_SECRET": SUPABASE_SECRET.decode(),
    "AUD_A_SECRET": AUD_A_SECRET.decode(),
    "AUD_B_SECRET": AUD_B_SECRET.decode(),
}

Fn = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


def _copy(*names: str) -> Fn:
    def mapping(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        out = {n: data[n] for n in names if n in data}
        out["via"] = context["identity_provider"]
        return out

    return mapping


def _to_service(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "service": context["service"]}


def _root_with_reserved(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    # B20: a (faulty) mapping that tries to set registered claims at the root
    return {**data, "iss": "evil", "aud": "evil", "exp": 1, "iat": 1, "nbf": 1, "jti": "fixed"}


def _inflate(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    return {f"copy{i}": data.get("blob", "") for i in range(8)}


def _raise(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    raise KeyError("sub")


def _not_a_dict(data: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    return ["not", "a", "dict"]


def _gold_tier(claims: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    return bool(claims["tier"] == "gold")  # KeyError when absent: a faulty requirement


def _truthy_is_not_true(claims: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    return 1 if claims.get("one") else True


def bundle() -> Bundle:
    cfg = config()
    copy = _copy("sub", "email", "name", "blob", "role", "exp", "aud", "iss", "jti")
    return Bundle(
        path=None,
        revision="test-revision",
        compiler="tokensmith test",
        config=cfg,
        idp_mappings=MappingProxyType({name: copy for name in cfg.identity_providers}),
        idp_requirements=MappingProxyType(
            {
                "auth0": lambda claims, context: claims.get("email_verified") is True,
                "ecidp": _gold_tier,
                "edidp": _truthy_is_not_true,
            }
        ),
        tp_mappings=MappingProxyType(
            {
                "my-service": _to_service,
                "es-service": _root_with_reserved,
                "long-lived": _to_service,
                "greedy": _inflate,
                "broken": _raise,
                "not-a-dict": _not_a_dict,
            }
        ),
    )


@cache
def state() -> ExchangeState:
    b = bundle()
    return build_state(b, resolve_all(b.config, ENV), {})


def new_jti() -> str:
    return "jti-0001"


# ---- minting ---------------------------------------------------------------------------------


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_for(issuer: str | None, audience: Any, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"sub": "user-1", "iat": int(NOW), "exp": int(NOW) + 600}
    if issuer is not None:
        out["iss"] = issuer
    if audience is not None:
        out["aud"] = audience
    out.update(extra)
    return {k: v for k, v in out.items() if v is not DROP}


DROP: Any = object()
"""Pass as a claim value to `claims_for` to leave a default claim out."""


def auth0_claims(**extra: Any) -> dict[str, Any]:
    return claims_for(AUTH0, AUTH0_AUD, **{"email": "a@b.c", "email_verified": True, **extra})


def rs256(claims: Mapping[str, Any], kid: str | None = "rsa1", key: Any = None) -> str:
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(dict(claims), key or RSA_KEY, algorithm="RS256", headers=headers)


def hs256(claims: Mapping[str, Any], secret: bytes = SUPABASE_SECRET, **headers: Any) -> str:
    return jwt.encode(dict(claims), secret, algorithm="HS256", headers=headers or None)


def es256(claims: Mapping[str, Any], kid: str = "ec1", key: Any = None) -> str:
    return jwt.encode(dict(claims), key or EC_KEY, algorithm="ES256", headers={"kid": kid})


def eddsa(claims: Mapping[str, Any], kid: str = "ed1") -> str:
    return jwt.encode(dict(claims), ED_KEY, algorithm="EdDSA", headers={"kid": kid})


def resign_rs256(header_text: str, payload_text: str, key: Any = None) -> str:
    """A token from raw JSON texts (duplicates, odd types), validly RS256-signed."""
    signing_input = f"{b64(header_text)}.{b64(payload_text)}".encode()
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, key or RSA_KEY)
    return f"{signing_input.decode()}.{b64(signature)}"


def resign_hs256(header_text: str, payload_text: str, secret: bytes = SUPABASE_SECRET) -> str:
    signing_input = f"{b64(header_text)}.{b64(payload_text)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64(signature)}"


# ---- running ---------------------------------------------------------------------------------


def run(token: str, service: str = "my-service", now: float = NOW, st: Any = None) -> Issued:
    return exchange(st or state(), ExchangeRequest(token, service), now, new_jti)


def refused(
    token: str,
    reason: str | tuple[str, ...],
    *,
    error: str = "invalid_request",
    service: str = "my-service",
    now: float = NOW,
    st: Any = None,
) -> ExchangeError:
    """Assert the exchange refuses `token` with this `error` and `reason`, safely described."""
    with pytest.raises(ExchangeError) as info:
        run(token, service, now, st)
    err = info.value
    assert err.error == error
    assert err.status == 400
    reasons = (reason,) if isinstance(reason, str) else reason
    assert err.reason in reasons, err.reason
    assert_safe(err.description, token)
    return err


def assert_safe(description: str, token: str = "") -> None:
    """A description is one of the fixed sentences and echoes nothing of the request."""
    assert description in DESCRIPTIONS, description
    for text in SENSITIVE:
        assert text not in description
    for segment in token.split("."):
        if len(segment) >= 4:
            assert segment not in description


def decoded(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return _json_segment(header), _json_segment(payload)


def _json_segment(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return value

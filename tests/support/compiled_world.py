"""A service compiled from YAML the production way, for the attack tests (holds no tests).

YAML -> `check` -> bundle bytes -> runtime loader -> `prepare_bundle`, then `exchange()`, the
function `POST /tokens` calls: what `tokensmith serve` would run, without a socket.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tokensmith import __version__
from tokensmith.compiler.bundle import build_bundle
from tokensmith.compiler.check import check_path
from tokensmith.runtime.bundle import load_bundle_files
from tokensmith.runtime.exchange import ExchangeRequest, Issued, exchange
from tokensmith.runtime.startup import Runtime, prepare_bundle

NOW = 1_800_000_000.0
UPSTREAM = "https://upstream.example/"
UPSTREAM_SECRET = "upstream-review-secret-9f8e7d6c5b4a39281706"
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
SIGNING_PEM = SIGNING_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
ENV = {"REVIEW_ES_MAIN": SIGNING_PEM, "REVIEW_UPSTREAM_SECRET": UPSTREAM_SECRET}


def compiled_service(tmp_path: Path, text: str, env: dict[str, str] = ENV) -> Runtime:
    """The service `tokensmith serve` would run for this config (no socket)."""
    path = tmp_path / "tokensmith.yaml"
    path.write_text(text, encoding="utf-8")
    result = check_path(str(path))
    assert result.ok, [f"{d.code} {d.message}" for d in result.errors]
    return prepare_bundle(load_bundle_files(build_bundle(result, version=__version__)), env)


def exchange_for(service: Runtime, token: str, target: str, now: float = NOW) -> Issued:
    return exchange(service.state, ExchangeRequest(token, target), now, lambda: "jti-review")


def upstream_token(**claims: Any) -> str:
    body = {"iss": UPSTREAM, "aud": "upstream-api", "sub": "user-1", "iat": int(NOW)}
    body["exp"] = int(NOW) + 600
    body.update(claims)
    return jwt.encode(body, UPSTREAM_SECRET.encode(), algorithm="HS256")


def public_jwk(kid: str) -> str:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(SIGNING_KEY.public_key(), as_dict=True)
    return json.dumps({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})


#: An upstream HMAC provider and `partner`, an audience-only provider whose key is (by mistake)
#: tokensmith's own public key: the setting in which an issued token could be exchanged again.
LOOP_CONFIG = f"""\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  es_main:
    algorithm: ES256
    private_key: {{env: REVIEW_ES_MAIN}}
identity_providers:
  upstream:
    issuer: {UPSTREAM}
    audience: upstream-api
    secret: {{env: REVIEW_UPSTREAM_SECRET}}
    algorithms: [HS256]
    mapping: {{sub.$: $.sub}}
  partner:
    # audience-only, and its key is (by mistake) tokensmith's own public key: `check` cannot
    # know that, E353 looks at issuers only
    audience: reports
    jwks: {{keys: [{public_jwk("es_main")}]}}
    algorithms: [ES256]
    mapping: {{sub.$: $.act.sub}}
token_providers:
  reports:
    signing_key: es_main
    identity_providers: [upstream]
    mapping: {{sub.$: $.sub}}
  admin:
    signing_key: es_main
    identity_providers: [partner]
    mapping: {{sub.$: $.sub}}
"""


def base_config(idp_mapping: dict[str, Any], tp_mapping: dict[str, Any], **idp: Any) -> str:
    config = {
        "version": 1,
        "issuer": "https://tokens.example.com/",
        "signing_keys": {
            "es_main": {"algorithm": "ES256", "private_key": {"env": "REVIEW_ES_MAIN"}}
        },
        "identity_providers": {
            "upstream": {
                "issuer": "https://upstream.example/",
                "audience": "upstream-api",
                "secret": {"env": "REVIEW_UPSTREAM_SECRET"},
                "algorithms": ["HS256"],
                "mapping": idp_mapping,
                **idp,
            }
        },
        "token_providers": {"svc": {"signing_key": "es_main", "mapping": tp_mapping}},
    }
    return json.dumps(config, indent=2)

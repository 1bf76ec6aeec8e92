"""Security review 2026-11-29: attacks on the exchange through compiled configs.

Each test builds its world the production way (YAML -> `check` -> bundle bytes -> runtime
loader -> `prepare_bundle`) and sends the attack through `exchange()`, the function
`POST /tokens` calls. Findings are written up in `docs/review-2026-11-29.md`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tokensmith.compiler.bundle import build_bundle
from tokensmith.compiler.check import check_path
from tokensmith.runtime.bundle import load_bundle_files
from tokensmith.runtime.errors import ExchangeError
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
    return prepare_bundle(load_bundle_files(build_bundle(result)), env)


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


# ---- finding 1: tokensmith's own tokens exchanged again through an audience-only provider ----

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


def test_an_issued_token_is_never_exchanged_again(tmp_path: Path) -> None:
    service = compiled_service(tmp_path, LOOP_CONFIG)
    reports = exchange_for(service, upstream_token(), "reports")
    assert reports.claims["aud"] == "reports"
    # the attack: post the `reports` token back, asking for `admin` (only `partner` may)
    with pytest.raises(ExchangeError) as info:
        exchange_for(service, reports.access_token, "admin", NOW + 1)
    assert (info.value.error, info.value.reason) == ("invalid_request", "untrusted_issuer")


def test_a_token_claiming_a_services_own_issuer_is_refused(tmp_path: Path) -> None:
    text = LOOP_CONFIG.replace(
        "  admin:\n    signing_key: es_main\n",
        "  admin:\n    signing_key: es_main\n    issuer: https://admin.tokens.example.com/\n",
    )
    service = compiled_service(tmp_path, text)
    # a partner token that claims to come from the `admin` service's own issuer
    forged = jwt.encode(
        {"iss": "https://admin.tokens.example.com/", "aud": "reports", "exp": int(NOW) + 60,
         "act": {"sub": "root"}},
        SIGNING_KEY,
        algorithm="ES256",
        headers={"kid": "es_main"},
    )  # fmt: skip
    with pytest.raises(ExchangeError) as info:
        exchange_for(service, forged, "admin")
    assert info.value.reason == "untrusted_issuer"
    # and a partner token with a foreign issuer still works: the guard is only for our own
    partner = jwt.encode(
        {"iss": "https://partner.example/", "aud": "reports", "exp": int(NOW) + 60,
         "act": {"sub": "p-1"}},
        SIGNING_KEY,
        algorithm="ES256",
        headers={"kid": "es_main"},
    )  # fmt: skip
    assert exchange_for(service, partner, "admin").claims["act"] == {"sub": "p-1"}


def test_tokensmith_test_agrees_that_an_own_issuer_token_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokensmith.cli import main

    case = """\
tests:
  - name: an issued token posted back is refused
    service: admin
    now: 1800000000
    token: {iss: https://tokens.example.com/, aud: reports, exp: 1800000600, act: {sub: u1}}
    expect: {error: invalid_request}
"""
    path = tmp_path / "tokensmith.yaml"
    path.write_text(LOOP_CONFIG + case, encoding="utf-8")
    code = main(["test", str(path)])
    assert code == 0, capsys.readouterr().out

"""`tokensmith explain`: a refused token names the exact failed check; every value its source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tokensmith.cli import main

NOW = 1_767_225_600
SECRET = "a-supabase-jwt-secret-that-is-long-enough"
AUTH0 = {"iss": "https://acme.us.auth0.com/", "aud": ["https://api.example.com/", "other"],
         "sub": "auth0|alice", "email": "alice@example.com", "email_verified": True,
         "exp": NOW + 3600, "iat": NOW - 100}


def config_text(jwk: dict[str, Any]) -> str:
    return f"""\
version: 1
issuer: https://tokens.example.com/
signing_keys:
  k: {{algorithm: HS256, secret: {{env: K}}}}
identity_providers:
  auth0:
    issuer: https://acme.us.auth0.com/
    audience: https://api.example.com/
    jwks_url: https://acme.us.auth0.com/.well-known/jwks.json
    algorithms: [RS256]
    require: {{$.email_verified: true}}
    mapping: {{sub.$: $.sub, email.$: $.email, nickname.$: $.nickname}}
  supabase:
    preset: supabase
    project: abcd
    secret: {{env: EXPLAIN_SUPABASE_SECRET}}
    mapping: {{sub.$: $.sub}}
  internal:
    issuer: https://internal.example.com
    jwks: {{keys: [{json.dumps(jwk)}]}}
    algorithms: [ES256]
    mapping: {{sub.$: $.sub}}
token_providers:
  orders:
    signing_key: k
    identity_providers: [auth0, supabase, internal]
    mapping: {{sub.$: $.sub, email.$: $.email, via.$: $$.identity_provider, plan: free}}
  admin:
    signing_key: k
    identity_providers: [internal]
    mapping: {{sub.$: $.sub}}
"""


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture()
def config(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> str:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwk["kid"] = "int-1"
    path = tmp_path / "tokensmith.yaml"
    path.write_text(config_text(jwk))
    return str(path)


def explain(config: str, capsys: pytest.CaptureFixture[str], *args: str,
            claims: dict[str, Any] | None = None, tmp: Path | None = None) -> tuple[int, str]:
    extra = list(args)
    if claims is not None:
        assert tmp is not None
        file = tmp / "claims.json"
        file.write_text(json.dumps(claims))
        extra += ["--claims", str(file)]
    code = main(["explain", config, "--now", str(NOW), *extra])
    return code, capsys.readouterr().out


def test_an_issued_token_shows_every_value_and_its_source(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = explain(config, capsys, "--service", "orders", claims=AUTH0, tmp=tmp_path)
    assert code == 0, out
    assert "  auth0     matched   issuer and audience match" in out
    assert ("  supabase  no match  issuer differs: token https://acme.us.auth0.com/, provider "
            "https://abcd.supabase.co/auth/v1") in out
    assert "ok    exp: 2026-01-01T01:00:00Z (1767229200): in 1h (leeway 60s)" in out
    assert "ok    iat: 2025-12-31T23:58:20Z (1767225500): 1m 40s ago (leeway 60s)" in out
    assert "ok    require $.email_verified: wants true, found true" in out
    assert "  nickname  <- $.nickname  left out: the path matched nothing" in out
    assert '  via    <- $$.identity_provider  = "auth0"' in out
    assert '  plan   = "free"                 = "free"' in out
    assert out.rstrip().endswith("}")
    issued = json.loads(out.split("ISSUED; claims of the issued token:\n")[1])
    assert issued["act"] == {"sub": "auth0|alice", "email": "alice@example.com",
                             "via": "auth0", "plan": "free"}


REFUSALS = [
    ({**AUTH0, "exp": NOW - 61}, "orders", "exp",
     "FAIL  exp: 2025-12-31T23:58:59Z (1767225539): 1m 1s ago (leeway 60s)"),
    ({**AUTH0, "nbf": NOW + 120}, "orders", "nbf", "FAIL  nbf: 2026-01-01T00:02:00Z"),
    ({**AUTH0, "email_verified": False}, "orders", "require $.email_verified",
     "FAIL  require $.email_verified: wants true, found false"),
    ({**AUTH0, "iss": "https://evil.us.auth0.com/"}, "orders", "identity provider",
     "no identity provider trusts this issuer and audience"),
    ({**AUTH0, "aud": "https://other.example.com/"}, "orders", "identity provider",
     "audience https://api.example.com/ is not in the token's aud (https://other.example.com/)"),
    ({k: v for k, v in AUTH0.items() if k != "iss"}, "orders", "identity provider",
     "the token has no iss (provider issuer https://acme.us.auth0.com/)"),
    (AUTH0, "admin", "allow-list", "FAIL  allow-list: service admin accepts only internal"),
    (AUTH0, "ordrs", "service", "no token provider serves 'ordrs' (did you mean 'orders'?)"),
]


@pytest.mark.parametrize(("claims", "service", "check", "line"), REFUSALS)
def test_a_refused_token_names_the_failed_check(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    claims: dict[str, Any], service: str, check: str, line: str,
) -> None:
    code, out = explain(config, capsys, "--service", service, claims=claims, tmp=tmp_path)
    assert code == 1
    assert line in out
    assert f"REFUSED at check '{check}': " in out.splitlines()[-1]


def test_signature_with_verify_uses_the_env_secret_and_never_prints_it(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = {"iss": "https://abcd.supabase.co/auth/v1", "aud": "authenticated", "sub": "u",
              "exp": NOW + 60}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    code, out = explain(config, capsys, "--service", "orders", "--token", token)
    assert code == 0 and "skip  signature: not checked (pass --verify)" in out
    code, out = explain(config, capsys, "--service", "orders", "--token", token, "--verify")
    assert "skip  signature: not checked: environment variable EXPLAIN_SUPABASE_SECRET is not " \
           "set" in out
    monkeypatch.setenv("EXPLAIN_SUPABASE_SECRET", SECRET)
    code, out = explain(config, capsys, "--service", "orders", "--token", token, "--verify")
    assert code == 0
    assert "ok    signature: verified with the secret {env: EXPLAIN_SUPABASE_SECRET}" in out
    forged = jwt.encode(claims, SECRET[::-1], algorithm="HS256")
    code, out = explain(config, capsys, "--service", "orders", "--token", forged, "--verify")
    assert code == 1
    assert out.splitlines()[-1] == ("REFUSED at check 'signature': invalid_request "
                                    "(bad_signature): token signature is not valid")
    assert SECRET not in out and SECRET[::-1] not in out


def test_inline_jwks_verifies_and_an_algorithm_outside_the_list_is_named(
    config: str, capsys: pytest.CaptureFixture[str], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    claims = {"iss": "https://internal.example.com", "sub": "svc-1", "exp": NOW + 60}
    token = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "int-1"})
    code, out = explain(config, capsys, "--service", "admin", "--token", token, "--verify")
    assert code == 0, out
    assert "ok    signature: verified with the inline jwks" in out
    hs = jwt.encode(claims, SECRET, algorithm="HS256")
    code, out = explain(config, capsys, "--service", "admin", "--token", hs)
    assert code == 1
    assert "FAIL  algorithm: alg HS256 is not in the allow-list [ES256]" in out
    assert "REFUSED at check 'algorithm'" in out


def test_a_jwks_url_is_not_fetched_offline(
    config: str, capsys: pytest.CaptureFixture[str], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = jwt.encode(AUTH0, "x" * 40, algorithm="HS256")  # wrong alg for auth0 anyway
    code, out = explain(config, capsys, "--service", "orders", "--token", token, "--verify")
    assert code == 1 and "REFUSED at check 'algorithm'" in out
    from cryptography.hazmat.primitives.asymmetric import rsa
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(AUTH0, rsa_key, algorithm="RS256")
    code, out = explain(config, capsys, "--service", "orders", "--token", token, "--verify")
    assert code == 0
    assert ("skip  signature: not checked offline: the keys are fetched from "
            "https://acme.us.auth0.com/.well-known/jwks.json") in out


@pytest.mark.slow
def test_json_format_through_the_real_cli(config: str, tmp_path: Path) -> None:
    file = tmp_path / "claims.json"
    file.write_text(json.dumps({**AUTH0, "exp": NOW - 3600}))
    done = subprocess.run(
        [sys.executable, "-m", "tokensmith", "explain", config, "--service", "orders",
         "--claims", str(file), "--now", str(NOW), "--format", "json"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["issued"] is False and document["failed_check"] == "exp"
    assert document["error"] == {"error": "invalid_request", "reason": "expired",
                                 "description": "token expired"}
    assert [p["name"] for p in document["identity_providers"] if p["matched"]] == ["auth0"]


def test_inputs_that_cannot_be_read(config: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", config, "--service", "orders", "--claims",
                 str(tmp_path / "missing.json")]) == 2
    (tmp_path / "list.json").write_text("[1]")
    assert main(["explain", config, "--service", "orders", "--claims",
                 str(tmp_path / "list.json")]) == 2
    assert main(["explain", config, "--service", "orders", "--token", "a.b.c"]) in (1, 2)


@pytest.mark.slow
def test_the_token_can_come_from_stdin(config: str, ec_key: ec.EllipticCurvePrivateKey) -> None:
    claims = {"iss": "https://internal.example.com", "sub": "svc-1", "exp": NOW + 60}
    token = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "int-1"})
    done = subprocess.run(
        [sys.executable, "-m", "tokensmith", "explain", config, "--service", "admin",
         "--token", "-", "--verify", "--now", str(NOW)],
        input=token + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    signature: verified with the inline jwks" in done.stdout
    assert token not in done.stdout

"""A token tokensmith issued is never exchanged again, whatever keys a provider holds.

Our own issuers (the top-level one and every token provider's) match no identity provider, even
an audience-only one holding our public key: through `exchange()` on a compiled config, through
`tokensmith test`, and over real HTTP with the form body State Backed's client sends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tokensmith.runtime.errors import ExchangeError

from ..support.compiled_world import (
    ENV,
    LOOP_CONFIG,
    NOW,
    SIGNING_KEY,
    UPSTREAM,
    UPSTREAM_SECRET,
    compiled_service,
    exchange_for,
    upstream_token,
)
from ..support.http_server import serving

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


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


# ---- over real HTTP: `tokensmith compile` and `tokensmith serve` as subprocesses ----------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("own-issuers-http")
    (root / "tokensmith.yaml").write_text(LOOP_CONFIG, encoding="utf-8")
    bundle = root / "bundle"
    compiled = subprocess.run(
        [sys.executable, "-m", "tokensmith", "compile", str(root / "tokensmith.yaml"),
         "-o", str(bundle)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    with serving(bundle, {**os.environ, **ENV}) as (url, _log):
        yield url


def post(url: str, token: str, service: str) -> httpx.Response:
    form = {
        "grant_type": GRANT,
        "subject_token": token,
        "audience": f"https://tokens.statebacked.dev/org_x/{service}",
    }
    return httpx.post(url + "/tokens", data=form, timeout=10)


@pytest.mark.slow
def test_an_issued_token_posted_back_over_http_is_refused(server: str) -> None:
    now = int(time.time())
    claims = {"iss": UPSTREAM, "aud": "upstream-api", "sub": "user-1", "iat": now, "exp": now + 300}
    reports = post(server, jwt.encode(claims, UPSTREAM_SECRET.encode(), "HS256"), "reports")
    assert reports.status_code == 200, reports.text
    attack = post(server, reports.json()["access_token"], "admin")
    assert attack.status_code == 400
    assert attack.json() == {
        "error": "invalid_request",
        "error_description": "token issuer or audience is not trusted",
        "code": "untrusted_issuer",
    }
    assert attack.headers["cache-control"] == "no-store"

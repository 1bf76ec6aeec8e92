"""Security review 2026-11-29: finding 1 over real HTTP, as a user meets it.

`tokensmith compile` and `tokensmith serve` run as subprocesses on 127.0.0.1; the attack is the
form body State Backed's client sends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from tests.runtime.http_server import serving

from .test_review_exchange import ENV, LOOP_CONFIG, UPSTREAM, UPSTREAM_SECRET

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("review-http")
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
    }
    assert attack.headers["cache-control"] == "no-store"

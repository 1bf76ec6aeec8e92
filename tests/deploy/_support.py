"""Shared by the deployment tests: the quickstart's secrets and tokens, waiting for a server,
and the podman helper of bench/ (which benchmarks reuse)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import httpx
import jwt

from tests.support.bench_scripts import bench_module

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: What the build side installs beyond the runtime: distributions, and modules to import.
BUILD_SIDE_DISTRIBUTIONS = ("pydantic", "ruamel.yaml", "PyYAML", "jinja2", "jsonpath-ng")
BUILD_SIDE_MODULES = (
    "pydantic", "ruamel.yaml", "yaml", "jinja2", "jsonpath_ng",
    "tokensmith.schema", "tokensmith.compiler",
)
#: The verbs that need the build side, each with arguments a user would give.
BUILD_VERBS = {
    "check": ["check", str(QUICKSTART)],
    "compile": ["compile", str(QUICKSTART), "-o", "{tmp}/bundle"],
    "test": ["test", str(QUICKSTART)],
    "explain": ["explain", str(QUICKSTART), "--service", "my-service", "--claims", "{tmp}/c.json"],
    "diff": ["diff", str(QUICKSTART), str(QUICKSTART)],
    "schema": ["schema"],
    "import": ["import", "statebacked", "--idps", "{tmp}/i.json", "--token-providers",
               "{tmp}/t.json"],
    "demo": ["demo"],
}


def quickstart_secrets() -> dict[str, str]:
    """Fresh values for the two secrets the quickstart config references."""
    return {
        "QUICKSTART_IDP_SECRET": secrets.token_urlsafe(32),
        "TOKENSMITH_SIGNING_KEY": secrets.token_urlsafe(32),
    }


def exchange_quickstart(url: str, env: Mapping[str, str]) -> dict[str, object]:
    """Exchange a fresh quickstart login token at `url` over HTTP; assert 200 and return the
    issued token's claims, its signature checked with the signing key."""
    now = int(time.time())
    claims = {"iss": "https://login.example.com/", "aud": "tokensmith-quickstart",
              "sub": "user-7", "email": "ada@example.com", "iat": now, "exp": now + 300}
    subject = jwt.encode(claims, env["QUICKSTART_IDP_SECRET"], "HS256")
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject, "audience": "my-service"}
    answer = httpx.post(url + "/tokens", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    issued: dict[str, object] = jwt.decode(
        answer.json()["access_token"], env["TOKENSMITH_SIGNING_KEY"], ["HS256"],
        audience="my-service",
    )
    assert issued["act"] == {"sub": "user-7", "email": "ada@example.com"}
    return issued


def wait_ready(url: str, alive: Callable[[], bool], what: Callable[[], str],
               timeout: float = 60) -> float:
    """Wait until `url`/readyz answers 200; the seconds it took. Fails with `what()` (e.g. the
    server's log) when `alive()` turns false or `timeout` passes."""
    started = time.monotonic()
    while True:
        assert alive(), f"the server stopped:\n{what()}"
        assert time.monotonic() - started < timeout, f"not ready in {timeout} s:\n{what()}"
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def podman_helper() -> ModuleType:
    """bench/podman_local.py, the podman recipe for machines without a registry."""
    return bench_module("podman_local")

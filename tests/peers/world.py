"""What the peer tests share: a config compiled by the real CLI, `tokensmith serve` on a loopback
port, subject tokens of its identity provider, and the State Backed client package installed
from its lockfile.

The tools these tests need (node, npm, chromium-headless-shell) are machine packages that
`.ci/run` installs when missing; a missing tool fails the test, it never skips it.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest

from ..support.http_server import serving

PEER_DIR = Path(__file__).resolve().parent / "statebacked-client"
ISSUER = "https://login.peer.test/"
AUDIENCE = "peer-app"
SERVICE = "my-service"
ORG = "org_peer"

CONFIG = """\
version: 1
issuer: https://tokens.peer.test/
signing_keys:
  sbk_peer:
    algorithm: HS256
    secret: {{env: PEER_SIGNING_KEY}}
identity_providers:
  app-login:
    issuer: https://login.peer.test/
    audience: peer-app
    secret: {{env: PEER_IDP_SECRET}}
    algorithms: [HS256]
    require:
      $.email_verified: true
    mapping:
      sub.$: $.sub
      email.$: $.email
      groups.$: $.groups
token_providers:
  my-service:
    signing_key: sbk_peer
    expires_in: 15m
    mapping:
      sub.$: $.sub
      email.$: $.email
      roles.$: $.groups
      via.$: $$.identity_provider
      service: my-service
{cors}"""


def require_tool(name: str) -> str:
    """The path of a machine tool; the test fails (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; .ci/run installs it (Debian: apt-get install {name})")
    return path


@functools.cache
def installed_peer() -> Path:
    """The State Backed client package, installed exactly as its lockfile says (`npm ci`, once
    per session; install scripts are not run: the client needs none)."""
    require_tool("node")
    npm = require_tool("npm")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=PEER_DIR, check=True, timeout=300,
    )
    return PEER_DIR


class Peer:
    """Secrets for one server, and subject tokens signed with them."""

    def __init__(self) -> None:
        self.idp_secret = secrets.token_urlsafe(32)
        self.signing_key = secrets.token_urlsafe(32)

    def subject_token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": "user-7", "email": "ada@example.com",
            "email_verified": True, "groups": ["admin", "ops"], "iat": now, "exp": now + 600,
        }
        claims.update(overrides)
        return jwt.encode(claims, self.idp_secret, "HS256")

    def issued_claims(self, token: str) -> dict[str, Any]:
        """An issued token's claims, its signature verified with the signing key."""
        return dict(jwt.decode(
            token, self.signing_key, ["HS256"], audience=SERVICE,
            issuer="https://tokens.peer.test/",
        ))

    @contextmanager
    def serving(
        self, directory: Path, allow_origins: list[str] | None = None,
        allow_headers: list[str] | None = None,
    ) -> Iterator[str]:
        """Compile the config with the real CLI and run `tokensmith serve` on it; yields the
        base URL."""
        cors = ""
        if allow_origins is not None:
            cors = f"cors:\n  allow_origins: {json.dumps(allow_origins)}\n"
        if allow_headers is not None:
            cors += f"  allow_headers: {json.dumps(allow_headers)}\n"
        config = directory / "tokensmith.yaml"
        config.write_text(CONFIG.format(cors=cors), encoding="utf-8")
        bundle = directory / "bundle"
        subprocess.run(
            [sys.executable, "-m", "tokensmith", "compile", str(config), "-o", str(bundle)],
            check=True, capture_output=True, timeout=60,
        )
        env = {
            **os.environ, "PEER_IDP_SECRET": self.idp_secret, "PEER_SIGNING_KEY": self.signing_key,
        }
        with serving(bundle, env) as (url, _log):
            yield url

"""State Backed's own JavaScript client (`@statebacked/client` 0.1.37, from npm, pinned by
`statebacked-client/package-lock.json`) against a real `tokensmith serve`, unchanged: it gets a
token whose `act` claims follow the mappings, and a refusal reaches its error with our code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from .world import ORG, SERVICE, Peer, installed_peer, require_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def peer() -> Peer:
    return Peer()


@pytest.fixture(scope="module")
def server(peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with peer.serving(tmp_path_factory.mktemp("peer")) as url:
        yield url


def client_exchange(server: str, token: str, **extra: Any) -> dict[str, Any]:
    """What State Backed's client gives its user: the token, or its error."""
    directory = installed_peer()
    run = subprocess.run(
        [require_tool("node"), str(directory / "exchange.mjs")],
        input=json.dumps({
            "apiHost": server, "orgId": ORG, "service": SERVICE, "identityProviderToken": token,
            **extra,
        }),
        capture_output=True, text=True, check=True, timeout=60, cwd=directory,
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result


def test_the_client_gets_a_token_whose_act_claims_follow_the_mappings(
    peer: Peer, server: str
) -> None:
    result = client_exchange(server, peer.subject_token(), actAs={"sub": "someone-else"})
    assert result["ok"], result
    claims = peer.issued_claims(result["token"])
    assert claims["act"] == {
        "sub": "user-7", "email": "ada@example.com", "roles": ["admin", "ops"],
        "via": "app-login", "service": SERVICE,
    }
    assert 0 < claims["exp"] - claims["iat"] <= 600  # capped by the subject token's `exp`


@pytest.mark.parametrize(
    ("overrides", "service", "error", "code"),
    [
        ({"email_verified": False}, SERVICE, "invalid_request", "condition_failed"),
        ({"exp": 1_000_000_000}, SERVICE, "invalid_request", "expired"),
        ({"iss": "https://elsewhere.test/"}, SERVICE, "invalid_request", "untrusted_issuer"),
        ({}, "no-such-service", "invalid_target", "unknown_service"),
    ],
)
def test_a_refusal_reaches_the_client_error_with_its_code(
    peer: Peer, server: str, overrides: dict[str, Any], service: str, error: str, code: str
) -> None:
    result = client_exchange(server, peer.subject_token(**overrides), service=service)
    assert result == {
        "ok": False, "name": "ClientError", "status": 400, "code": code, "message": error,
    }

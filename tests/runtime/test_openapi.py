"""`GET /openapi.json` describes what the server answers: every answer of a battery of real
requests over real uvicorn matches the description, and every answer it documents is seen.

Two servers: one with CORS and static keys (every route, every refusal), one whose only JWKS
identity provider is down (readiness 503, exchange 503 with `Retry-After`). The schemathesis run
in `test_openapi_fuzz.py` then drives the same description with generated requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.runtime.app import create_app

from ..support.http_server import RunningServer, World, form, free_port, idp, running
from ..support.openapi_check import Description

pytestmark = pytest.mark.slow

ALLOWED = "https://app.example.com"
SHIPPED = Path(__file__).parents[2] / "runtime" / "openapi.json"
#: Documented answers a request gets only when the server meets an unexpected error (the
#: catch-all answers 503 instead of a 500): no honest request provokes them.
CATCH_ALL = "#/components/responses/Unavailable"
TOO_MANY_HEADERS = [(f"x-filler-{i}", "1") for i in range(101)]
WRITES = ("POST", "PUT", "PATCH", "DELETE")
LISTINGS = ("/idps", "/token-providers", "/.well-known/jwks.json", "/openapi.json")


@pytest.fixture(scope="module")
def world() -> World:
    return World(cors=[ALLOWED])


@pytest.fixture(scope="module")
def keys_down(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server whose only extra identity provider fetches its keys from a closed port."""
    down = World()
    down.config["identity_providers"]["rsa"] = idp(
        issuer="https://rsa.example.com/", audience="rsa-aud", algorithms=["RS256"],
        jwks_url=f"http://127.0.0.1:{free_port()}/jwks",
    )
    runtime = down.runtime(tmp_path_factory.mktemp("down") / "b")
    with running(create_app(runtime)) as server:
        yield server


@pytest.fixture(scope="module")
def description(server: RunningServer) -> Description:
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return Description(json.loads(response.content))


def test_the_served_description_is_the_shipped_openapi_3_1_document(
    client: httpx.Client, description: Description
) -> None:
    assert client.get("/openapi.json").content == SHIPPED.read_bytes()
    assert description.document["openapi"].startswith("3.1.")
    post = description.document["paths"]["/tokens"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded", "application/json",
    }
    documented_paths = set(description.document["paths"])
    assert documented_paths == {
        "/tokens", "/healthz", "/readyz", "/metrics", "/openapi.json", "/idps",
        "/token-providers", "/.well-known/jwks.json",
    }


def exchanges(world: World) -> list[tuple[str, dict[str, Any]]]:
    """(`/tokens` method, httpx keyword arguments) for each kind of answer of `POST /tokens`."""
    good = form(world.hs_token())
    return [
        ("POST", {"data": good, "headers": {"origin": ALLOWED}}),
        ("POST", {"json": good}),
        ("POST", {"json": form(world.hs_token(exp=1))}),
        ("POST", {"data": form(world.hs_token(), audience="no-such-service")}),
        ("POST", {"data": {**good, "grant_type": "password"}}),
        ("POST", {"json": {**good, "resource": "https://x.example.com/"}}),
        ("POST", {"content": b"x" * 70_000, "headers": {"content-type": "application/json"}}),
        ("POST", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
        ("POST", {"data": good, "headers": TOO_MANY_HEADERS}),
        ("POST", {"data": good, "params": {"subject_token": "x"}}),
        ("OPTIONS", {"headers": {"origin": ALLOWED, "access-control-request-method": "POST"}}),
        ("OPTIONS", {"headers": {"origin": "https://evil.example.com"}}),
        ("OPTIONS", {"headers": TOO_MANY_HEADERS}),
        *[(method, {}) for method in ("GET", "PUT", "PATCH", "DELETE")],
        *[(method, {"headers": TOO_MANY_HEADERS}) for method in ("GET", "PUT", "PATCH", "DELETE")],
    ]


def test_every_answer_matches_and_every_documented_answer_is_seen(
    client: httpx.Client, world: World, description: Description, keys_down: RunningServer
) -> None:
    seen: set[tuple[str, str, str]] = set()

    def send(target: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = target.request(method, path, **kwargs)
        seen.add(description.check(method, path, response))
        return response

    statuses = [send(client, method, "/tokens", **kw).status_code for method, kw in exchanges(world)]
    assert statuses[:2] == [200, 200]
    for path in ("/healthz", "/readyz", "/metrics", *LISTINGS):
        assert send(client, "GET", path).status_code == 200
        assert send(client, "GET", path, headers=TOO_MANY_HEADERS).status_code == 431
    for path in LISTINGS:
        for method in WRITES:
            assert send(client, method, path).status_code == 405
            assert send(client, method, path, headers=TOO_MANY_HEADERS).status_code == 431

    with httpx.Client(base_url=keys_down.url, timeout=10) as down:
        assert send(down, "GET", "/readyz").status_code == 503
        rs_token = world.rs_token()
        unavailable = send(down, "POST", "/tokens", data=form(rs_token, audience="only-rsa"))
        assert unavailable.status_code == 503

    documented = {
        (path, method, status)
        for path, method, status, _ in description.operations()
        if description.document["paths"][path][method]["responses"][status].get("$ref")
        != CATCH_ALL
    }
    assert documented - seen == set()


def test_a_wrong_answer_is_caught(description: Description, client: httpx.Client) -> None:
    """The checker is not a rubber stamp: an answer off the description fails it."""
    good = client.get("/healthz")
    wrong_status = httpx.Response(418, headers=good.headers, content=good.content)
    no_revision = httpx.Response(
        200, headers={k: v for k, v in good.headers.items() if k != "x-tokensmith-revision"},
        content=good.content,
    )
    wrong_body = httpx.Response(200, headers=good.headers, content=b'{"status": "fine"}')
    error = client.post("/tokens", data=form("x"))
    extra_member = httpx.Response(
        400, headers=error.headers, content=json.dumps({**error.json(), "token": "x"}).encode()
    )
    for response, path, method in [
        (wrong_status, "/healthz", "GET"), (no_revision, "/healthz", "GET"),
        (wrong_body, "/healthz", "GET"), (extra_member, "/tokens", "POST"),
    ]:
        with pytest.raises(AssertionError):
            description.check(method, path, response)


def test_error_bodies_may_carry_a_reason_code(description: Description) -> None:
    body = {"error": "invalid_request", "error_description": "token has expired",
            "code": "token_expired"}
    assert description.validate("components/schemas/Error", body) == []
    assert description.validate("components/schemas/Error", {**body, "code": 7}) != []


"""The rest of the HTTP surface over real uvicorn: CORS, health, readiness, metrics, listings,
and POST /tokens with a remote JWKS (readiness, unknown-kid refetch, 503 when keys are missing).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tokensmith.runtime.app import create_app

from ..support.http_server import KEEP_MAPPING, World, _public_jwk, form, idp, running

pytestmark = pytest.mark.slow

ALLOWED = "https://app.example.com"


@pytest.fixture(scope="module")
def world() -> World:
    world = World(cors=[ALLOWED])
    world.config["cors"]["allow_headers"] = ["X-Client-Version"]
    return world


def preflight(client: httpx.Client, origin: str, method: str = "POST") -> httpx.Response:
    headers = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "content-type",
    }
    return client.options("/tokens", headers=headers)


def test_preflight_for_an_allowed_origin(client: httpx.Client) -> None:
    response = preflight(client, ALLOWED)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-methods"] == "POST"
    allowed = response.headers["access-control-allow-headers"].split(", ")
    assert allowed == [
        "Content-Type", "X-Request-Id", "X-StateBacked-Org-Id", "X-StateBacked-Act",
        "X-Client-Version",
    ]
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_lists_the_allowed_headers_whatever_was_asked(client: httpx.Client) -> None:
    """The browser compares what it wants to send with the list: a preflight for State
    Backed's client headers finds them, one for an unlisted header does not (and the browser
    then refuses to send the request)."""
    for asked in ("content-type,x-statebacked-org-id,x-statebacked-act", "x-not-listed", ""):
        headers = {
            "origin": ALLOWED, "access-control-request-method": "POST",
            "access-control-request-headers": asked,
        }
        response = client.options("/tokens", headers=headers)
        assert response.status_code == 204
        allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(", ")}
        assert {"x-statebacked-org-id", "x-statebacked-act", "x-request-id"} <= allowed
        assert "x-not-listed" not in allowed


def test_pages_may_read_the_request_id_and_the_revision(
    client: httpx.Client, world: World
) -> None:
    response = client.post(
        "/tokens", data=form(world.hs_token()),
        headers={"origin": ALLOWED, "x-request-id": "page-request-1"},
    )
    assert response.status_code == 200
    exposed = response.headers["access-control-expose-headers"].split(", ")
    assert exposed == ["X-Request-Id", "X-Tokensmith-Revision"]
    assert response.headers["x-request-id"] == "page-request-1"


def test_preflight_for_another_origin_or_method_has_no_cors_headers(client: httpx.Client) -> None:
    for response in (preflight(client, "https://evil.example.com"), preflight(client, ALLOWED, "PUT")):
        assert not [h for h in response.headers if h.startswith("access-control-allow")]


def test_actual_response_carries_cors_for_allowed_origin_only(
    client: httpx.Client, world: World
) -> None:
    ok = client.post("/tokens", data=form(world.hs_token()), headers={"origin": ALLOWED})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert "origin" in ok.headers["vary"].lower()
    refused = client.post("/tokens", data=form("x"), headers={"origin": ALLOWED})
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    other = client.post("/tokens", data=form(world.hs_token()), headers={"origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


def test_health_and_readiness(client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["identity_providers"] == 4


def test_every_response_carries_revision_and_request_id(client: httpx.Client) -> None:
    revision = client.get("/healthz").headers["x-tokensmith-revision"]
    for path in ("/healthz", "/readyz", "/metrics", "/idps", "/nope", "/.well-known/jwks.json"):
        response = client.get(path)
        assert response.headers["x-tokensmith-revision"] == revision
        assert response.headers["x-request-id"]
    assert client.delete("/idps").headers["x-tokensmith-revision"] == revision


def test_metrics_count_exchanges_by_outcome(client: httpx.Client, world: World) -> None:
    client.post("/tokens", data=form(world.hs_token()))
    client.post("/tokens", data=form(world.hs_token(exp=1)))
    text = client.get("/metrics").text
    assert 'tokensmith_exchanges_total{identity_provider="quickstart",outcome="issued",service="my-service"}' in text
    assert 'outcome="expired"' in text
    assert "tokensmith_exchange_duration_seconds_bucket" in text
    assert 'tokensmith_http_requests_total{route="/tokens",status="200"}' in text


def test_listings_in_state_backed_shape_without_secrets(client: httpx.Client, world: World) -> None:
    idps = client.get("/idps").json()["idps"]
    by_name = {entry["name"]: entry for entry in idps}
    assert by_name["quickstart"] == {
        "name": "quickstart", "iss": "https://login.example.com/", "aud": "tokensmith-tests",
        "algs": ["HS256"], "mapping": KEEP_MAPPING,
    }
    providers = client.get("/token-providers").json()["tokenProviders"]
    assert {"service": "my-service", "keyId": "sbk_test", "mapping": KEEP_MAPPING} in providers
    text = client.get("/idps").text + client.get("/token-providers").text
    for secret in world.env.values():
        assert secret not in text
    assert "IDP_SECRET" not in text


@pytest.mark.parametrize("path", ["/idps", "/token-providers", "/.well-known/jwks.json"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_to_listings_are_405(client: httpx.Client, path: str, method: str) -> None:
    response = client.request(method, path, json={"iss": "https://x/"})
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


class JwksServer:
    """A local JWKS endpoint whose keys (and availability) the test changes; counts fetches."""

    def __init__(self) -> None:
        server = self
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.up = True

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if not server.up:
                    self.send_response(503)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def remote_world(jwks: JwksServer) -> World:
    world = World()
    world.config["identity_providers"]["remote"] = idp(
        issuer="https://remote.example.com/", audience="remote-aud", algorithms=["RS256"],
        jwks_url=jwks.url,
    )
    return world


def remote_token(key: Any, kid: str, world: World) -> str:
    claims = world.claims(iss="https://remote.example.com/", aud="remote-aud")
    return jwt.encode(claims, key, "RS256", {"kid": kid})


@contextmanager
def serving_remote(
    jwks_server: JwksServer, tmp_path: Path
) -> Iterator[tuple[httpx.Client, World, rsa.RSAPrivateKey]]:
    """A real server trusting the remote provider, whose JWKS publishes one key, `k1`; yields
    a client once `/readyz` says the key is in (or after 5 s), the world and that key."""
    world = remote_world(jwks_server)
    first = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks_server.keys = [_public_jwk(first, "k1", "RS256")]
    with running(create_app(world.runtime(tmp_path / "b"))) as srv, httpx.Client(base_url=srv.url) as c:
        deadline = time.monotonic() + 5
        while c.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        yield c, world, first


def test_remote_jwks_rotation_is_picked_up_by_one_refetch(
    jwks_server: JwksServer, tmp_path: Path
) -> None:
    with serving_remote(jwks_server, tmp_path) as (c, world, first):
        assert c.get("/readyz").json()["jwks_identity_providers_ready"] == 1
        assert c.post("/tokens", data=form(remote_token(first, "k1", world))).status_code == 200
        fetches = jwks_server.fetches
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks_server.keys = [_public_jwk(rotated, "k2", "RS256")]
        response = c.post("/tokens", data=form(remote_token(rotated, "k2", world)))
        assert response.status_code == 200, response.text
        assert jwks_server.fetches == fetches + 1
        assert 'tokensmith_jwks_fetches_total{identity_provider="remote"' in c.get("/metrics").text


def test_same_kid_with_new_material_is_picked_up_by_one_refetch_then_refused(
    jwks_server: JwksServer, tmp_path: Path
) -> None:
    # C14: the provider reuses kid "k1" for a new key. The first token signed with the new key
    # fails against the cached key, causes one refetch and is accepted; a forged token under
    # the same kid right after causes no further fetch (cooldown) and is refused.
    with serving_remote(jwks_server, tmp_path) as (c, world, old):
        assert c.post("/tokens", data=form(remote_token(old, "k1", world))).status_code == 200
        fetches = jwks_server.fetches
        new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks_server.keys = [_public_jwk(new, "k1", "RS256")]
        response = c.post("/tokens", data=form(remote_token(new, "k1", world)))
        assert response.status_code == 200, response.text
        assert jwks_server.fetches == fetches + 1
        forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for _ in range(20):
            refused = c.post("/tokens", data=form(remote_token(forger, "k1", world)))
            assert refused.status_code == 400
            assert refused.json()["error"] == "invalid_request"
        assert jwks_server.fetches == fetches + 1
        # the key that was replaced is no longer accepted
        assert c.post("/tokens", data=form(remote_token(old, "k1", world))).status_code == 400


def test_a_kid_published_during_the_refetch_cooldown_is_503_never_400(
    jwks_server: JwksServer, tmp_path: Path
) -> None:
    # A key id nobody publishes causes one refetch and is refused (400), again within the
    # cooldown without a fetch. A key published after that refetch, used within the cooldown,
    # cannot be decided from the keys held: 503 with Retry-After, the generic code, no fetch.
    with serving_remote(jwks_server, tmp_path) as (c, world, first):
        fetches = jwks_server.fetches
        forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for _ in range(3):
            refused = c.post("/tokens", data=form(remote_token(forger, "nobody", world)))
            assert refused.status_code == 400
            assert refused.json()["code"] == "bad_signature"
        assert jwks_server.fetches == fetches + 1
        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwks_server.keys = [_public_jwk(first, "k1", "RS256"), _public_jwk(rotated, "k2", "RS256")]
        pending = c.post("/tokens", data=form(remote_token(rotated, "k2", world)))
        assert pending.status_code == 503, pending.text
        assert pending.json() == {
            "error": "temporarily_unavailable",
            "error_description": "signing keys of the identity provider are unavailable",
            "code": "keys_unavailable",
        }
        assert 1 <= int(pending.headers["retry-after"]) <= 30  # the rest of the cooldown
        assert jwks_server.fetches == fetches + 1
        assert c.post("/tokens", data=form(remote_token(first, "k1", world))).status_code == 200


def test_remote_jwks_down_at_start_gives_503_with_retry_after(
    jwks_server: JwksServer, tmp_path: Path
) -> None:
    world = remote_world(jwks_server)
    jwks_server.up = False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with running(create_app(world.runtime(tmp_path / "b"))) as srv, httpx.Client(base_url=srv.url) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["jwks_identity_providers_ready"] == 0
        started = time.monotonic()
        response = c.post("/tokens", data=form(remote_token(key, "k1", world)), timeout=10)
        assert response.status_code == 503
        assert response.json()["error"] == "temporarily_unavailable"
        assert int(response.headers["retry-after"]) > 0
        assert time.monotonic() - started < 5
        # other identity providers are not held up
        assert c.post("/tokens", data=form(world.hs_token())).status_code == 200
        assert c.get("/healthz").status_code == 200

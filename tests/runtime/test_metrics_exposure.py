"""`/metrics` stays small and a scrape never holds up `POST /tokens`, whatever clients send.

Anyone can post a malformed token naming any service, or a token for a JWKS provider whose keys
are not there: none of that may add a series per service or per provider. Only an exchange
whose signature verified is counted under its identity provider and service. The app is driven
in process through its ASGI interface (no network needed to count series or order answers).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tokensmith.runtime.app import create_app
from tokensmith.runtime.startup import prepare

from ..support.http_server import (
    _RSA_KEY,
    AUDIENCE_HS,
    ISSUER_HS,
    config,
    form,
    free_port,
    idp,
    token_provider,
    write_bundle,
)

SERVICES = [f"svc-{i:03d}" for i in range(120)]
SECRET = "metrics-exposure-identity-provider-secret-0123456789"
SIGNING = "metrics-exposure-signing-secret-0123456789-abcdef"


def _runtime(tmp_path: Path, jwks_port: int | None = None) -> Any:
    providers = {"hs": idp(issuer=ISSUER_HS, audience=AUDIENCE_HS, algorithms=["HS256"],
                           secret_env="IDP_SECRET")}
    if jwks_port is not None:
        providers["remote"] = idp(issuer="https://remote.example.com/", audience="remote-aud",
                                  algorithms=["RS256"],
                                  jwks_url=f"http://127.0.0.1:{jwks_port}/keys")
    bundle = write_bundle(tmp_path / "bundle", config(
        identity_providers=providers,
        token_providers={s: token_provider(s, "k") for s in SERVICES},
        signing_keys={"k": {"algorithm": "HS256", "secret": {"env": "SIGNING"},
                            "private_key": None}},
    ))
    return prepare(str(bundle), {"IDP_SECRET": SECRET, "SIGNING": SIGNING})


async def call(app: Any, method: str, path: str, body: bytes = b"",
               content_type: str = "application/x-www-form-urlencoded") -> tuple[int, bytes]:
    headers = [(b"host", b"test"), (b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": "",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "headers": headers}
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop() if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def post(token: str, service: str) -> bytes:
    from urllib.parse import urlencode
    return urlencode(form(token, service)).encode()


def hs_token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER_HS, "aud": AUDIENCE_HS, "sub": "u", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return jwt.encode(claims, SECRET, "HS256")


def hostile_tokens() -> list[str]:
    """Refused before any signature verifies: malformed, forged, unknown key, no keys yet."""
    now = int(time.time())
    forged = jwt.encode({"iss": ISSUER_HS, "aud": AUDIENCE_HS, "sub": "u", "exp": now + 60},
                        "not-the-secret-at-all-0123456789-0123456789", "HS256")
    remote = jwt.encode({"iss": "https://remote.example.com/", "aud": "remote-aud", "sub": "u",
                         "exp": now + 60}, _RSA_KEY, "RS256", {"kid": "k1"})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256"}).encode()).rstrip(b"=")
    return ["x", "a.b.c", header.decode() + ".e30.", forged, remote]


def exchange_series(text: bytes) -> list[dict[str, str]]:
    """The label sets of `tokensmith_exchanges_total`."""
    return [dict(sample.labels) for family in text_string_to_metric_families(text.decode())
            for sample in family.samples if sample.name == "tokensmith_exchanges_total"]


@pytest.mark.slow  # the remote provider's requests wait for its keys (2.5 s, a few times)
def test_hostile_requests_at_many_services_add_no_series(tmp_path: Path) -> None:
    app = create_app(_runtime(tmp_path, jwks_port=free_port()))

    async def scenario() -> tuple[list[str], list[int]]:
        statuses = []
        for token in hostile_tokens()[:-1]:
            answers = await asyncio.gather(*(call(app, "POST", "/tokens", post(token, s))
                                             for s in SERVICES))
            statuses += [status for status, _ in answers]
        # a provider without keys: each waits for them, so a few services are enough
        remote = hostile_tokens()[-1]
        answers = await asyncio.gather(*(call(app, "POST", "/tokens", post(remote, s))
                                         for s in SERVICES[:3]))
        statuses += [status for status, _ in answers]
        good = await call(app, "POST", "/tokens", post(hs_token(), SERVICES[7]))
        expired = await call(app, "POST", "/tokens",
                             post(hs_token(exp=int(time.time()) - 3600), SERVICES[8]))
        statuses += [good[0], expired[0]]
        return exchange_series((await call(app, "GET", "/metrics"))[1]), statuses

    series, statuses = asyncio.run(scenario())
    assert statuses.count(200) == 1 and 503 in statuses and 400 in statuses
    unlabelled = [s for s in series if s["identity_provider"] == s["service"] == ""]
    labelled = [s for s in series if s not in unlabelled]
    # 4 x 120 + 3 hostile requests: one series per refusal reason, none per service
    assert len(unlabelled) <= len(hostile_tokens()), series
    assert {s["outcome"] for s in unlabelled} >= {"bad_signature", "keys_unavailable"}
    assert sorted(labelled, key=lambda s: s["outcome"]) == [
        {"outcome": "expired", "identity_provider": "hs", "service": SERVICES[8]},
        {"outcome": "issued", "identity_provider": "hs", "service": SERVICES[7]},
    ]


def test_a_scrape_of_many_series_does_not_hold_up_tokens(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path)
    app = create_app(runtime)
    # a large config's worth of series (as if 100,000 label sets had been counted)
    for i in range(100_000):
        runtime.metrics.exchange("issued", f"idp-{i}", f"service-{i}", 0.001)
    order: list[str] = []

    async def scrape() -> None:
        status, body = await call(app, "GET", "/metrics")
        assert status == 200 and body.count(b"tokensmith_exchanges_total{") >= 100_000
        order.append("metrics")

    async def exchange() -> None:
        await asyncio.sleep(0.05)  # the scrape has started
        status, _ = await call(app, "POST", "/tokens", post(hs_token(), SERVICES[0]))
        assert status == 200
        order.append("tokens")

    async def both() -> None:
        await asyncio.gather(scrape(), exchange())

    asyncio.run(both())
    assert order == ["tokens", "metrics"]

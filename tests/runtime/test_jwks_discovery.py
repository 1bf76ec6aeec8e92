"""OIDC discovery of `jwks_uri` (`discovery: true`) against a real local server."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from tokensmith.runtime.errors import StartupError
from tokensmith.runtime.jwks import JwksCache

from ..support.jwks_server import (
    POLICY,
    FaultServer,
    Reply,
    TestKey,
    accepts,
    idp,
    jwks,
    running,
    until,
)

K1, K2 = TestKey("k1"), TestKey("k2")
WELL_KNOWN = "/.well-known/openid-configuration"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def configuration(issuer: str, jwks_uri: str) -> Reply:
    return Reply.json({"issuer": issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256"]})


@pytest.mark.slow
def test_discovery_finds_the_keys_through_the_configuration_document() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            issuer = server.url("/tenant/")
            server.set("/tenant" + WELL_KNOWN, configuration(issuer, server.url("/keys")))
            server.set("/keys", Reply.json(jwks(K1.jwk())))
            async with running(idp("a", None, discovery=True, issuer=issuer)) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert await accepts(cache, "a", K1)
                assert server.count("/tenant" + WELL_KNOWN) == 1
                assert server.count("/keys") == 1

    run(scenario())


@pytest.mark.slow
def test_discovery_follows_a_moved_jwks_uri_on_the_refresh_cycle() -> None:
    policy = dataclasses.replace(POLICY, ttl_min=0.2, refresh_ahead=1.0)

    async def scenario() -> None:
        with FaultServer() as server:
            issuer = server.url("")
            server.set(WELL_KNOWN, configuration(issuer, server.url("/keys")))
            server.set("/keys", Reply.json(jwks(K1.jwk()), cache_control="max-age=0"))
            server.set("/keys2", Reply.json(jwks(K2.jwk()), cache_control="max-age=0"))
            spec = idp("a", None, discovery=True, issuer=issuer)
            async with running(spec, policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set(WELL_KNOWN, configuration(issuer, server.url("/keys2")))
                await until(lambda: server.count("/keys2") >= 1)
                await until(lambda: cache.metrics_snapshot()["a"].fetches["ok"] >= 2)
                assert cache.source("a").candidates("k2", "RS256")
                assert server.count(WELL_KNOWN) == server.count("/keys") + server.count("/keys2")

    run(scenario())


BAD_CONFIGURATIONS = [
    pytest.param(lambda s: configuration(s.url(""), s.url("/keys")) , None, id="control"),
    pytest.param(lambda s: configuration(s.url("") + "/", s.url("/keys")), "discovery_issuer",
                 id="issuer-differs-by-a-slash"),
    pytest.param(lambda s: configuration("https://evil.example", s.url("/keys")),
                 "discovery_issuer", id="foreign-issuer"),
    pytest.param(lambda s: configuration(s.url(""), "http://evil.example/keys"),
                 "discovery_insecure_url", id="jwks-uri-plain-http"),
    pytest.param(lambda s: configuration(s.url(""), "https://evil.example:port/keys"),
                 "discovery_insecure_url", id="jwks-uri-bad-port"),
    pytest.param(lambda s: configuration(s.url(""), "https://evil.example/\r\nkeys"),
                 "discovery_insecure_url", id="jwks-uri-line-break"),
    pytest.param(lambda s: Reply.json({"issuer": s.url("")}), "discovery_document",
                 id="no-jwks-uri"),
    pytest.param(lambda s: Reply.json([s.url("")]), "discovery_document", id="not-an-object"),
    pytest.param(lambda s: Reply.raw(b"<html>login</html>", "text/html"),
                 "discovery_content_type", id="html"),
    pytest.param(lambda s: Reply.raw(b"", None, status=302, location=s.url("/evil")),
                 "discovery_redirect", id="redirect"),
    pytest.param(lambda s: Reply.hang(), "discovery_timeout", id="hang"),
    pytest.param(lambda s: Reply.stream(None, declare_length=False), "discovery_too_large",
                 id="endless"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("make", "kind"), BAD_CONFIGURATIONS)
def test_discovery_refuses_a_bad_configuration_document(make: Any, kind: str | None) -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set(WELL_KNOWN, make(server))
            server.set("/keys", Reply.json(jwks(K1.jwk())))
            server.set("/evil", Reply.json(jwks(K2.jwk())))
            spec = idp("a", None, discovery=True, issuer=server.url(""))
            async with running(spec) as cache:
                await until(lambda: cache.status()["a"].last_error is not None or cache.ready())
                assert cache.status()["a"].last_error == kind
                assert cache.ready() == (kind is None)
            assert server.count("/keys") == (1 if kind is None else 0)
            assert server.count("/evil") == 0

    run(scenario())


@pytest.mark.parametrize(("issuer", "allow", "problem"), [
    (None, True, "discovery needs an issuer"),
    ("http://idp.example", True, "discovery needs an https issuer"),
    ("http://127.0.0.1:9", False, "discovery needs an https issuer"),
])
def test_discovery_configuration_problems_are_refused_at_start_up(
    issuer: str | None, allow: bool, problem: str
) -> None:
    with pytest.raises(StartupError) as info:
        JwksCache([idp("a", None, discovery=True, issuer=issuer, allow_insecure_http=allow)])
    assert info.value.problems == [f"identity provider a: {problem}"]

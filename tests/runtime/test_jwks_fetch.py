"""JWKS fetch faults (attack catalogue group C01-C10, C18, C22, C23) against a real local server.

Each test drives `FaultServer` on 127.0.0.1 into one fault and checks what a user of the cache
sees (ready or not, a token accepted or a 503), and what the server saw (requests, bytes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from typing import Any

import pytest

from tokensmith.runtime.errors import KeysNotReady, StartupError
from tokensmith.runtime.jwks import JwksCache, JwksPolicy

from ..support.http_server import free_port
from ..support.jwks_server import (
    POLICY,
    FaultServer,
    Reply,
    TestKey,
    accepts,
    idp,
    jwks,
    refetch_allowed,
    running,
    tls_contexts,
    until,
)

K1 = TestKey("k1")
DEADLINE = POLICY.fetch_deadline
GOOD = Reply.json(jwks(K1.jwk()))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.slow
def test_c01_refused_at_cold_start_is_unavailable_then_recovers() -> None:
    port = free_port()

    async def scenario() -> None:
        async with running(idp("a", f"http://127.0.0.1:{port}/jwks")) as cache:
            await until(lambda: cache.status()["a"].last_error is not None)
            assert cache.status()["a"].last_error == "connect"
            assert not cache.ready()
            with pytest.raises(KeysNotReady):  # the app answers 503, never 400 or 500
                await accepts(cache, "a", K1)
            with FaultServer(port=port) as server:
                server.set("/jwks", GOOD)
                assert await cache.wait_ready("a", 2.0)
                assert cache.ready()
                assert await accepts(cache, "a", K1)
                assert server.count() == 1
            assert cache.metrics_snapshot()["a"].fetches["connect"] >= 2

    run(scenario())


@pytest.mark.slow
def test_c02_down_within_ttl_keeps_serving_known_keys() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", GOOD)
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", Reply.close())
                await cache.refetch_for_unknown_kid("a")  # a fetch that fails
                assert server.count() == 2
                assert cache.status()["a"].last_error == "protocol"
                assert cache.status()["a"].keys == 1
                assert cache.ready()
                assert await accepts(cache, "a", K1)

    run(scenario())


@pytest.mark.slow
def test_c03_down_after_ttl_serves_last_good_up_to_max_stale_then_503() -> None:
    policy = dataclasses.replace(POLICY, max_stale=1.0)

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk()), cache_control="max-age=0"))
            async with running(idp("a", server.url()), policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                fetched = time.monotonic()
                server.set("/jwks", Reply.close())
                await asyncio.sleep(0.4)  # past the 0.2 s TTL, within the 1 s staleness
                assert server.count() >= 3  # refreshes kept failing, with backoff
                assert cache.ready()
                assert await accepts(cache, "a", K1)
                await asyncio.sleep(1.25 - (time.monotonic() - fetched))
                assert not cache.ready()
                with pytest.raises(KeysNotReady):
                    await accepts(cache, "a", K1)
                assert cache.status()["a"].keys == 1  # never wiped, only too old to use
                server.set("/jwks", GOOD)
                assert await cache.wait_ready("a", 1.0)
                assert await accepts(cache, "a", K1)

    run(scenario())


@pytest.mark.slow
def test_c04_hanging_server_fails_at_the_deadline() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.hang())
            async with running(idp("a", server.url())) as cache:
                elapsed = await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "timeout"
                assert DEADLINE - 0.05 <= elapsed < DEADLINE + 2  # (a loaded machine)
                assert not cache.ready()

    run(scenario())


@pytest.mark.slow
def test_c05_slow_drip_does_not_beat_the_total_deadline() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            # One byte every 50 ms: each read is far within any per-read timeout.
            server.set("/jwks", Reply.drip(jwks(K1.jwk()), interval=0.05))
            async with running(idp("a", server.url())) as cache:
                elapsed = await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "timeout"
                assert DEADLINE - 0.05 <= elapsed < DEADLINE + 2  # (a loaded machine)
                assert server.bytes_sent() < 50  # of a ~450 byte body
                assert not cache.ready()

    run(scenario())


BAD_BODIES = [
    pytest.param(Reply.raw(b"<html><body>Sign in</body></html>", "text/html"), "content_type",
                 id="html-login-page"),
    pytest.param(Reply.raw(b"", "application/json"), "json", id="empty"),
    pytest.param(Reply.raw(b"<html></html>", "application/json"), "json", id="html-as-json"),
    pytest.param(Reply.raw(b'{"keys": [', "application/json"), "json", id="truncated"),
    pytest.param(Reply.raw(b'{"keys": []}\xff', None), "json", id="bad-utf8"),
    pytest.param(Reply.json([]), "document", id="list"),
    pytest.param(Reply.json(None), "document", id="null"),
    pytest.param(Reply.json({"keys": {}}), "document", id="keys-object"),
    pytest.param(Reply.json({"keys": []}), "no_usable_keys", id="no-keys"),
    pytest.param(Reply.json({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}), "no_usable_keys",
                 id="only-bad-keys"),
    pytest.param(Reply.raw(b"{}", "application/xml"), "content_type", id="xml"),
    pytest.param(dataclasses.replace(GOOD, headers={**GOOD.headers, "Content-Encoding": "gzip"}),
                 "content_encoding", id="gzip"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("bad", "kind"), BAD_BODIES)
def test_c06_bad_body_is_refused_whole_and_last_good_kept(bad: Reply, kind: str) -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", GOOD)
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", bad)
                await cache.refetch_for_unknown_kid("a")
                assert server.count() == 2
                assert cache.status()["a"].last_error == kind
                assert cache.status()["a"].keys == 1
                assert await accepts(cache, "a", K1)

    run(scenario())


@pytest.mark.slow
def test_c06_bad_body_at_cold_start_leaves_the_provider_unavailable() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.raw(b"<html>login</html>", "text/html"))
            async with running(idp("a", server.url())) as cache:
                assert not await cache.wait_ready("a", 0.3)
                with pytest.raises(KeysNotReady):
                    cache.source("a").candidates("k1", "RS256")

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize(("total", "declare_length"), [
    pytest.param(64 * 1024 * 1024, True, id="64MB-content-length"),
    pytest.param(64 * 1024 * 1024, False, id="64MB-streamed"),
    pytest.param(None, False, id="endless"),
])
def test_c07_huge_or_endless_body_is_aborted_at_the_cap(
    total: int | None, declare_length: bool
) -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.stream(total, declare_length=declare_length))
            async with running(idp("a", server.url())) as cache:
                await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "too_large"  # not a timeout
            await asyncio.sleep(0.05)  # let the server notice the closed connection
            # The client stopped at 256 KiB; the server got some more into socket buffers.
            assert server.bytes_sent() < 16 * 1024 * 1024

    run(scenario())


@pytest.mark.slow
def test_c07_body_just_under_the_cap_is_accepted_and_just_over_refused() -> None:
    document = jwks(K1.jwk())
    base = len(json.dumps({**document, "pad": ""}).encode())
    under = {**document, "pad": "x" * (POLICY.max_body_bytes - base)}
    over = {**document, "pad": "x" * (POLICY.max_body_bytes - base + 1)}

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(under))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", Reply.json(over))
                await cache.refetch_for_unknown_kid("a")
                assert cache.status()["a"].last_error == "too_large"

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 404, 502])
def test_c08_error_status_is_a_failure_retried_with_growing_backoff(status: int) -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.raw(b"oops", "text/plain", status=status))
            async with running(idp("a", server.url())) as cache:
                await until(lambda: server.count() >= 4)
                assert cache.status()["a"].last_error == f"http_{status}"
                assert not cache.ready()
                times = server.times()
                gaps = [b - a for a, b in itertools.pairwise(times)]
                # backoff 0.05 s doubling (0.05, 0.1, 0.2): no hammering of a failing server
                assert gaps[0] >= 0.045
                assert gaps[1] >= 0.09
                assert gaps[2] >= 0.18

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize(("status", "retry_after", "expected"),
                         [(429, "1", 1.0), (503, "86400", 1.0)], ids=["429", "503-clamped"])
def test_c08_retry_after_is_honoured_for_the_next_attempt(
    status: int, retry_after: str, expected: float
) -> None:
    policy = dataclasses.replace(POLICY, retry_after_max=1.0)

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.raw(b"slow down", "text/plain", status=status,
                                          retry_after=retry_after))
            async with running(idp("a", server.url()), policy=policy) as cache:
                await until(lambda: cache.status()["a"].last_error is not None)
                server.set("/jwks", GOOD)
                # Neither an unknown kid nor a waiting request may fetch before Retry-After.
                await cache.refetch_for_unknown_kid("a")
                assert not await cache.wait_ready("a", 0.5)
                assert server.count() == 1
                assert await cache.wait_ready("a", 2.0)
                times = server.times()
                assert len(times) == 2
                assert times[1] - times[0] >= expected - 0.02

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_c09_redirect_is_not_followed(status: int) -> None:
    async def scenario() -> None:
        with FaultServer() as target, FaultServer() as server:
            target.set("/jwks", GOOD)
            server.set("/jwks", Reply.raw(b"", None, status=status, location=target.url()))
            server.set("/meta", Reply.raw(b"", None, status=302,
                                          location="http://169.254.169.254/latest/meta-data"))
            async with running(idp("a", server.url()), idp("b", server.url("/meta"))) as cache:
                await until(lambda: all(s.last_error for s in cache.status().values()))
                assert cache.status()["a"].last_error == "redirect"
                assert cache.status()["b"].last_error == "redirect"
                assert not cache.ready()
            assert target.count() == 0

    run(scenario())


@pytest.mark.slow
def test_c10_untrusted_tls_certificate_is_refused_and_a_trusted_one_accepted() -> None:
    server_tls, client_tls = tls_contexts()

    async def scenario() -> None:
        with FaultServer(tls=server_tls) as server:
            server.set("/jwks", GOOD)
            spec = idp("a", server.url(), allow_insecure_http=False)
            async with running(spec) as cache:  # the system CAs do not know our test CA
                await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "tls"
                assert not cache.ready()
            async with running(spec, verify=client_tls) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert await accepts(cache, "a", K1)

    run(scenario())


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["expired", "wrong-host"])
def test_c10_expired_or_wrong_host_certificate_is_refused(fault: str) -> None:
    server_tls, client_tls = tls_contexts(expired=fault == "expired")

    async def scenario() -> None:
        with FaultServer(tls=server_tls) as server:
            server.set("/jwks", GOOD)
            url = server.url()
            if fault == "wrong-host":  # the certificate names 127.0.0.1 only
                url = url.replace("127.0.0.1", "localhost")
            spec = idp("a", url, allow_insecure_http=False)
            async with running(spec, verify=client_tls) as cache:
                await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "tls"
                assert not cache.ready()
            assert server.count() == 0  # refused before any request was sent

    run(scenario())


@pytest.mark.parametrize(("url", "allow"), [
    ("http://idp.example/jwks", True),
    ("http://127.0.0.1:9/jwks", False),
    ("ftp://idp.example/jwks", True),
    ("https:///jwks", True),
])
def test_c10_plain_http_is_refused_at_start_up(url: str, allow: bool) -> None:
    with pytest.raises(StartupError) as info:
        JwksCache([idp("a", url, allow_insecure_http=allow)])
    assert "identity provider a: jwks_url must be https" in str(info.value)


CACHE_HEADERS: dict[str, tuple[dict[str, str], float]] = {
    "max-age-0": ({"cache_control": "max-age=0"}, 0.2),
    "no-store": ({"cache_control": "no-store"}, 0.2),
    "no-cache": ({"cache_control": "no-cache, max-age=600"}, 0.2),
    "garbage-expires": ({"expires": "not a date"}, 0.2),
    "garbage-max-age": ({"cache_control": "max-age=zzz"}, 0.2),
    "one-year": ({"cache_control": "max-age=31536000"}, 0.6),
    "absent": ({}, 0.4),
}


@pytest.mark.slow
def test_c18_cache_headers_are_clamped() -> None:
    policy = dataclasses.replace(
        POLICY, ttl_min=0.2, ttl_max=0.6, ttl_default=0.4, refresh_ahead=1.0
    )
    async def scenario() -> None:
        with FaultServer() as server:
            specs = []
            for name, (headers, _) in CACHE_HEADERS.items():
                server.set(f"/{name}", Reply.json(jwks(K1.jwk()), **headers))
                specs.append(idp(name, server.url(f"/{name}")))
            async with running(*specs, policy=policy) as cache:
                assert all([await cache.wait_ready(name, 2.0) for name in CACHE_HEADERS])
                await asyncio.sleep(1.1)
                assert cache.ready()
            # One fetch per clamped TTL: never a refetch per second (or per request), never a
            # key set kept for a year. (A loaded machine may refresh late, never early.)
            for name, (_, ttl) in CACHE_HEADERS.items():
                times = server.times(f"/{name}")
                assert len(times) >= 2, name
                assert min(b - a for a, b in itertools.pairwise(times)) >= ttl - 0.02, name

    run(scenario())


def test_c18_default_policy_bounds() -> None:
    policy = JwksPolicy()
    assert policy.clamp_ttl(0) == 30
    assert policy.clamp_ttl(31_536_000) == 3600
    assert policy.clamp_ttl(None) == 600
    assert policy.clamp_ttl(120) == 120


@pytest.mark.slow
def test_c22_too_many_keys_refuse_the_set_and_keep_last_good() -> None:
    many = [K1.jwk(kid=f"k{i}") for i in range(POLICY.max_keys + 1)]

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json({"keys": many[: POLICY.max_keys]}))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert cache.status()["a"].keys == POLICY.max_keys
                server.set("/jwks", Reply.json({"keys": many}))
                await cache.refetch_for_unknown_kid("a")
                assert cache.status()["a"].last_error == "too_many_keys"
                await until(lambda: refetch_allowed(cache, "a"))
                server.set("/jwks", Reply.json({"keys": [{"kty": "EC"}] * 10_000}))
                await cache.refetch_for_unknown_kid("a")
                assert server.count() == 3
                assert cache.status()["a"].last_error == "too_many_keys"
                assert cache.status()["a"].keys == POLICY.max_keys
                assert await accepts(cache, "a", K1, kid="k7")

    run(scenario())


@pytest.mark.slow
def test_c23_duplicate_members_refuse_the_document() -> None:
    key = json.dumps(K1.jwk())
    duplicated_keys = f'{{"keys": [{key}], "keys": []}}'.encode()
    duplicated_n = f'{{"keys": [{key[:-1]}, "n": "AQAB"}}]}}'.encode()

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", GOOD)
            policy = dataclasses.replace(POLICY, unknown_kid_cooldown=0.0)
            async with running(idp("a", server.url()), policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                for body in (duplicated_keys, duplicated_n):
                    server.set("/jwks", Reply.raw(body))
                    await until(lambda: refetch_allowed(cache, "a"))  # backoff of the last failure
                    await cache.refetch_for_unknown_kid("a")
                    assert cache.status()["a"].last_error == "json"
                    assert await accepts(cache, "a", K1)
                assert server.count() == 3

    run(scenario())

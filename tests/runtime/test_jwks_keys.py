"""Keys from a JWKS: kid-less tokens, duplicates, rotation, floods, stampedes, removal, hygiene,
races and isolation (attack catalogue C11-C17, C19-C21, C24-C26), against a real local server.

Tokens are signed with real keys and verified through `source(name).candidates(...)`, following
the app's flow (`accepts`): one refetch on an unknown kid, a short wait when keys are not ready.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tokensmith.runtime.errors import KeyIdPending, KeysNotReady
from tokensmith.runtime.jwks import JwksCache, JwksCollector

from ..support.http_server import free_port
from ..support.jwks_server import (
    POLICY,
    FaultServer,
    Reply,
    TestKey,
    accepts,
    b64url,
    idp,
    jwks,
    refetch_allowed,
    running,
    until,
)

K1, K2, K3, K4, K5 = (TestKey(f"k{i}") for i in range(1, 6))
E1 = TestKey("e1", "ec")
BOTH = ("RS256", "ES256")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.slow
def test_c11_kidless_token_and_a_single_kidless_key() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk(kid=None))))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                for _ in range(50):
                    assert await accepts(cache, "a", K1, kid=None)
                assert not await accepts(cache, "a", K2, kid=None)  # a kid-less forgery
                assert server.count() == 1  # kid-less tokens never cause a refetch
                # A token naming a kid does not match a key without one: one refetch, refused.
                assert not await accepts(cache, "a", K1, kid="k1")
                assert server.count() == 2

    run(scenario())


@pytest.mark.slow
def test_c11_kidless_token_is_tried_against_a_few_compatible_keys_only() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/few", Reply.json(jwks(K1.jwk(), K2.jwk(), K3.jwk())))
            server.set("/many", Reply.json(jwks(*(k.jwk() for k in (K1, K2, K3, K4, K5)),
                                                E1.jwk())))
            specs = (idp("few", server.url("/few")), idp("many", server.url("/many"),
                                                         algorithms=BOTH))
            async with running(*specs) as cache:
                assert await cache.wait_ready("few", 2.0)
                assert await cache.wait_ready("many", 2.0)
                assert len(cache.source("few").candidates(None, "RS256")) == 3
                assert await accepts(cache, "few", K3, kid=None)
                # Five RSA keys are more than max_kidless_candidates (4): refused ...
                assert cache.source("many").candidates(None, "RS256") == []
                assert not await accepts(cache, "many", K5, kid=None)
                # ... while the one ES256 key is still found for a kid-less ES256 token.
                assert await accepts(cache, "many", E1, kid=None)
                assert server.count("/few") == server.count("/many") == 1

    run(scenario())


@pytest.mark.slow
def test_c12_duplicate_kid_tries_every_key_of_that_kid() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            # the wrong key first: "first match wins" would refuse K1's valid token
            server.set("/jwks", Reply.json(jwks(K2.jwk(kid="dup"), K1.jwk(kid="dup"))))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert len(cache.source("a").candidates("dup", "RS256")) == 2
                assert await accepts(cache, "a", K1, kid="dup")
                assert await accepts(cache, "a", K2, kid="dup")
                assert not await accepts(cache, "a", K3, kid="dup")
                assert server.count() == 1  # a known kid with a bad signature: no refetch

    run(scenario())


@pytest.mark.slow
def test_c13_rotation_is_accepted_after_exactly_one_refetch() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk())))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", Reply.json(jwks(K1.jwk(), K2.jwk())))
                assert await accepts(cache, "a", K2)
                assert server.count() == 2
                assert await accepts(cache, "a", K2)
                assert await accepts(cache, "a", K1)
                assert server.count() == 2
                assert cache.metrics_snapshot()["a"].unknown_kid_refetches == 1

    run(scenario())


@pytest.mark.slow
def test_c13_new_kid_within_the_cooldown_waits_for_the_cooldown() -> None:
    policy = dataclasses.replace(POLICY, unknown_kid_cooldown=1.0)

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk())))
            async with running(idp("a", server.url()), policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", Reply.json(jwks(K1.jwk(), K2.jwk())))
                assert await accepts(cache, "a", K2)
                server.set("/jwks", Reply.json(jwks(K1.jwk(), K2.jwk(), K3.jwk())))
                # Within the 1 s cooldown a second new kid cannot be decided: it may be newer
                # than the keys held, so it is answered 503 at once with the rest of the
                # cooldown as Retry-After (never a 400 blaming a good token), and no fetch.
                started = time.monotonic()
                with pytest.raises(KeyIdPending) as pending:
                    await accepts(cache, "a", K3)
                assert time.monotonic() - started < 0.3
                assert pending.value.status == 503 and pending.value.retry_after == 1
                assert pending.value.code == "keys_unavailable"
                assert server.count() == 2
                waited = await until(lambda: refetch_allowed(cache, "a"))
                assert waited > 0.3  # the rest of the cooldown
                assert await accepts(cache, "a", K3)
                assert server.count() == 3

    run(scenario())


@pytest.mark.slow
def test_c14_same_kid_with_new_material_after_one_rate_limited_refetch() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk(kid="a1"))))
            async with running(idp("a", server.url())) as cache:
                assert await cache.wait_ready("a", 2.0)
                server.set("/jwks", Reply.json(jwks(K2.jwk(kid="a1"))))
                assert not await accepts(cache, "a", K2, kid="a1")  # old material held
                # On a bad signature the app may ask for the same rate-limited refetch.
                await cache.refetch_for_unknown_kid("a")
                assert server.count() == 2
                assert await accepts(cache, "a", K2, kid="a1")
                assert not await accepts(cache, "a", K1, kid="a1")
                await cache.refetch_for_unknown_kid("a")  # within the cooldown: no fetch
                assert server.count() == 2

    run(scenario())


async def flood(
    cache: JwksCache, name: str, n: int, kids: list[str] | None = None
) -> tuple[list[float], Counter[str]]:
    """`n` concurrent tokens with random kids (or `kids`): the latency of each, and how many
    were refused (400) and how many answered pending (503); none may be accepted."""
    signed = K1.sign()

    async def one(kid: str) -> tuple[float, str]:
        start = time.monotonic()
        try:
            assert not await accepts(cache, name, K1, kid=kid, signed=signed)
        except KeyIdPending:
            return time.monotonic() - start, "pending"
        return time.monotonic() - start, "refused"

    chosen = kids or [secrets.token_hex(8) for _ in range(n)]
    results = await asyncio.gather(*(one(kid) for kid in chosen))
    return [latency for latency, _ in results], Counter(outcome for _, outcome in results)


@pytest.mark.slow
def test_c15_random_kid_flood_fetches_once_per_cooldown_and_fails_fast() -> None:
    # a 2 s cooldown: two floods of 1,000 fit in it even on a loaded machine
    policy = dataclasses.replace(POLICY, unknown_kid_cooldown=2.0)

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk())))
            async with running(idp("a", server.url()), policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                kids = [secrets.token_hex(8) for _ in range(1000)]
                _, outcomes = await flood(cache, "a", 1000, kids)
                assert server.count() == 2  # the 1,000 shared one refetch ...
                assert outcomes == {"refused": 1000}  # ... which did not find them: 400
                latencies, outcomes = await flood(cache, "a", 1000)
                assert server.count() == 2  # cooling down: no fetch at all ...
                assert max(latencies) < 0.5  # ... and no queueing behind the 2 s cooldown
                assert outcomes == {"pending": 1000}  # new kids cannot be decided yet: 503
                _, outcomes = await flood(cache, "a", 100, kids[:100])
                assert outcomes == {"refused": 100}  # kids the refetch did not find: still 400
                assert server.count() == 2
                await until(lambda: refetch_allowed(cache, "a"))
                _, outcomes = await flood(cache, "a", 1000)
                assert server.count() == 3
                assert outcomes == {"refused": 1000}
                assert cache.metrics_snapshot()["a"].unknown_kid_refetches == 2
                assert await accepts(cache, "a", K1)

    run(scenario())


@pytest.mark.slow
def test_c16_stampede_at_cold_start_makes_exactly_one_fetch() -> None:
    policy = dataclasses.replace(POLICY, fetch_deadline=3.0)  # no timeout on a loaded machine

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", dataclasses.replace(Reply.json(jwks(K1.jwk())), delay=0.2))
            async with running(idp("a", server.url()), policy=policy) as cache:
                signed = K1.sign()
                results = await asyncio.gather(
                    *(accepts(cache, "a", K1, signed=signed, wait=3.0) for _ in range(500))
                )
                assert all(results)
                assert server.count() == 1

    run(scenario())


@pytest.mark.slow
def test_c16_stampede_on_a_down_provider_is_bounded_by_the_backoff() -> None:
    port = free_port()

    async def scenario() -> None:
        async with running(idp("a", f"http://127.0.0.1:{port}/jwks")) as cache:
            signed = K1.sign()
            results = await asyncio.gather(
                *(accepts(cache, "a", K1, signed=signed, wait=0.6) for _ in range(500)),
                return_exceptions=True,
            )
            assert all(isinstance(r, KeysNotReady) for r in results)  # 503s, not 400s
            # 0.6 s of backoff 0.05, 0.1, 0.2, 0.2 ...: a handful of attempts, not 500
            assert 3 <= cache.metrics_snapshot()["a"].fetches["connect"] <= 6

    run(scenario())


@pytest.mark.slow
def test_c17_removed_key_is_refused_within_one_ttl() -> None:
    policy = dataclasses.replace(POLICY, ttl_min=1.0)  # max-age=0 -> 1 s

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk(), K2.jwk()), cache_control="max-age=0"))
            async with running(idp("a", server.url()), policy=policy) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert await accepts(cache, "a", K2)
                server.set("/jwks", Reply.json(jwks(K1.jwk()), cache_control="max-age=0"))
                removed = time.monotonic()
                await until(lambda: "k2" not in _kids(cache))
                assert time.monotonic() - removed <= policy.ttl_min + 0.2
                assert not await accepts(cache, "a", K2)
                assert await accepts(cache, "a", K1)

    run(scenario())


def _kids(cache: JwksCache) -> set[str]:
    found = set()
    for kid in ("k1", "k2"):
        try:
            if cache.source("a").candidates(kid, "RS256"):
                found.add(kid)
        except Exception:
            pass
    return found


def _rsa_jwk(kid: str, bits: int) -> dict[str, str]:
    n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    return {"kty": "RSA", "kid": kid, "n": b64url(n.to_bytes(bits // 8, "big")), "e": "AQAB"}


BAD_KEYS: list[tuple[dict[str, Any], str]] = [
    (K2.private_jwk() | {"kid": "private"}, "private_key"),
    ({"kty": "oct", "kid": "hs", "k": b64url(b"s" * 32)}, "symmetric_key"),
    (K2.jwk(kid="enc", use="enc"), "not_for_signatures"),
    (K2.jwk(kid="ops", key_ops=["encrypt"]), "not_for_signatures"),
    (E1.jwk(kid="ec-rs", alg="RS256"), "alg_mismatch"),
    ({"kty": "XYZ", "kid": "xyz"}, "unknown_kty"),
    ({**E1.jwk(kid="p192"), "crv": "P-192"}, "unknown_crv"),
    (K2.jwk(kid="e1", e="AQ"), "weak_key"),
    (K2.jwk(kid="b64", n="!!!not base64!!!"), "bad_member"),
    (_rsa_jwk("small", 1024), "weak_key"),
    (_rsa_jwk("huge", 16384), "weak_key"),
]


@pytest.mark.slow
def test_c19_c20_c21_bad_keys_are_dropped_counted_logged_once_good_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tokensmith.jwks")
    document = jwks(*(jwk for jwk, _ in BAD_KEYS), K1.jwk())

    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(document))
            spec = idp("a", server.url(), algorithms=(*BOTH, "HS256"))
            async with running(spec) as cache:
                assert await cache.wait_ready("a", 2.0)
                assert cache.status()["a"].keys == 1
                assert await accepts(cache, "a", K1)
                # the private key's owner, and an HS256 token keyed with the published `k`
                assert not await accepts(cache, "a", K2, kid="private")
                with pytest.raises(KeyIdPending):  # never a key: pending while cooling down
                    cache.source("a").candidates("hs", "HS256")
                await until(lambda: refetch_allowed(cache, "a"))
                await cache.refetch_for_unknown_kid("a")  # the same set again
                assert server.count() == 3
                expected: dict[str, int] = {}
                for _, reason in BAD_KEYS:
                    expected[reason] = expected.get(reason, 0) + 1
                assert dict(cache.metrics_snapshot()["a"].dropped_keys) == expected

    run(scenario())
    drops = [r.getMessage() for r in caplog.records if "dropped a published key" in r.message]
    assert len(drops) == len(BAD_KEYS)  # once per key, not once per fetch
    logged = caplog.text
    assert K2.private_jwk()["d"] not in logged and K2.jwk()["n"] not in logged


@pytest.mark.slow
def test_c24_first_request_racing_the_initial_fetch_waits_then_succeeds() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", dataclasses.replace(Reply.json(jwks(K1.jwk())), delay=0.3))
            async with running(idp("a", server.url())) as cache:
                with pytest.raises(KeysNotReady):  # waited 0.1 s: a 503, never a 400
                    await accepts(cache, "a", K1, wait=0.1)
                started = time.monotonic()
                assert await accepts(cache, "a", K1)
                assert 0.1 <= time.monotonic() - started < 1.0
                assert server.count() == 1

    run(scenario())


async def max_tick_gap(seconds: float) -> float:
    """The longest gap between 10 ms ticks of a coroutine over `seconds`."""
    worst, last, end = 0.0, time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        worst, last = max(worst, now - last), now
    return worst


@pytest.mark.slow
def test_c25_c26_a_hung_provider_delays_neither_the_loop_nor_another_provider() -> None:
    policy = dataclasses.replace(POLICY, fetch_deadline=2.0)

    async def scenario() -> None:
        with FaultServer() as hung, FaultServer() as good:
            hung.set("/jwks", Reply.hang())
            good.set("/jwks", Reply.json(jwks(K1.jwk())))
            specs = (idp("a", hung.url()), idp("b", good.url()))
            async with running(*specs, policy=policy) as cache:
                assert await cache.wait_ready("b", 2.0)
                ticks = asyncio.create_task(max_tick_gap(0.6))
                latencies = []
                for _ in range(20):
                    started = time.monotonic()
                    assert await accepts(cache, "b", K1)
                    latencies.append(time.monotonic() - started)
                    await asyncio.sleep(0.02)
                # A blocking fetch would stall everything for the 2 s deadline; the bound
                # leaves room for a loaded test machine.
                assert await ticks < 0.5
                assert max(latencies) < 0.5
                assert not cache.ready()
                await until(lambda: cache.status()["a"].last_error is not None)
                assert cache.status()["a"].last_error == "timeout"

    run(scenario())


@pytest.mark.slow
def test_c26_a_flooded_slow_provider_does_not_slow_another() -> None:
    async def scenario() -> None:
        with FaultServer() as slow, FaultServer() as good:
            slow.set("/jwks", Reply.json(jwks(K1.jwk())))
            good.set("/jwks", Reply.json(jwks(K2.jwk())))
            async with running(idp("a", slow.url()), idp("b", good.url())) as cache:
                assert await cache.wait_ready("a", 2.0) and await cache.wait_ready("b", 2.0)
                slow.set("/jwks", dataclasses.replace(Reply.json(jwks(K1.jwk())), delay=0.8))
                flooding = asyncio.create_task(flood(cache, "a", 500))
                await asyncio.sleep(0.05)  # the flood now waits on a's slow refetch
                started = time.monotonic()
                assert await accepts(cache, "b", K2)
                assert time.monotonic() - started < 0.4  # a's refetch takes 0.8 s
                assert not flooding.done()
                await flooding
                assert slow.count() == 2 and good.count() == 1

    run(scenario())


@pytest.mark.slow
def test_metrics_and_status_show_no_urls_and_render_for_prometheus() -> None:
    async def scenario() -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk(), {"kty": "oct", "k": "eHh4"})))
            async with running(idp("a", server.url()), idp("down", server.url("/nope"))) as cache:
                assert await cache.wait_ready("a", 2.0)
                await until(lambda: cache.status()["down"].last_error is not None)
                assert not await accepts(cache, "a", K2)
                registry = CollectorRegistry()
                registry.register(JwksCollector(cache.metrics_snapshot))
                text = generate_latest(registry).decode()
                status = repr(cache.status())
        assert 'tokensmith_jwks_fetches_total{identity_provider="a",result="ok"} 2.0' in text
        assert 'tokensmith_jwks_fetches_total{identity_provider="down",result="http_404"}' in text
        assert 'tokensmith_jwks_keys{identity_provider="a"} 1.0' in text
        assert 'tokensmith_jwks_unknown_kid_refetches_total{identity_provider="a"} 1.0' in text
        assert ('tokensmith_jwks_dropped_keys_total{identity_provider="a",'
                'reason="symmetric_key"} 1.0') in text
        assert 'tokensmith_jwks_key_set_age_seconds{identity_provider="a"}' in text
        assert 'tokensmith_jwks_ready{identity_provider="down"} 0.0' in text
        assert "127.0.0.1" not in text and "127.0.0.1" not in status
        assert "last_error='http_404'" in status

    run(scenario())


@pytest.mark.slow
def test_lifecycle_waiting_before_start_twice_started_and_closing_during_a_hang() -> None:
    async def scenario() -> None:
        with FaultServer() as server, FaultServer() as hung:
            server.set("/jwks", Reply.json(jwks(K1.jwk())))
            hung.set("/jwks", Reply.hang())
            cache = JwksCache([idp("a", server.url()), idp("h", hung.url())], policy=POLICY)
            assert cache.names == ("a", "h")
            waiting = asyncio.create_task(cache.wait_ready("a", 2.0))
            await asyncio.sleep(0.05)
            assert server.count() == 0  # nothing is fetched before start()
            await cache.start()
            await cache.start()
            assert await waiting
            await until(lambda: hung.count() == 1)
            started = time.monotonic()
            await cache.aclose()  # the hung fetch is cancelled, not waited for
            assert time.monotonic() - started < 0.5  # the fetch deadline is 1 s
            await cache.aclose()
            assert server.count() == 1

    run(scenario())

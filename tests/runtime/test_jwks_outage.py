"""An hour of JWKS outage, and then a day, in a few seconds: the event loop's clock is virtual.

`VirtualClockLoop` is an asyncio event loop whose `time()` runs with the real clock plus an
offset that the test moves forward. The JWKS cache is given the same clock, so its snapshot
ages, its timers (refresh, backoff, `Retry-After`) and httpx's fetch deadline all see the jumps,
while the fetches themselves are real HTTP to a real server on 127.0.0.1 that answers 503 for
half an hour and then hangs. Nothing waits for the hours to pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from tokensmith.runtime.errors import KeysNotReady, TemporarilyUnavailable
from tokensmith.runtime.jwks import DEFAULT_POLICY, JwksCache

from ..support.jwks_server import FaultServer, Reply, TestKey, accepts, idp, jwks

# a real JWKS server listens on 127.0.0.1, so the test is marked slow; it takes a few seconds
pytestmark = pytest.mark.slow

K1 = TestKey("k1")  # published before the outage
K2 = TestKey("k2")  # published during the outage, never fetched
TTL = 300  # the JWKS server's Cache-Control: max-age
STEP = 30.0  # virtual seconds per step through the outage hour


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock the test can move forward (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def time(self) -> float:
        return super().time() + self.offset

    async def advance(self, seconds: float, settled: Callable[[], bool] = lambda: True) -> None:
        """Jump `seconds` ahead, let the timers that fell due run, and wait (real time, at most a
        second) until `settled()`: the real I/O they started has got where it goes."""
        self.offset += seconds
        give_up = time.monotonic() + 1.0
        await asyncio.sleep(0.002)
        while not settled() and time.monotonic() < give_up:
            await asyncio.sleep(0.002)


def fetch_settled(
    cache: JwksCache, name: str, server: FaultServer, *, hanging: bool = False
) -> Callable[[], bool]:
    """No fetch of `name` in flight; or, when the server `hanging` holds every request, the
    server has received it (the next jump times it out, as a hang ends in production).

    The one look inside the cache: without it a fetch started just before the next jump would
    be timed out by the jump before the server could answer."""
    received = server.count()
    state = cache._states[name]
    return lambda: state.inflight is None or (hanging and server.count() > received)


def run_virtual(scenario: Callable[[VirtualClockLoop], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, VirtualClockLoop)
        runner.run(scenario(loop))


def test_last_good_keys_serve_through_an_hour_of_outage_and_stop_at_the_staleness_limit() -> None:
    policy = DEFAULT_POLICY  # the shipped defaults: a day of staleness, 60 s of backoff at most

    async def scenario(loop: VirtualClockLoop) -> None:
        with FaultServer() as server:
            server.set("/jwks", Reply.json(jwks(K1.jwk()), cache_control=f"max-age={TTL}"))
            cache = JwksCache([idp("a", server.url())], policy=policy, clock=loop.time)
            await cache.start()
            try:
                assert await cache.wait_ready("a", 5.0)
                fetched_at = loop.time()
                before = server.count()

                # the hour: 503 with Retry-After for 30 minutes, then a server that hangs
                server.set("/jwks", Reply.raw(b"down", "text/plain", status=503,
                                              retry_after="120"))
                outage_started = loop.time()
                while loop.time() - outage_started < 3600:
                    hanging = loop.time() - outage_started >= 1800
                    if hanging:
                        server.set("/jwks", Reply.hang())
                    await loop.advance(STEP, fetch_settled(cache, "a", server, hanging=hanging))
                    assert cache.ready()
                    assert await accepts(cache, "a", K1)  # a token under a known key: served
                    # a key published during the outage cannot be learnt: 503, never a 400 (the
                    # request may join a refetch, which a hanging server ends at its deadline)
                    probe = asyncio.create_task(accepts(cache, "a", K2, wait=0.01))
                    await loop.advance(0, (lambda: True) if hanging else probe.done)
                    if not probe.done():
                        await loop.advance(policy.fetch_deadline, probe.done)
                    with pytest.raises(KeysNotReady) as unavailable:
                        await probe
                    assert isinstance(unavailable.value, TemporarilyUnavailable)
                    assert unavailable.value.status == 503
                attempts = server.count() - before
                # kept trying all hour, paced by Retry-After (15 in the first half hour) and by
                # backoff after hangs: no storm (one attempt per step would be 120), no giving up
                assert 25 <= attempts <= 60, attempts
                assert cache.status()["a"].consecutive_failures == attempts
                assert cache.status()["a"].keys == 1

                # on to the staleness limit: the held keys' time to live plus max_stale
                limit = fetched_at + TTL + policy.max_stale
                while loop.time() < limit - 2 * 3600:
                    await loop.advance(3600, fetch_settled(cache, "a", server, hanging=True))
                    assert cache.ready() and await accepts(cache, "a", K1)
                await loop.advance(limit - 1 - loop.time())
                assert cache.ready() and await accepts(cache, "a", K1)
                await loop.advance(2)
                assert not cache.ready()
                with pytest.raises(KeysNotReady):  # answered 503 with Retry-After
                    cache.source("a").candidates("k1", "RS256")

                # the server comes back: the next attempt (backoff at most 60 s) restores service
                server.set("/jwks", Reply.json(jwks(K1.jwk(), K2.jwk())))
                back = loop.time()
                while not cache.ready() and loop.time() - back < 600:
                    await loop.advance(STEP, fetch_settled(cache, "a", server))
                # within one backoff and one fetch deadline (and a step of the harness)
                assert loop.time() - back <= policy.backoff_max + policy.fetch_deadline + STEP
                assert await accepts(cache, "a", K1) and await accepts(cache, "a", K2)
            finally:
                await cache.aclose()

    run_virtual(scenario)


def test_the_virtual_clock_moves_asyncio_timers_and_the_cache_together() -> None:
    """The harness itself: a day's jump fires a day-long timer at once, in real milliseconds."""

    async def scenario(loop: VirtualClockLoop) -> None:
        fired = asyncio.Event()
        loop.call_later(86400, fired.set)
        started = asyncio.get_running_loop().time()
        await loop.advance(86400)
        assert fired.is_set()
        assert loop.time() - started >= 86400

    run_virtual(scenario)

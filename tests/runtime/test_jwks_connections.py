"""Every connection a JWKS fetch opens is closed, however the fetch ends.

A fetch cut short (its deadline, or the cache shutting down) while the TLS handshake is under way
must still close its socket: left open, it stays watched by the event loop for as long as the
process runs, one more at each retry against an IdP whose TLS stalls. The server here is a real
one on 127.0.0.1 that accepts TCP and never answers the ClientHello (a plain HTTP `FaultServer`
behind an https URL), so every fetch ends in the handshake; it counts the connections whose
client has not closed its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import Iterator

import httpx
import pytest
import uvloop

from tokensmith.runtime._jwks_http import FetchError, Limits, fetch_json

from ..support.jwks_server import POLICY, FaultServer, Reply, idp, running, tls_contexts, until

pytestmark = pytest.mark.slow

_, CLIENT_TLS = tls_contexts()  # whom it trusts does not matter: no certificate ever comes
LIMITS = Limits(deadline=0.2, max_bytes=10_000, allow_insecure_http=False)


def stalled_tls_url(server: FaultServer) -> str:
    server.set("/jwks", Reply.hang())  # were a request ever to arrive
    return server.url().replace("http://", "https://", 1)


@contextlib.contextmanager
def nothing_left_unclosed() -> Iterator[None]:
    """Fail if a socket or transport is freed unclosed in the block or by a collection at its end
    (uvloop closes a transport it frees, but warns: that is a leak too)."""
    gc.collect()  # what earlier tests left is theirs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}  # uvloop: `serve`'s


@pytest.mark.parametrize("loop", LOOPS)
def test_a_tls_handshake_cut_by_the_deadline_closes_its_connection(loop: str) -> None:
    async def scenario(server: FaultServer) -> None:
        url = stalled_tls_url(server)
        async with httpx.AsyncClient(verify=CLIENT_TLS) as client:
            for _ in range(3):
                with pytest.raises(FetchError) as info:
                    await fetch_json(client, url, LIMITS)
                assert info.value.kind == "timeout"
            # while the event loop still runs, as in a server: the sockets are closed now,
            # not whenever the process exits
            await until(lambda: server.accepted() == 3 and server.open_connections() == 0)

    with nothing_left_unclosed(), FaultServer() as server:
        with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
            runner.run(scenario(server))
        assert server.bytes_received() > 0  # ClientHellos: each was cut in its handshake
        assert server.count() == 0  # no request was ever sent


@pytest.mark.parametrize("loop", LOOPS)
def test_a_tls_handshake_cut_by_the_cache_shutting_down_closes_its_connection(loop: str) -> None:
    async def scenario(server: FaultServer) -> None:
        spec = idp("a", stalled_tls_url(server), allow_insecure_http=False)
        async with running(spec, verify=CLIENT_TLS) as cache:
            await until(lambda: server.bytes_received() > 0)  # the first fetch's ClientHello
            assert not cache.ready()
        assert server.accepted() == 1  # shut down before its deadline: no timeout, no retry
        await until(lambda: server.open_connections() == 0)

    assert POLICY.fetch_deadline >= 1.0  # the shutdown, not the deadline, ends the handshake
    with (
        nothing_left_unclosed(),
        FaultServer() as server,
        asyncio.Runner(loop_factory=LOOPS[loop]) as runner,
    ):
        runner.run(scenario(server))

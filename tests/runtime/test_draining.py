"""The drain as the app serves it (`runtime.shutdown`): once it begins, `/readyz` answers 503
`draining` and every answer closes its connection, while requests are still served. The
signal and the process's exit are tested through `tokensmith serve` in
tests/cli/test_serve_shutdown.py."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tokensmith.runtime.app import create_app
from tokensmith.runtime.cors import CorsPolicy
from tokensmith.runtime.envelope import Envelope
from tokensmith.runtime.metrics import Metrics
from tokensmith.runtime.shutdown import Drain

from ..support.http_server import World, form, running


def test_an_envelope_that_closes_connections_says_so_on_every_answer() -> None:
    envelope = Envelope("0" * 64, CorsPolicy([]), Metrics("0" * 64))
    scope = {"method": "POST", "path": "/tokens", "headers": []}
    assert (b"connection", b"close") not in envelope.begin(scope).answer_headers
    envelope.close_connections()
    assert (b"connection", b"close") in envelope.begin(scope).answer_headers


def test_a_drain_without_seconds_takes_no_signal() -> None:
    before = signal.getsignal(signal.SIGTERM)
    Drain(None).install()  # outside an event loop too: it must not even look for one
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.slow
def test_draining_fails_readiness_and_closes_connections_but_serves(tmp_path: Path) -> None:
    world = World()
    drain = Drain(5.0)
    with running(create_app(world.runtime(tmp_path / "b"), drain)) as server, \
            httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/readyz").status_code == 200
        before = client.post("/tokens", data=form(world.hs_token()))
        assert before.status_code == 200 and "connection" not in before.headers
        drain.begin()
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "draining"
        assert "retry-after" not in ready.headers
        assert ready.headers["connection"] == "close"
        issued = client.post("/tokens", data=form(world.hs_token()))
        assert issued.status_code == 200, issued.text
        assert issued.headers["connection"] == "close"
        refused = client.post("/tokens", data=form("not-a-token"))
        assert refused.status_code == 400 and refused.headers["connection"] == "close"
        assert client.get("/healthz").headers["connection"] == "close"


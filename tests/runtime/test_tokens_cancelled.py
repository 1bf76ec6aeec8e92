"""`POST /tokens` when the request is cancelled or its batch is abandoned: still counted and
logged, and an abandoned batch item answers like any unexpected error (never a 500)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tokensmith.runtime.app import create_app
from tokensmith.runtime.startup import Runtime

from ..support.http_server import World, form

SCOPE: dict[str, Any] = {
    "type": "http", "method": "POST", "path": "/tokens", "raw_path": b"/tokens",
    "query_string": b"", "http_version": "1.1", "scheme": "http", "root_path": "",
    "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
    "headers": [(b"host", b"test"), (b"content-type", b"application/x-www-form-urlencoded")],
}


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture()
def runtime(world: World, tmp_path: Path) -> Runtime:
    return world.runtime(tmp_path / "bundle")


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "tokensmith.access"]


@pytest.mark.slow
def test_a_request_cancelled_while_reading_its_body_is_counted_and_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def main() -> None:
        request = asyncio.ensure_future(app(dict(SCOPE), receive, send))
        await asyncio.sleep(0.05)
        request.cancel()  # e.g. the end of a shutdown's grace period
        with pytest.raises(asyncio.CancelledError):
            await request

    with caplog.at_level(logging.INFO, logger="tokensmith.access"):
        asyncio.run(main())
    assert sent == []
    (line,) = _access_lines(caplog)
    assert (line["status"], line["outcome"], line["path"]) == (0, "cancelled", "/tokens")
    text = runtime.metrics.render().decode()
    assert 'tokensmith_exchanges_total{identity_provider="",outcome="cancelled",service=""} 1.0' in text
    assert 'tokensmith_http_requests_total{route="/tokens",status="0"} 1.0' in text


def test_an_abandoned_batch_item_answers_as_an_unexpected_error(
    runtime: Runtime, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """When the batch stops on an exception that is not an `Exception`, it cancels the items it
    did not run; their requests, which nobody cancelled, get the generic refusal."""

    class Abandoning:
        def submit(self, request: object) -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.cancel()
            return future

    object.__setattr__(runtime, "batcher", Abandoning())
    app = create_app(runtime)
    body = "&".join(f"{k}={v}" for k, v in form(world.hs_token()).items()).encode()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO, logger="tokensmith.access"):
        asyncio.run(app(dict(SCOPE), receive, send))
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {
        "error": "invalid_request", "error_description": "request could not be processed",
        "code": "internal_error",
    }
    (line,) = _access_lines(caplog)
    assert (line["status"], line["outcome"]) == (400, "internal_error")

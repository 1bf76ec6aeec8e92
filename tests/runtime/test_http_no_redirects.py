"""No answer is built from the client's `Host`, and no route answers Starlette's plain 500.

Starlette's router would answer `GET /idps/` with `307 Location: http://<Host>/idps`: behind a
shared cache, one client's forged `Host` would be kept and served to everyone. And Starlette's
error middleware would answer an exception in a route with a plain-text 500 before the app's
own catch-all could give the JSON answer every other failure gets.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.runtime.app import create_app

from ..support.http_server import World
from .test_metrics_exposure import call

SLASHED = ["/idps/", "/.well-known/jwks.json/", "/token-providers/", "/healthz/", "/readyz/",
           "/metrics/", "/tokens/"]


@pytest.mark.slow  # a real server: the Host header as uvicorn hands it over
@pytest.mark.parametrize("path", SLASHED)
def test_a_trailing_slash_is_not_redirected_to_the_clients_host(
    client: httpx.Client, path: str
) -> None:
    response = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert b"evil.example" not in response.content


def _broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("secret detail of the failure")


# what each route calls, made to fail
BREAK = {
    "/readyz": ("tokensmith.runtime.startup.Runtime.ready", _broken),
    "/metrics": ("tokensmith.runtime.metrics.generate_latest", _broken),
    "/idps": ("starlette.requests.Request.method", property(_broken)),
}


@pytest.mark.parametrize("route", list(BREAK))
def test_an_exception_in_a_route_is_a_json_503_not_a_plain_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    app = create_app(World().runtime(tmp_path / "bundle"))
    target, replacement = BREAK[route]
    monkeypatch.setattr(target, replacement)
    status, body = asyncio.run(call(app, "GET", route))
    assert status == 503, body
    assert json.loads(body)["error"] == "temporarily_unavailable"
    assert b"secret detail" not in body and b"Internal Server Error" not in body

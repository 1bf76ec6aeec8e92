"""A real browser (Debian's chromium-headless-shell, driven by Playwright for Python) on one
loopback origin exchanging at `tokensmith serve` on another: form and JSON bodies, and State
Backed's client from its own browser bundle. The listed origin reads the token and the exposed
headers; an unlisted origin, and a header that no one allowed, are blocked by the browser itself.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .world import ORG, SERVICE, Peer, installed_peer, require_tool

pytestmark = pytest.mark.slow

CLIENT_BUNDLE = "node_modules/@statebacked/client/browser/esm/statebacked-client.js"

PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>peer app</title></head><body>peer app</body></html>
"""

# fetch() at /tokens from the page; what the page can see of the answer, or the browser's error
EXCHANGE = """async ({url, body, headers}) => {
  try {
    const response = await fetch(url + "/tokens", {method: "POST", headers, body});
    return {
      status: response.status,
      body: await response.json(),
      requestId: response.headers.get("x-request-id"),
      revision: response.headers.get("x-tokensmith-revision"),
      date: response.headers.get("date"),
    };
  } catch (err) {
    return {blocked: err.name + ": " + err.message};
  }
}"""

# State Backed's client, imported from its browser bundle on the page's origin
CLIENT = """async ({url, org, service, token, actAs}) => {
  const {StateBackedClient} = await import("/statebacked-client.js");
  const client = new StateBackedClient(
    {identityProviderToken: token, orgId: org, tokenProviderService: service},
    {apiHost: url, orgId: org, actAs},
  );
  try {
    return {ok: true, token: await client.token()};
  } catch (err) {
    return {ok: false, name: err.name, status: err.status, code: err.code, message: err.message};
  }
}"""


class _Pages(http.server.ThreadingHTTPServer):
    """The app's origin: the page, and State Backed's client bundle, on a loopback port."""

    def __init__(self, client_bundle: bytes) -> None:
        self.files = {
            "/": ("text/html; charset=utf-8", PAGE),
            "/statebacked-client.js": ("text/javascript; charset=utf-8", client_bundle),
        }
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"


class _PageHandler(http.server.BaseHTTPRequestHandler):
    server: _Pages

    def do_GET(self) -> None:
        found = self.server.files.get(self.path)
        if found is None:
            self.send_error(404)
            return
        content_type, content = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[_Pages, _Pages]]:
    """Two app origins: the first is listed in `cors.allow_origins`, the second is not."""
    bundle = (installed_peer() / CLIENT_BUNDLE).read_bytes()
    servers = (_Pages(bundle), _Pages(bundle))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield servers
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(5)


@pytest.fixture(scope="module")
def peer() -> Peer:
    return Peer()


@pytest.fixture(scope="module")
def server(
    peer: Peer, origins: tuple[_Pages, _Pages], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    listed, _ = origins
    with peer.serving(
        tmp_path_factory.mktemp("browser"), [listed.origin], allow_headers=["X-Client-Version"]
    ) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_tool("chromium-headless-shell")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser: Browser, origin: str) -> Iterator[Page]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/")
        yield page
    finally:
        context.close()


@pytest.fixture()
def listed_page(browser: Browser, origins: tuple[_Pages, _Pages]) -> Iterator[Page]:
    yield from _page(browser, origins[0].origin)


@pytest.fixture()
def unlisted_page(browser: Browser, origins: tuple[_Pages, _Pages]) -> Iterator[Page]:
    yield from _page(browser, origins[1].origin)


def form_body(token: str, service: str = SERVICE) -> str:
    return urlencode({
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token, "audience": service,
    })


def json_body(token: str) -> str:
    return json.dumps({
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token, "audience": SERVICE,
    })


def exchange(page: Page, url: str, body: str, **headers: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(EXCHANGE, {"url": url, "body": body, "headers": headers})
    return result


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def test_a_listed_origin_exchanges_a_form_and_reads_the_token_and_exposed_headers(
    peer: Peer, server: str, listed_page: Page
) -> None:
    result = exchange(listed_page, server, form_body(peer.subject_token()), **FORM)
    assert result["status"] == 200, result
    assert peer.issued_claims(result["body"]["access_token"])["act"]["sub"] == "user-7"
    assert len(result["revision"]) == 64
    assert len(result["requestId"]) == 24
    assert result["date"] is None  # not exposed: the page sees only what we expose


def test_a_listed_origin_exchanges_json_with_a_request_id_after_a_preflight(
    peer: Peer, server: str, listed_page: Page
) -> None:
    result = exchange(
        listed_page, server, json_body(peer.subject_token()),
        **JSON, **{"X-Request-Id": "page-req-0001", "X-Client-Version": "3.1"},
    )
    assert result["status"] == 200, result
    assert result["requestId"] == "page-req-0001"
    assert peer.issued_claims(result["body"]["access_token"])["act"]["roles"] == ["admin", "ops"]


def test_a_refusal_is_readable_by_a_listed_origin(
    peer: Peer, server: str, listed_page: Page
) -> None:
    result = exchange(listed_page, server, form_body(peer.subject_token(), "nope"), **FORM)
    assert result["status"] == 400
    assert result["body"]["error"] == "invalid_target"
    assert result["body"]["code"] == "unknown_service"


def test_state_backed_client_bundle_gets_a_token_in_the_browser(
    peer: Peer, server: str, listed_page: Page
) -> None:
    """The client sends `X-StateBacked-Org-Id` and `X-StateBacked-Act`: allowed by default."""
    result = listed_page.evaluate(CLIENT, {
        "url": server, "org": ORG, "service": SERVICE, "token": peer.subject_token(),
        "actAs": {"sub": "someone-else"},
    })
    assert result["ok"], result
    assert peer.issued_claims(result["token"])["act"] == {
        "sub": "user-7", "email": "ada@example.com", "roles": ["admin", "ops"],
        "via": "app-login", "service": SERVICE,
    }


def test_state_backed_client_shows_our_code_in_the_browser(
    peer: Peer, server: str, listed_page: Page
) -> None:
    result = listed_page.evaluate(CLIENT, {
        "url": server, "org": ORG, "service": SERVICE,
        "token": peer.subject_token(email_verified=False), "actAs": None,
    })
    assert result == {
        "ok": False, "name": "ClientError", "status": 400, "code": "condition_failed",
        "message": "invalid_request",
    }


def test_a_header_nobody_allowed_is_blocked_by_the_browser(
    peer: Peer, server: str, listed_page: Page
) -> None:
    result = exchange(
        listed_page, server, form_body(peer.subject_token()), **FORM, **{"X-Not-Listed": "1"}
    )
    assert result == {"blocked": "TypeError: Failed to fetch"}


@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_an_unlisted_origin_is_blocked_by_the_browser(
    peer: Peer, server: str, unlisted_page: Page, as_json: bool
) -> None:
    """The form is a simple request (sent, but the page may not read the answer); JSON needs a
    preflight, which the browser sees refused, so it never sends the exchange."""
    token = peer.subject_token()
    body, headers = (json_body(token), JSON) if as_json else (form_body(token), FORM)
    assert exchange(unlisted_page, server, body, **headers) == {
        "blocked": "TypeError: Failed to fetch"
    }
    result = unlisted_page.evaluate(CLIENT, {
        "url": server, "org": ORG, "service": SERVICE, "token": token, "actAs": None,
    })
    assert result["ok"] is False and result["code"] is None, result

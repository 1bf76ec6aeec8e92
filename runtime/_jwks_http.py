"""One bounded HTTP GET of a JSON document, for the JWKS cache and OIDC discovery.

Every fetch has one total deadline around connect, headers and the streamed body together (httpx
timeouts are per operation, so a server dripping one byte per second would beat them), a streamed
size cap (the rest of the body is never read), no redirects and verified TLS. Only `200` with a
JSON-ish content type counts; the body is always parsed strictly (`strict_json`), so an HTML login
page, an empty body or a document with duplicate members is refused whole.

Every connection a fetch opens is closed however the fetch ends, cancellation included (the
deadline, or the cache shutting down): see `_HandshakeGuard` for the one path httpx leaves open.

Failures are `FetchError(kind)`: `kind` is a short stable code (see `docs/jwks.md`) used in logs,
status and metrics. URLs appear only in the detail text, which goes to operator logs, never to
HTTP clients.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import strict_json
from .errors import BundleError

ACCEPT = "application/jwk-set+json, application/json;q=0.9"
# Lenient on the label, strict on the content: IdPs serve JWKS as any of these.
_JSON_MEDIA_TYPES = frozenset(
    {"", "application/json", "application/jwk-set+json", "text/plain", "application/octet-stream"}
)
# A number (`max-age`, `Content-Length`) longer than this many digits is "huge".
_MAX_DIGITS = 12


class FetchError(BundleError):
    """A failed fetch. `kind` is a stable code; `retry_after` the server's Retry-After, in s."""

    def __init__(self, kind: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{kind} ({detail})" if detail else kind)
        self.kind = kind
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """The bounds of one fetch: total deadline (s), body cap (bytes), loopback http allowed."""

    deadline: float
    max_bytes: int
    allow_insecure_http: bool


@dataclass(frozen=True)
class Fetched:
    """A strictly parsed document and the freshness its server declared (None: said nothing)."""

    document: Any
    max_age: float | None


def check_url(url: str, allow_insecure_http: bool) -> None:
    """Raise `FetchError("insecure_url")` unless `url` is https (or loopback http when allowed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        # httpx parses more strictly (ports, control characters): what it refuses is no URL.
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise FetchError("insecure_url", "not a URL") from None
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and allow_insecure_http and _is_loopback(host):
        return
    raise FetchError("insecure_url", url)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def fetch_json(client: httpx.AsyncClient, url: str, limits: Limits) -> Fetched:
    """GET `url` and parse its body strictly, within the deadline and size cap of `limits`."""
    check_url(url, limits.allow_insecure_http)
    try:
        async with asyncio.timeout(limits.deadline):
            body, max_age = await _get(client, url, limits.max_bytes)
    except TimeoutError:
        raise FetchError("timeout", f"{url}: no complete answer in {limits.deadline} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(_transport_kind(exc), f"{url}: {type(exc).__name__}") from None
    except OSError as exc:
        raise FetchError("connect", f"{url}: {type(exc).__name__}") from None
    try:
        document = strict_json.loads(body)
    except ValueError as exc:
        raise FetchError("json", f"{url}: {exc}") from None
    return Fetched(document, max_age)


async def _get(client: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[bytes, float | None]:
    # identity only: a compressed body would make the size cap meaningless (a gzip bomb).
    headers = {"Accept": ACCEPT, "Accept-Encoding": "identity"}
    extensions = {"trace": _HandshakeGuard()}
    async with client.stream("GET", url, headers=headers, extensions=extensions) as response:
        _check_response(response, url, max_bytes)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > max_bytes:
                # Leaving the `async with` closes the connection: the rest is never read.
                raise FetchError("too_large", f"{url}: body over {max_bytes} bytes")
        return bytes(body), freshness(response.headers)


class _HandshakeGuard:
    """An httpcore `trace` hook that closes a TCP connection whose TLS handshake did not finish.

    httpcore (1.0.x) closes the connection under a TLS handshake that fails with an error, but not
    one that is cancelled: a fetch cut by its deadline or by `JwksCache.aclose` mid-handshake (an
    IdP whose TLS stalls, a loaded host) would leave its socket open and watched by the event loop
    for as long as the loop runs, one more each retry. The trace events used here
    (`connection.connect_tcp.complete`, `connection.start_tls.*`) are httpcore's documented ones.
    """

    def __init__(self) -> None:
        self._tcp: Any = None  # the connected stream until TLS is up on it

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self._tcp = info.get("return_value")
        elif event == "connection.start_tls.complete":
            self._tcp = None  # the TLS stream owns it now; the connection pool closes that
        elif event == "connection.start_tls.failed" and self._tcp is not None:
            tcp, self._tcp = self._tcp, None
            await tcp.aclose()  # a no-op when httpcore closed it already (a handshake error)


def _check_response(response: httpx.Response, url: str, max_bytes: int) -> None:
    status = response.status_code
    if 300 <= status < 400:
        raise FetchError("redirect", f"{url}: {status}, redirects are not followed")
    if status != 200:
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise FetchError(f"http_{status}", url, retry_after)
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise FetchError("content_type", f"{url}: {media_type[:64]}")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchError("content_encoding", f"{url}: {encoding[:64]}")
    length = response.headers.get("content-length", "")
    if length.isdigit() and (len(length) > _MAX_DIGITS or int(length) > max_bytes):
        raise FetchError("too_large", f"{url}: Content-Length over {max_bytes} bytes")


def _transport_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "protocol"


def freshness(headers: httpx.Headers) -> float | None:
    """Seconds the response may be reused (RFC 9111 §4.2.1), or None when the server is silent.

    `no-store` / `no-cache` and an unreadable `max-age` or `Expires` count as 0 (stale at once);
    the cache clamps whatever comes out of here to its policy bounds.
    """
    directives: dict[str, str] = {}
    for item in headers.get_list("cache-control", split_commas=True):
        name, _, value = item.partition("=")
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    if "max-age" in directives:
        return max(0.0, _seconds(directives["max-age"]) - _seconds(headers.get("age", "0")))
    if "expires" in headers:
        return _expires_in(headers)
    return None


def _seconds(value: str) -> float:
    if not (value.isascii() and value.isdigit()):
        return 0.0
    return float(value) if len(value) <= _MAX_DIGITS else float(10**_MAX_DIGITS)


def _expires_in(headers: httpx.Headers) -> float:
    try:
        expires = parsedate_to_datetime(headers["expires"])
        date = parsedate_to_datetime(headers["date"]) if "date" in headers else None
    except (TypeError, ValueError, IndexError):
        return 0.0  # RFC 9111 §5.3: an invalid Expires means "already expired"
    if expires.tzinfo is None or (date is not None and date.tzinfo is None):
        return 0.0
    now = date.timestamp() if date is not None else time.time()
    return max(0.0, expires.timestamp() - now)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds from now (delta-seconds or an HTTP date); None if unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return _seconds(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())

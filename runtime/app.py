"""The ASGI app: one envelope, the `/tokens` endpoint, and Starlette for the rest.

`create_app(service)` serves `POST /tokens` (see `runtime.request` for the body rules and
`runtime.startup.Service.exchange` for the exchange with its JWKS retries), `/healthz`,
`/readyz`, `/metrics`, `/idps`, `/token-providers` and `/.well-known/jwks.json`.

The envelope (`_Envelope`) gives every response `X-Tokensmith-Revision` and `X-Request-Id`,
adds CORS headers for allowed origins, refuses oversized header sections with 431, turns any
unexpected exception into a generic answer (never a 500, never a traceback), counts the request
and writes its access-log line. `POST /tokens` is the hot path: `_Tokens.exchange` does all of
that itself in one coroutine of plain ASGI, sparing every exchange the router, the request and
response objects and the envelope's wrappers (see `bench/README.md`); the read-only routes go
through a Starlette router.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import accesslog
from .accesslog import RequestRecord, log_request
from .body import read_body
from .cors import CorsPolicy
from .errors import ExchangeError, InvalidRequest, TemporarilyUnavailable
from .exchange import ExchangeRequest
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .request import ACCESS_TOKEN_TYPE, body_kind, parse_body
from .startup import Service

ROUTES = frozenset(
    {"/tokens", "/healthz", "/readyz", "/metrics", "/idps", "/token-providers",
     "/.well-known/jwks.json"}
)
CORS_ROUTES = frozenset({"/tokens", "/.well-known/jwks.json"})
#: The request headers the app reads (lower-case, as ASGI gives them).
READ_HEADERS = frozenset(
    {b"x-request-id", b"origin", b"content-type", b"content-length",
     b"access-control-request-method"}
)
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_COUNT = 100

_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_JSON = "application/json"
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]

error_logger = logging.getLogger("tokensmith.errors")


def create_app(service: Service) -> ASGIApp:
    """The ASGI app serving `service`; its lifespan starts and stops the JWKS cache."""

    tokens = _Tokens(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tokens.loop = asyncio.get_running_loop()
        await service.start()
        flusher = asyncio.create_task(accesslog.flush_periodically())
        # everything loaded so far lives as long as the process: keep it out of the
        # collector's way, so full collections stay cheap with 10,000 identity providers
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await service.stop()
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)

    pages = _Pages(service)
    routes = [
        Route("/healthz", pages.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", pages.readyz, methods=["GET", "HEAD"]),
        Route("/metrics", pages.metrics, methods=["GET", "HEAD"]),
        Route("/idps", pages.document("idps"), methods=_ALL_METHODS),
        Route("/token-providers", pages.document("token_providers"), methods=_ALL_METHODS),
        Route("/.well-known/jwks.json", pages.document("jwks"), methods=_ALL_METHODS),
    ]
    return _Envelope(Starlette(routes=routes, lifespan=lifespan), tokens, service)


def error_body(exc: ExchangeError) -> bytes:
    """The RFC 6749 §5.2 body of a refusal."""
    return orjson.dumps({"error": exc.error, "error_description": exc.description})


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Send a complete JSON response (plain ASGI, no response object)."""
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    })
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send, exc: ExchangeError, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send the error response for `exc`: `no-store`, and `Retry-After` on a 503."""
    headers = [*_NO_STORE, *extra]
    if isinstance(exc, TemporarilyUnavailable):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    await send_json(send, exc.status, error_body(exc), headers)


class _Tokens:
    """`/tokens`: POST exchanges, OPTIONS answers CORS preflights, anything else is 405.

    `exchange` serves a POST whole, envelope included (request id, common headers, CORS, the
    catch-all, metrics and the access log), in one coroutine that sends its answer straight to
    the server: the hot path allocates no wrapper, record or header list it does not need.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self.services = service.bundle.config.token_providers
        # what every exchange reads, looked up once
        self.metrics = service.metrics
        self.revision = service.revision
        self.cors = service.cors if service.cors.enabled else None
        self.common_headers = (
            *_NO_STORE, (b"x-tokensmith-revision", service.revision.encode("ascii"))
        )
        self.loop: asyncio.AbstractEventLoop | None = None  # set by the lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await self._preflight(scope, send)
        else:
            exc = InvalidRequest("method not allowed", "method_not_allowed")
            scope["tokensmith.record"].outcome = exc.reason
            await send_json(send, 405, error_body(exc), [*_NO_STORE, (b"allow", b"POST, OPTIONS")])

    async def exchange(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`POST /tokens`, from the request's headers to its access-log line."""
        started_ns = time.perf_counter_ns()
        headers, too_large, request_id, extra = _request_headers(scope, self.cors)
        identity_provider: str | None = None
        service: str | None = None
        # a request cancelled before its answer (a shutdown's grace period running out) is
        # still counted and logged, with status 0
        status, outcome = 0, "cancelled"
        try:
            try:
                if too_large:
                    raise _HeadersTooLarge("request headers are too large", "headers_too_large")
                if scope["query_string"]:
                    raise InvalidRequest(
                        "parameters are not accepted in the URL", "query_parameters"
                    )
                kind = body_kind(headers.get(b"content-type"))
                body = await read_body(receive, headers.get(b"content-length"), self.loop)
                params = parse_body(kind, body)
                if params.service in self.services:
                    service = params.service
                issued = await self.service.exchange(
                    ExchangeRequest(params.subject_token, params.service), self.loop
                )
                identity_provider = issued.identity_provider
                answer = orjson.dumps({
                    "access_token": issued.access_token,
                    "issued_token_type": ACCESS_TOKEN_TYPE,
                    "token_type": "Bearer",
                    "expires_in": issued.expires_in,
                })
                status, outcome = 200, "issued"
            except ExchangeError as exc:
                status, outcome, answer = exc.status, exc.reason, error_body(exc)
                identity_provider = getattr(exc, "identity_provider", identity_provider)
                if isinstance(exc, TemporarilyUnavailable):
                    extra.append((b"retry-after", str(exc.retry_after).encode()))
            except Exception as exc:  # never a 500: log the class only, the message may hold input
                error_logger.error("unexpected %s in POST /tokens", exc.__class__.__name__)
                unexpected = InvalidRequest("request could not be processed", "internal_error")
                status, outcome = unexpected.status, unexpected.reason
                answer = error_body(unexpected)
            try:
                await send_json(send, status, answer, [*self.common_headers, *extra])
            except Exception as exc:  # the server refused the answer: nothing more can be sent
                error_logger.error("unexpected %s sending POST /tokens", exc.__class__.__name__)
        finally:
            self.metrics.tokens(
                outcome, identity_provider, service, status,
                (time.perf_counter_ns() - started_ns) / 1e9,
            )
            log_request(
                RequestRecord(request_id, "POST", "/tokens", started_ns, status, outcome,
                              identity_provider, service),
                self.revision,
            )

    async def _preflight(self, scope: Scope, send: Send) -> None:
        headers: Mapping[bytes, str] = scope["tokensmith.headers"]
        cors = self.service.cors.preflight_headers(
            headers.get(b"origin"), headers.get(b"access-control-request-method")
        )
        record: RequestRecord = scope["tokensmith.record"]
        record.outcome = "preflight" if cors is not None else "preflight_refused"
        # refused: no CORS headers at all, so the browser does not send the actual request
        response_headers = cors if cors is not None else [(b"allow", b"POST, OPTIONS")]
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})


class _HeadersTooLarge(InvalidRequest):
    """The request's header section is over `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES`."""

    status = 431


class _Pages:
    """The read-only routes, as Starlette endpoints."""

    def __init__(self, service: Service) -> None:
        self.service = service
        providers = service.bundle.config.identity_providers
        self.idp_count = len(providers)
        self.remote_count = sum(1 for spec in providers.values() if spec.uses_remote_keys)

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', 200, None, _JSON)

    async def readyz(self, request: Request) -> Response:
        ready = self.service.ready()
        cache = self.service.cache
        with_keys = sum(1 for s in cache.status().values() if s.ready) if cache else 0
        body = {
            "status": "ready" if ready else "waiting_for_keys",
            "identity_providers": self.idp_count,
            "jwks_identity_providers": self.remote_count,
            "jwks_identity_providers_ready": with_keys,
            "revision": self.service.revision,
        }
        headers = None if ready else {"Retry-After": "1"}
        return Response(orjson.dumps(body), 200 if ready else 503, headers, _JSON)

    async def metrics(self, request: Request) -> Response:
        return Response(self.service.metrics.render(), 200, None, METRICS_CONTENT_TYPE)

    def document(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        content = self.service.documents[name]

        async def endpoint(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                exc = InvalidRequest("configuration is managed as code", "method_not_allowed")
                headers = {"Allow": "GET, HEAD", "Cache-Control": "no-store"}
                return Response(error_body(exc), 405, headers, _JSON)
            return Response(content, 200, None, _JSON)

        return endpoint


class _Envelope:
    """Plain ASGI wrapper: common headers, 431, catch-all, metrics and the access log.

    `POST /tokens` is handed whole to `_Tokens.exchange`, which does the same itself.
    """

    def __init__(self, app: ASGIApp, tokens: _Tokens, service: Service) -> None:
        self.app = app
        self.tokens = tokens
        self.service = service
        self.revision_header = (b"x-tokensmith-revision", service.revision.encode("ascii"))
        self.cors = service.cors if service.cors.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/tokens" and scope["method"] == "POST":  # the hot path, envelope included
            await self.tokens.exchange(scope, receive, send)
            return
        route = path if path in ROUTES else "other"
        # preflights get their CORS headers from the endpoint, which also checks the method
        cors = self.cors if route in CORS_ROUTES and scope["method"] != "OPTIONS" else None
        headers, too_large, request_id, answer_headers = _request_headers(scope, cors)
        record = RequestRecord(request_id, scope["method"], route, time.perf_counter_ns())
        scope["tokensmith.record"] = record
        scope["tokensmith.headers"] = headers
        extra = [self.revision_header, *answer_headers]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            if too_large:
                record.outcome = "headers_too_large"
                exc = _HeadersTooLarge("request headers are too large", "headers_too_large")
                await send_error(send_with_headers, exc)
            elif route == "/tokens":
                await self.tokens(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # never a 500: log the class only, the message may hold input
            error_logger.error("unexpected %s serving %s", exc.__class__.__name__, route)
            record.outcome = record.outcome or "internal_error"
            if not record.status:
                await _send_generic_error(send_with_headers, route)
        finally:
            self.service.metrics.request(route, record.status)
            log_request(record, self.service.revision)


async def _send_generic_error(send: Send, route: str) -> None:
    if route == "/tokens":
        await send_error(send, InvalidRequest("request could not be processed", "internal_error"))
    else:
        await send_error(send, TemporarilyUnavailable("request could not be served", "internal"))


def _request_headers(
    scope: Scope, cors: CorsPolicy | None
) -> tuple[Mapping[bytes, str], bool, str, list[tuple[bytes, bytes]]]:
    """What every request starts with, for the envelope and for `POST /tokens` alike: the
    headers the app reads and whether the section is too large (`_read_headers`), the request
    id, and the headers its answer carries (`X-Request-Id`, and CORS's when `cors` is given)."""
    headers, too_large = _read_headers(scope)
    request_id = _request_id(headers.get(b"x-request-id"))
    answer_headers = [(b"x-request-id", request_id.encode("ascii"))]
    if cors is not None:
        answer_headers.extend(cors.response_headers(headers.get(b"origin")))
    return headers, too_large, request_id, answer_headers


def _request_id(sent: str | None) -> str:
    """The client's `X-Request-Id` when it is a plain token of 8-64 characters, else a new one."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    # 96 random bits, for correlation only (nothing trusts them): the process's Mersenne
    # Twister, which Python reseeds in every forked worker, costs a fraction of `os.urandom`
    return f"{random.getrandbits(96):024x}"


def _read_headers(scope: Scope) -> tuple[Mapping[bytes, str], bool]:
    """The first value of each header in `READ_HEADERS` that the request has, and whether the
    header section is too large (over `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES`).

    One pass over the headers for the whole request: the envelope and `/tokens` read the result.
    """
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    found: dict[bytes, str] = {}
    size = 0
    for key, value in headers:
        size += len(key) + len(value)
        if key in READ_HEADERS and key not in found:
            found[key] = value.decode("latin-1")
    return found, len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES

"""The Starlette app: routes, and one envelope around them. It parses, calls, renders.

`create_app(service)` serves `POST /tokens` (see `runtime.request` for the body rules and
`runtime.startup.Service.exchange` for the exchange with its JWKS retries), `/healthz`,
`/readyz`, `/metrics`, `/idps`, `/token-providers` and `/.well-known/jwks.json`.

The envelope (`_Envelope`, plain ASGI so it costs little per request) gives every response
`X-Tokensmith-Revision` and `X-Request-Id`, adds CORS headers for allowed origins, refuses
oversized header sections with 431, turns any unexpected exception into a generic answer (never a
500, never a traceback), counts the request and writes its access-log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .accesslog import RequestRecord, log_request
from .errors import ExchangeError, InvalidRequest, TemporarilyUnavailable
from .exchange import ExchangeRequest
from .request import MAX_BODY_BYTES, BodyTooLarge, body_kind, parse_body
from .startup import Service

ROUTES = (
    "/tokens",
    "/healthz",
    "/readyz",
    "/metrics",
    "/idps",
    "/token-providers",
    "/.well-known/jwks.json",
)
CORS_ROUTES = frozenset({"/tokens", "/.well-known/jwks.json"})
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_COUNT = 100
BODY_TIMEOUT_SECONDS = 10.0

_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{8,64}")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON = "application/json"

error_logger = logging.getLogger("tokensmith.errors")


def create_app(service: Service) -> ASGIApp:
    """The ASGI app serving `service`; its lifespan starts and stops the JWKS cache."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    endpoints = _Endpoints(service)
    routes = [
        Route("/tokens", endpoints.tokens, methods=_ALL_METHODS),
        Route("/healthz", endpoints.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", endpoints.readyz, methods=["GET", "HEAD"]),
        Route("/metrics", endpoints.metrics, methods=["GET", "HEAD"]),
        Route("/idps", endpoints.document("idps"), methods=_ALL_METHODS),
        Route("/token-providers", endpoints.document("token_providers"), methods=_ALL_METHODS),
        Route("/.well-known/jwks.json", endpoints.document("jwks"), methods=_ALL_METHODS),
    ]
    inner = Starlette(routes=routes, lifespan=lifespan)
    return _Envelope(inner, service)


def error_response(exc: ExchangeError) -> Response:
    """The RFC 6749 §5.2 body for a refusal, `no-store`, `Retry-After` on a 503."""
    headers = dict(_NO_STORE)
    if isinstance(exc, TemporarilyUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    body = {"error": exc.error, "error_description": exc.description}
    return Response(orjson.dumps(body), exc.status, headers, _JSON)


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(value), status, headers, _JSON)


def _method_not_allowed(allow: str) -> Response:
    exc = InvalidRequest("method not allowed", "method_not_allowed")
    response = error_response(exc)
    response.status_code = 405
    response.headers["Allow"] = allow
    return response


class _Endpoints:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def tokens(self, request: Request) -> Response:
        method = request.method
        if method == "POST":
            return await self._exchange(request)
        if method == "OPTIONS":
            return self._preflight(request)
        return _method_not_allowed("POST, OPTIONS")

    async def _exchange(self, request: Request) -> Response:
        record: RequestRecord = request.scope["tokensmith.record"]
        started = time.perf_counter()
        try:
            response = await self._issue(request, record)
            record.outcome = "issued"
        except ExchangeError as exc:
            record.outcome = exc.reason
            record.identity_provider = getattr(exc, "identity_provider", record.identity_provider)
            response = error_response(exc)
        except ClientDisconnect:
            record.outcome = "client_disconnect"
            response = error_response(InvalidRequest("request body is incomplete", "disconnect"))
        except Exception as exc:  # never a 500: log the class only, the message may hold input
            error_logger.error("unexpected %s in POST /tokens", exc.__class__.__name__)
            record.outcome = "internal_error"
            response = error_response(InvalidRequest("request could not be processed"))
        self.service.metrics.exchange(
            record.outcome, record.identity_provider, record.service, time.perf_counter() - started
        )
        return response

    async def _issue(self, request: Request, record: RequestRecord) -> Response:
        if request.scope["query_string"]:
            raise InvalidRequest("parameters are not accepted in the URL", "query_parameters")
        kind = body_kind(request.headers.get("content-type"))
        body = await _read_body(request)
        params = parse_body(kind, body)
        if params.service in self.service.bundle.config.token_providers:
            record.service = params.service
        issued = await self.service.exchange(ExchangeRequest(params.subject_token, params.service))
        record.identity_provider = issued.identity_provider
        body_out = {
            "access_token": issued.access_token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }
        return _json(body_out, 200, dict(_NO_STORE))

    def _preflight(self, request: Request) -> Response:
        headers = self.service.cors.preflight_headers(
            request.headers.get("origin"), request.headers.get("access-control-request-method")
        )
        if headers is None:
            # no CORS headers: the browser refuses the actual request
            return Response(b"", 204, {"Allow": "POST, OPTIONS"})
        response = Response(b"", 204)
        response.raw_headers.extend(headers)
        return response

    async def healthz(self, request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        identity_providers = self.service.bundle.config.identity_providers
        remote = sum(1 for spec in identity_providers.values() if spec.uses_remote_keys)
        ready = self.service.ready()
        cache = self.service.cache
        with_keys = sum(1 for s in cache.status().values() if s.ready) if cache else 0
        body = {
            "status": "ready" if ready else "waiting_for_keys",
            "identity_providers": len(identity_providers),
            "jwks_identity_providers": remote,
            "jwks_identity_providers_ready": with_keys,
            "revision": self.service.revision,
        }
        return _json(body, 200 if ready else 503, None if ready else {"Retry-After": "1"})

    async def metrics(self, request: Request) -> Response:
        from .metrics import CONTENT_TYPE

        return Response(self.service.metrics.render(), 200, None, CONTENT_TYPE)

    def document(self, name: str) -> Any:
        content = self.service.documents[name]

        async def endpoint(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return Response(content, 200, None, _JSON)

        return endpoint


async def _read_body(request: Request) -> bytes:
    """The body, streamed with a byte counter: 413 as soon as it is over the limit (chunked too)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise BodyTooLarge("request body is too large", "body_too_large")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BodyTooLarge("request body is too large", "body_too_large")
                chunks.append(chunk)
    except TimeoutError:
        raise InvalidRequest("request body was not received in time", "body_timeout") from None
    return b"".join(chunks)


class _Envelope:
    """Plain ASGI wrapper: common headers, 431, catch-all, metrics and the access log."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.revision_header = (b"x-tokensmith-revision", service.revision.encode("ascii"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = path if path in ROUTES else "other"
        record = RequestRecord(
            _request_id(scope), scope["method"], route, time.perf_counter_ns()
        )
        scope["tokensmith.record"] = record
        extra = [self.revision_header, (b"x-request-id", record.request_id.encode("ascii"))]
        # preflights get their CORS headers from the endpoint, which also checks the method
        if route in CORS_ROUTES and self.service.cors.enabled and scope["method"] != "OPTIONS":
            extra.extend(self.service.cors.response_headers(_header(scope, b"origin")))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            if _headers_too_large(scope):
                record.outcome = "headers_too_large"
                await _send_error(send_with_headers, 431, "request headers are too large")
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # never a 500: log the class only, the message may hold input
            error_logger.error("unexpected %s serving %s", exc.__class__.__name__, route)
            record.outcome = record.outcome or "internal_error"
            if not started:
                status = 400 if route == "/tokens" else 503
                await _send_error(send_with_headers, status, "request could not be processed")
        finally:
            self.service.metrics.request(route, record.status)
            log_request(record, self.service.revision)


def _request_id(scope: Scope) -> str:
    """The client's `X-Request-Id` when it is a plain token of 8-64 characters, else a new one."""
    sent = _header(scope, b"x-request-id")
    if sent is not None and _REQUEST_ID.fullmatch(sent.encode("latin-1")):
        return sent
    return secrets.token_hex(12)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _headers_too_large(scope: Scope) -> bool:
    headers = scope["headers"]
    if len(headers) > MAX_HEADER_COUNT:
        return True
    return sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES


async def _send_error(send: Send, status: int, description: str) -> None:
    error = "temporarily_unavailable" if status == 503 else "invalid_request"
    body = orjson.dumps({"error": error, "error_description": description})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if status == 503:
        headers.append((b"retry-after", b"5"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

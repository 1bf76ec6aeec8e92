"""The ASGI app: one envelope for every request, `/tokens` in plain ASGI, Starlette for the rest.

`create_app(runtime)` serves `POST /tokens` (see `runtime.request` for the body rules and
`runtime.startup.Runtime.exchange` for the exchange with its JWKS retries), `/healthz`,
`/readyz`, `/metrics`, `/idps`, `/token-providers`, `/.well-known/jwks.json` and `/openapi.json`
(the OpenAPI 3.1 description of all of them). Given a `Drain` (`tokensmith serve` gives one),
its lifespan handles SIGTERM (`runtime.shutdown`).

Every request begins with `Envelope.begin` and ends with `Envelope.finish` (`runtime.envelope`):
request id, common and CORS headers, metrics, the access log. Between the two, `POST /tokens`,
the hot path, is served whole by `_Tokens.exchange` in one coroutine of plain ASGI, which
answers every refusal and unexpected error itself, sparing every exchange the router, the
request and response objects and a wrapper of `send` (see `bench/README.md`). Any other request
goes through a wrapper of `send` that adds the common headers: `_App` refuses an oversized header
section with 431, `_Tokens` answers the other methods of `/tokens`, a Starlette router the
read-only routes, and an unexpected exception becomes a generic answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import accesslog
from .body import BodyReader
from .envelope import INTERNAL_ERROR, Envelope, RequestContext, error_logger, unexpected
from .errors import ExchangeError, InvalidRequest, TemporarilyUnavailable, error_body
from .exchange import ExchangeRequest, Issued
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .request import ACCESS_TOKEN_TYPE, body_kind, parse_body
from .shadow import Attempt, ObservedExchange
from .shutdown import Drain, say
from .startup import Runtime

_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_JSON = "application/json"
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


def create_app(runtime: Runtime, drain: Drain | None = None) -> ASGIApp:
    """The ASGI app serving `runtime`; its lifespan starts and stops the JWKS cache, and
    handles SIGTERM with `drain` when given one."""
    drain = drain or Drain(None)

    @contextlib.asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        await runtime.start()
        flusher = asyncio.create_task(accesslog.flush_periodically())
        drain.install()
        # everything loaded so far lives as long as the process: keep it out of the
        # collector's way, so full collections stay cheap with 10,000 identity providers
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            drain.uninstall()
            await runtime.stop()
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)  # flushes the access log
            if drain.seconds is not None:
                requests, issued = runtime.metrics.answered()
                say(f"stopped after answering {_count(requests, 'request')} "
                    f"({_count(issued, 'token')} issued)")

    pages = _Pages(runtime, drain)
    routes = [
        Route("/healthz", pages.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", pages.readyz, methods=["GET", "HEAD"]),
        Route("/metrics", pages.metrics, methods=["GET", "HEAD"]),
        Route("/idps", pages.document("idps"), methods=_ALL_METHODS),
        Route("/token-providers", pages.document("token_providers"), methods=_ALL_METHODS),
        Route("/.well-known/jwks.json", pages.document("jwks"), methods=_ALL_METHODS),
        Route("/openapi.json", pages.document("openapi"), methods=_ALL_METHODS),
    ]
    # A bare router, not a `Starlette` app: the app's error middleware would answer an
    # exception with a plain-text 500 before `_App` could answer it as every other error; and
    # without `redirect_slashes`, `GET /idps/` is a 404 rather than a redirect to a URL built
    # from the client's `Host` header (which a shared cache could keep and serve to others).
    app = _App(Router(routes=routes, lifespan=lifespan, redirect_slashes=False), runtime)
    drain.on_begin(app.envelope.close_connections)
    return app


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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


class _HeadersTooLarge(InvalidRequest):
    """The request's header section is over `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES`."""

    status = 431


class _App:
    """Plain ASGI: every HTTP request between `Envelope.begin` and `Envelope.finish`."""

    def __init__(self, starlette: ASGIApp, runtime: Runtime) -> None:
        self.starlette = starlette
        self.envelope = Envelope(runtime.revision, runtime.cors, runtime.metrics)
        self.tokens = _Tokens(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # the lifespan
            await self.starlette(scope, receive, send)
            return
        context = self.envelope.begin(scope)
        try:
            if context.is_exchange:  # the hot path: answers everything itself
                await self.tokens.exchange(context, scope, receive, send)
                return
            send_with_headers = _with_answer_headers(context, send)
            try:
                if context.too_large:
                    context.outcome = "headers_too_large"
                    exc = _HeadersTooLarge("request headers are too large", "headers_too_large")
                    await send_error(send_with_headers, exc)
                elif context.path == "/tokens":
                    await self.tokens.other_method(context, send_with_headers)
                else:
                    await self.starlette(scope, receive, send_with_headers)
            except Exception as exc:  # never a 500 from us
                refusal = unexpected(exc, context.path, f"serving {context.path}")
                context.outcome = context.outcome or INTERNAL_ERROR
                if not context.status:
                    await send_error(send_with_headers, refusal)
        finally:
            self.envelope.finish(context)


def _with_answer_headers(context: RequestContext, send: Send) -> Send:
    """`send`, adding the context's answer headers to the response and noting its status."""
    answer_headers = context.answer_headers

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            context.status = message["status"]
            message["headers"] = [*message.get("headers", ()), *answer_headers]
        await send(message)

    return send_with_headers


class _Tokens:
    """`/tokens`: POST exchanges, OPTIONS answers CORS preflights, anything else is 405.

    With a shadow candidate, a sampled exchange is decided live through `ObservedExchange`
    (which notes its `now` and its outcome on an `Attempt`), answered as any other, and only
    once the answer is sent handed to the candidate (`runtime.shadow`)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: the live exchange of one request (`Runtime.exchange`)
        self.decide: Callable[[ExchangeRequest], Awaitable[Issued]] = runtime.exchange
        self.token_providers = runtime.bundle.config.token_providers
        self.cors = runtime.cors
        self.body_reader = BodyReader()
        self.shadow = runtime.shadow
        #: the live exchange of a shadow's sampled request
        self.observed = ObservedExchange(runtime.state, runtime.await_keys)

    async def exchange(
        self, context: RequestContext, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """`POST /tokens`, from the request's headers to its answer; every refusal and every
        unexpected error is answered here, with the context's answer headers."""
        headers = [*_NO_STORE, *context.answer_headers]
        shadow = self.shadow
        attempt: Attempt | None = None
        try:
            if context.too_large:
                raise _HeadersTooLarge("request headers are too large", "headers_too_large")
            if scope["query_string"]:
                raise InvalidRequest("parameters are not accepted in the URL", "query_parameters")
            kind = body_kind(context.headers.get(b"content-type"))
            body = await self.body_reader.read(receive, context.headers.get(b"content-length"))
            params = parse_body(kind, body)
            if params.service in self.token_providers:
                context.service = params.service
            request = ExchangeRequest(params.subject_token, params.service)
            if shadow is not None and shadow.sampled():
                attempt = Attempt(request)
                issued = await self.observed.exchange(attempt)
            else:
                issued = await self.decide(request)
            context.identity_provider, context.verified = issued.identity_provider, True
            answer = orjson.dumps({
                "access_token": issued.access_token,
                "issued_token_type": ACCESS_TOKEN_TYPE,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            })
            status, outcome = 200, "issued"
        except ExchangeError as exc:
            status, outcome, answer = exc.status, exc.reason, error_body(exc)
            if exc.verified_by is not None:
                context.identity_provider, context.verified = exc.verified_by, True
            else:
                context.identity_provider = getattr(exc, "identity_provider", None)
            if isinstance(exc, TemporarilyUnavailable):
                headers.append((b"retry-after", str(exc.retry_after).encode()))
        except Exception as exc:
            refusal = unexpected(exc, "/tokens", "in POST /tokens")
            status, outcome, answer = refusal.status, refusal.reason, error_body(refusal)
        context.status, context.outcome = status, outcome
        try:
            await send_json(send, status, answer, headers)
        except Exception as exc:  # the server refused the answer: nothing more can be sent
            error_logger.error("unexpected %s sending POST /tokens", exc.__class__.__name__)
        if attempt is not None and attempt.live is not None and shadow is not None:
            shadow.submit(context.request_id, attempt)  # the answer is sent: the candidate's turn

    async def other_method(self, context: RequestContext, send: Send) -> None:
        """Any other method: OPTIONS answers a CORS preflight, the rest get 405."""
        if context.method != "OPTIONS":
            exc = InvalidRequest("method not allowed", "method_not_allowed")
            context.outcome = exc.reason
            await send_json(send, 405, error_body(exc), [*_NO_STORE, (b"allow", b"POST, OPTIONS")])
            return
        cors = self.cors.preflight_headers(
            context.headers.get(b"origin"), context.headers.get(b"access-control-request-method")
        )
        context.outcome = "preflight" if cors is not None else "preflight_refused"
        # refused: no CORS headers at all, so the browser does not send the actual request
        response_headers = cors if cors is not None else [(b"allow", b"POST, OPTIONS")]
        await send({"type": "http.response.start", "status": 204, "headers": response_headers})
        await send({"type": "http.response.body", "body": b""})


class _Pages:
    """The read-only routes, as Starlette endpoints."""

    def __init__(self, runtime: Runtime, drain: Drain) -> None:
        self.runtime = runtime
        self.drain = drain
        providers = runtime.bundle.config.identity_providers
        self.idp_count = len(providers)
        self.remote_count = sum(1 for spec in providers.values() if spec.uses_remote_keys)
        report = runtime.bundle.signatures
        signers = list(report.signers) if report else []
        # `signed`: trusted keys signed it (only known with `serve --trust`)
        self.signature_fields = {"signed": bool(signers), "signers": signers}

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', 200, None, _JSON)

    async def readyz(self, request: Request) -> Response:
        draining = self.drain.draining
        ready = self.runtime.ready() and not draining
        cache = self.runtime.cache
        with_keys = sum(1 for s in cache.status().values() if s.ready) if cache else 0
        status = "draining" if draining else "ready" if ready else "waiting_for_keys"
        body: dict[str, object] = {
            "status": status,
            "identity_providers": self.idp_count,
            "jwks_identity_providers": self.remote_count,
            "jwks_identity_providers_ready": with_keys,
            "revision": self.runtime.revision,
            **self.signature_fields,
        }
        if self.runtime.shadow is not None:  # the candidate never makes the server unready
            body["shadow"] = self.runtime.shadow.status()
        # a draining server will not be ready again: no Retry-After
        headers = None if ready or draining else {"Retry-After": "1"}
        return Response(orjson.dumps(body), 200 if ready else 503, headers, _JSON)

    async def metrics(self, request: Request) -> Response:
        body = await self.runtime.metrics.render_off_loop()
        return Response(body, 200, None, METRICS_CONTENT_TYPE)

    def document(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        content = self.runtime.documents[name]

        async def endpoint(request: Request) -> Response:
            if request.method not in ("GET", "HEAD"):
                exc = InvalidRequest("configuration is managed as code", "method_not_allowed")
                headers = {"Allow": "GET, HEAD", "Cache-Control": "no-store"}
                return Response(error_body(exc), 405, headers, _JSON)
            return Response(content, 200, None, _JSON)

        return endpoint

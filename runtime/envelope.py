"""What every HTTP request begins and ends with: `Envelope.begin` and `Envelope.finish`.

`begin(scope)` reads the few headers the app uses in one pass (and whether the header section
is too large), takes the client's `X-Request-Id` when it is a plain token or makes one, and
lists the headers every answer carries besides its route's own: `X-Tokensmith-Revision`,
`X-Request-Id` and, on `/tokens` and `/.well-known/jwks.json` for an allowed origin, CORS's (a
preflight gets its own from the route). It returns the request's `RequestContext`, which the
route fills in as it goes: the status it sent, the outcome, the identity provider and service.

`finish(context)` counts the request and writes its access-log line, whatever happened (an
answer, an unexpected exception, a cancellation). `unexpected(...)` is the catch-all both
kinds of route share: it logs the exception's class only (its message may hold input) and
gives the refusal to answer with instead, never a 500 with a traceback.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Mapping

from starlette.types import Scope

from .accesslog import RequestRecord, log_request
from .cors import CorsPolicy
from .errors import ExchangeError, InvalidRequest, TemporarilyUnavailable
from .metrics import Metrics

ROUTES = frozenset(
    {"/tokens", "/healthz", "/readyz", "/metrics", "/idps", "/token-providers",
     "/.well-known/jwks.json", "/openapi.json"}
)
CORS_ROUTES = frozenset({"/tokens", "/.well-known/jwks.json"})
#: The request headers the app reads (lower-case, as ASGI gives them).
READ_HEADERS = frozenset(
    {b"x-request-id", b"origin", b"content-type", b"content-length",
     b"access-control-request-method"}
)
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_COUNT = 100
#: The outcome of a request that met an unexpected exception.
INTERNAL_ERROR = "internal_error"

_CLOSE = (b"connection", b"close")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

error_logger = logging.getLogger("tokensmith.errors")


class RequestContext(RequestRecord):
    """One request while it is served: its access-log record, and what `begin` found."""

    __slots__ = ("answer_headers", "headers", "is_exchange", "too_large", "verified")

    def __init__(
        self,
        request_id: str,
        method: str,
        path: str,
        started_ns: int,
        headers: Mapping[bytes, str],
        too_large: bool,
        answer_headers: list[tuple[bytes, bytes]],
        is_exchange: bool,
    ) -> None:
        # the record's fields set here rather than by a second `__init__` call (hot path)
        self.request_id = request_id
        self.method = method
        self.path = path
        self.started_ns = started_ns
        self.status = 0
        self.outcome: str | None = None
        self.identity_provider: str | None = None
        self.service: str | None = None
        #: the first value of each header in `READ_HEADERS` that the request has
        self.headers = headers
        #: over `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES`: the route answers 431
        self.too_large = too_large
        #: the headers every answer to this request ends with
        self.answer_headers = answer_headers
        #: `POST /tokens`: counted as an exchange
        self.is_exchange = is_exchange
        #: a signature verified (the token was issued, or refused by a later step): only then
        #: is the exchange counted under its identity provider and service
        self.verified = False


class Envelope:
    """The beginning and the end every request of one app shares (see the module docstring)."""

    __slots__ = ("closing", "cors", "metrics", "revision", "revision_header")

    def __init__(self, revision: str, cors: CorsPolicy, metrics: Metrics) -> None:
        self.revision = revision
        self.revision_header = (b"x-tokensmith-revision", revision.encode("ascii"))
        self.cors = cors if cors.enabled else None
        self.metrics = metrics
        #: draining (`runtime.shutdown`): every answer closes its connection
        self.closing = False

    def close_connections(self) -> None:
        """From now on every answer carries `Connection: close`, so that keep-alive clients
        reconnect, through their load balancer, to a replica that is not going away."""
        self.closing = True

    def begin(self, scope: Scope) -> RequestContext:
        """The context of the request `scope` describes: its headers, id and answer headers."""
        started_ns = time.perf_counter_ns()
        method: str = scope["method"]
        path: str = scope["path"]
        route = path if path in ROUTES else "other"
        headers, too_large = read_headers(scope["headers"])
        request_id = _request_id(headers.get(b"x-request-id"))
        answer_headers = [self.revision_header, (b"x-request-id", request_id.encode("ascii"))]
        if self.closing:
            answer_headers.append(_CLOSE)
        # a preflight gets its CORS headers from its route, which also checks the method
        if self.cors is not None and route in CORS_ROUTES and method != "OPTIONS":
            answer_headers.extend(self.cors.response_headers(headers.get(b"origin")))
        is_exchange = route == "/tokens" and method == "POST"
        return RequestContext(
            request_id, method, route, started_ns, headers, too_large, answer_headers, is_exchange
        )

    def finish(self, context: RequestContext) -> None:
        """Count the request and write its access-log line; `context` is final afterwards."""
        if context.is_exchange:
            if context.outcome is None:
                # cancelled before its answer (a shutdown's grace period ran out): still
                # counted and logged, with status 0
                context.outcome = "cancelled"
            # labels only after a verified signature, so that unauthenticated requests add
            # no series per service or provider (the access log keeps both)
            verified = context.verified
            self.metrics.tokens(
                context.outcome,
                context.identity_provider if verified else None,
                context.service if verified else None,
                context.status,
                (time.perf_counter_ns() - context.started_ns) / 1e9,
            )
        else:
            self.metrics.request(context.path, context.status)
        log_request(context, self.revision)


def unexpected(exc: Exception, route: str, doing: str) -> ExchangeError:
    """The catch-all: log `exc`'s class (never its message, which may hold input) as
    "unexpected <class> <doing>", and return the refusal to answer with instead."""
    error_logger.error("unexpected %s %s", exc.__class__.__name__, doing)
    if route == "/tokens":
        return InvalidRequest("request could not be processed", INTERNAL_ERROR)
    return TemporarilyUnavailable("request could not be served", "internal")


def read_headers(headers: list[tuple[bytes, bytes]]) -> tuple[Mapping[bytes, str], bool]:
    """The first value of each header in `READ_HEADERS` that the request has, and whether the
    header section is too large (over `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES`)."""
    found: dict[bytes, str] = {}
    size = 0
    for key, value in headers:
        size += len(key) + len(value)
        if key in READ_HEADERS and key not in found:
            found[key] = value.decode("latin-1")
    return found, len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES


def _request_id(sent: str | None) -> str:
    """The client's `X-Request-Id` when it is a plain token of 8-64 characters, else a new one."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    # 96 random bits, for correlation only (nothing trusts them): the process's Mersenne
    # Twister, which Python reseeds in every forked worker, costs a fraction of `os.urandom`
    return f"{random.getrandbits(96):024x}"

"""CORS for browser clients of `POST /tokens`, from the config's `cors` section.

Only exact origins (scheme, host and port, as the browser sends them) or the single value `*`
are configured. An allowed origin gets `Access-Control-Allow-Origin` with its own value (or `*`)
and `Vary: Origin`; any other origin gets no CORS header at all, so the browser blocks the
response. Credentials are never allowed: the token travels in the body, not in a cookie.

A preflight allows the request headers that browser clients really send (`DEFAULT_HEADERS`:
`Content-Type`, a correlation `X-Request-Id`, and the two that State Backed's client adds when
given an org or an `actAs`), plus the config's `cors.allow_headers`. It lists them and leaves
the verdict on the headers to the browser, which refuses to send a request with any other.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import CORS_DEFAULT_HEADERS as DEFAULT_HEADERS

PREFLIGHT_MAX_AGE = 600
ALLOWED_METHODS = "POST"
EXPOSED_HEADERS = "X-Request-Id, X-Tokensmith-Revision"


def allowed_headers(extra: Iterable[str]) -> tuple[str, ...]:
    """`DEFAULT_HEADERS` then the configured ones, each once (header names ignore case)."""
    names: dict[str, str] = {}
    for name in (*DEFAULT_HEADERS, *extra):
        names.setdefault(name.lower(), name)
    return tuple(names.values())


class CorsPolicy:
    """Which browser origins may call `/tokens`, and with which request headers."""

    def __init__(self, allow_origins: Iterable[str], allow_headers: Iterable[str] = ()) -> None:
        origins = frozenset(allow_origins)
        self.any_origin = "*" in origins
        self.origins = origins - {"*"}
        self.allow_headers = ", ".join(allowed_headers(allow_headers)).encode("latin-1")

    @property
    def enabled(self) -> bool:
        return self.any_origin or bool(self.origins)

    def allows(self, origin: str | None) -> bool:
        """True when a request with this `Origin` header may read the response."""
        if origin is None:
            return False
        return self.any_origin or origin in self.origins

    def response_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """Headers for an actual (non-preflight) response to `origin`; empty when not allowed."""
        if not self.allows(origin):
            return []
        assert origin is not None
        if self.any_origin:
            return [
                (b"access-control-allow-origin", b"*"),
                (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            ]
        return [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]

    def preflight_headers(
        self, origin: str | None, method: str | None
    ) -> list[tuple[bytes, bytes]] | None:
        """Headers answering a preflight, or None when the origin or the method is refused."""
        if not self.allows(origin) or method != "POST":
            return None
        assert origin is not None
        allow_origin = b"*" if self.any_origin else origin.encode("latin-1")
        headers = [
            (b"access-control-allow-origin", allow_origin),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", self.allow_headers),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode()),
        ]
        if not self.any_origin:
            headers.append((b"vary", b"Origin"))
        return headers

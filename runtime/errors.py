"""Errors of the runtime side.

Request side: `ExchangeError` is the one root; each subclass carries the HTTP status and the RFC 6749
§5.2 `error` code. `description` is a fixed, general sentence: it never contains token content,
claim values, key ids, URLs or identity provider names. `reason` is a short stable code for logs
and metrics (it may be more specific than the description, never secret).

Start-up side: `BundleError` (the bundle does not check out) and `StartupError` (secrets, keys).
"""

from __future__ import annotations


class ExchangeError(Exception):
    """A refused exchange request."""

    status: int = 400
    error: str = "invalid_request"

    def __init__(self, description: str, reason: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason or self.error


class InvalidRequest(ExchangeError):
    """A missing or malformed parameter, or a subject token that is not accepted (RFC 8693 §2.2.2)."""


class InvalidTarget(ExchangeError):
    """An unknown service, or one that does not accept the matched identity provider."""

    error = "invalid_target"


class UnsupportedGrantType(ExchangeError):
    """`grant_type` is not token exchange."""

    error = "unsupported_grant_type"


class TemporarilyUnavailable(ExchangeError):
    """The keys to decide cannot be had right now; the client may retry after `retry_after` s."""

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, description: str, reason: str = "", retry_after: int = 5) -> None:
        super().__init__(description, reason)
        self.retry_after = retry_after


class UnknownKeyId(InvalidRequest):
    """Internal signal: the matched provider has no key with the token's `kid`.

    The HTTP layer may ask the JWKS cache for one refetch (cooldown-limited) and retry once;
    otherwise it is answered as the invalid request it is.
    """

    def __init__(self, identity_provider: str) -> None:
        super().__init__("token signature is not valid", "unknown_kid")
        self.identity_provider = identity_provider


class KeysNotReady(TemporarilyUnavailable):
    """Internal signal: the matched provider has no keys yet; the HTTP layer may wait and retry."""

    def __init__(self, identity_provider: str) -> None:
        super().__init__("signing keys of the identity provider are unavailable", "keys_unavailable")
        self.identity_provider = identity_provider


class BundleError(Exception):
    """The bundle is missing, foreign, tampered with, truncated or too large. Names the file."""


class StartupError(Exception):
    """Secrets or keys cannot be resolved. `problems` lists every one, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

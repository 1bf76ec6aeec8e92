"""The two roots of the runtime's errors (the build side's root is `schema/errors.py`).

Request side: `ExchangeError` is the one root; each subclass carries the HTTP status and the RFC 6749
§5.2 `error` code. `description` is a fixed, general sentence: it never contains token content,
claim values, key ids, URLs or identity provider names. `reason` is a short stable code for logs
and metrics (it may be more specific than the description, never secret). `code` is what the error
body shows the caller: the reason, except where the description deliberately merges several
checks (`PUBLIC_CODES`), so that the body never tells apart what the description does not. The
parsers of untrusted request input (`strict_json.StrictJSONError`, `b64.Base64Error`) are in
this family too.

Bundle side: `BundleError` is the one root of "this bundle, or something it needs to serve, cannot
be used": raised as is when the bundle's own files do not check out, and subclassed for secrets,
the vault, signing and verification key material, JWKs and JWKS fetches (`StartupError` gathers
every such problem found at start-up). `docs/architecture.md` ("Errors") lists every class.
"""

from __future__ import annotations

import functools

import orjson

# Reasons that a caller must not tell apart, and the code the error body shows for each: an
# unknown key id, an algorithm outside the provider's list and a bad signature all read "token
# signature is not valid" (telling them apart would let a caller probe keys and algorithms), and
# a token matching several identity providers reads as an untrusted one (telling it apart would
# reveal how the providers are configured). The logs keep the precise reason.
PUBLIC_CODES = {
    "alg_not_allowed": "bad_signature",
    "no_matching_key": "bad_signature",
    "unknown_kid": "bad_signature",
    "ambiguous": "untrusted_issuer",
    # a key id not yet among the provider's keys reads as any other "keys unavailable"
    "kid_pending": "keys_unavailable",
}


class ExchangeError(Exception):
    """A refused exchange request."""

    status: int = 400
    error: str = "invalid_request"
    #: The identity provider whose key verified the token's signature, when a later step
    #: refused it (set by `runtime.exchange.exchange`); None before the signature held.
    verified_by: str | None = None

    def __init__(self, description: str, reason: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason or self.error

    @property
    def code(self) -> str:
        """The stable code the error body carries (see `PUBLIC_CODES`)."""
        return PUBLIC_CODES.get(self.reason, self.reason)


def error_body(exc: ExchangeError) -> bytes:
    """The RFC 6749 §5.2 body of a refusal, plus `code`: the stable code State Backed's client
    shows its user (RFC 6749 clients ignore members they do not know)."""
    return _rendered(exc.error, exc.description, exc.code)


# Descriptions and codes are fixed texts, so a few dozen bodies serve every refusal: each is
# rendered once rather than per refused request.
@functools.lru_cache(maxsize=256)
def _rendered(error: str, description: str, code: str) -> bytes:
    return orjson.dumps({"error": error, "error_description": description, "code": code})


def clear_caches() -> None:
    """Forget the rendered error bodies (`runtime.caches.reset_all`)."""
    _rendered.cache_clear()


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

    def __init__(self, identity_provider: str, kid: str | None = None) -> None:
        super().__init__("token signature is not valid", "unknown_kid")
        self.identity_provider = identity_provider
        self.kid = kid  # the key id a refetch should look for (None: a known kid's keys failed)


class KeysNotReady(TemporarilyUnavailable):
    """Internal signal: the matched provider has no keys yet; the HTTP layer may wait and retry."""

    def __init__(self, identity_provider: str) -> None:
        super().__init__("signing keys of the identity provider are unavailable", "keys_unavailable")
        self.identity_provider = identity_provider


class KeyIdPending(KeysNotReady):
    """The token's `kid` is not among the provider's keys and no refetch may start yet.

    The unknown-`kid` refetch cooldown is running, so the keys held may be older than the token:
    its key may have been published since. That cannot be decided now, so the answer is 503 with
    `Retry-After` (the rest of the cooldown), never a 400 blaming what may be a good token. The
    HTTP layer answers it at once, without waiting (`docs/jwks.md`, "Unknown key ids").
    """

    def __init__(self, identity_provider: str, retry_after: int) -> None:
        super().__init__(identity_provider)
        self.reason = "kid_pending"
        self.retry_after = retry_after


class BundleError(Exception):
    """The bundle, or what it needs to serve, cannot be used.

    Raised as is when the bundle is missing, foreign, tampered with, truncated or too large (the
    message names the file); its subclasses say which other part cannot be used.
    """


class StartupError(BundleError):
    """Secrets or keys cannot be resolved. `problems` lists every one, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

"""The knobs of the JWKS cache, with the defaults documented in `docs/jwks.md`."""

from __future__ import annotations

from dataclasses import dataclass, fields

# The same limits as for keys given in the config, so remote and inline keys behave alike.
from .jwk import MAX_KEYS
from .static_keys import MAX_KIDLESS_CANDIDATES


@dataclass(frozen=True)
class JwksPolicy:
    """How the JWKS cache fetches and keeps keys. Durations are in seconds.

    ttl_min, ttl_max:       bounds of the time to live taken from Cache-Control / Expires
                            (`no-store`, `max-age=0` and one year are all clamped).
    ttl_default:            the time to live when the server sends neither header.
    refresh_ahead:          background refresh at this fraction of the time to live ...
    refresh_jitter:         ... minus up to this fraction, so providers do not refresh in step.
    unknown_kid_cooldown:   at most one refetch per provider per cooldown for unknown `kid`s.
    max_stale:              how long past their time to live last-good keys keep serving while
                            refreshes fail; after that the provider is unavailable (503).
    fetch_deadline:         total time for one HTTP request: connect, headers and whole body.
    max_body_bytes:         streamed body cap; the rest of a larger body is never read.
    max_keys:               a JWK Set with more keys is refused whole.
    max_kidless_candidates: a token without `kid` is tried against the compatible keys only
                            when there are at most this many (otherwise it is refused).
    backoff_initial, backoff_max: after a failed fetch, wait this long before the next attempt,
                            doubling per consecutive failure up to the maximum.
    retry_after_max:        an upstream `Retry-After` (429, 503) is honoured up to this long.
    """

    ttl_min: float = 30.0
    ttl_max: float = 3600.0
    ttl_default: float = 600.0
    refresh_ahead: float = 0.8
    refresh_jitter: float = 0.1
    unknown_kid_cooldown: float = 30.0
    max_stale: float = 86400.0
    fetch_deadline: float = 5.0
    max_body_bytes: int = 256 * 1024
    max_keys: int = MAX_KEYS
    max_kidless_candidates: int = MAX_KIDLESS_CANDIDATES
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"JwksPolicy.{field.name} must not be negative")
        if not 0 < self.ttl_min <= self.ttl_default <= self.ttl_max:
            raise ValueError("JwksPolicy needs 0 < ttl_min <= ttl_default <= ttl_max")
        if not (self.refresh_ahead - self.refresh_jitter > 0 and self.refresh_ahead <= 1):
            raise ValueError("JwksPolicy needs 0 < refresh_ahead - refresh_jitter, refresh_ahead <= 1")
        if self.fetch_deadline <= 0 or self.backoff_initial <= 0 or self.max_keys < 1:
            raise ValueError("JwksPolicy needs a positive fetch_deadline, backoff and max_keys")

    def clamp_ttl(self, max_age: float | None) -> float:
        """The time to live for a response that declared `max_age` (None: declared nothing)."""
        if max_age is None:
            return self.ttl_default
        return min(max(max_age, self.ttl_min), self.ttl_max)

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after the `failures`-th consecutive failure."""
        delay = min(self.backoff_max, self.backoff_initial * 2.0 ** min(failures - 1, 32))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max))
        return delay

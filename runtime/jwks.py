"""The JWKS cache: the keys of every remote identity provider, kept fresh in the background.

One `JwksCache` serves all identity providers with `jwks_url` or `discovery`; each has its own
state, refresher task and single-flight fetch, so one provider's outage or flood never slows
another. `source(name)` is the provider's `KeySource`: it answers from the current snapshot
without blocking and signals `UnknownKeyId` / `KeysNotReady` for the HTTP layer, which then
calls `refetch_for_unknown_kid` or `wait_ready` and retries once.

Policies (defaults in `JwksPolicy`, explained in `docs/jwks.md`): time to live from
Cache-Control / Expires, clamped; refresh ahead of expiry; an unknown-kid refetch cooldown; last
good keys kept through failures up to a staleness bound; exponential backoff and `Retry-After`;
a failed fetch, or one with no usable key, never replaces the keys held.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import httpx

from ._jwks_http import FetchError, Limits, check_url, fetch_json
from ._jwks_metrics import JwksCollector, ProviderMetrics
from ._jwks_policy import JwksPolicy
from ._jwks_state import ProviderState, RemoteKeySource, Snapshot
from .discovery import discover_jwks_uri
from .errors import StartupError
from .jwk import DroppedKey, JwkSetError, parse_jwk_set
from .keys import KeySource, VerificationKey
from .model import IdentityProviderSpec

__all__ = ["JwksCache", "JwksCollector", "JwksPolicy", "ProviderMetrics", "ProviderStatus"]

log = logging.getLogger("tokensmith.jwks")

_MAX_REMEMBERED_DROPS = 10_000
DEFAULT_POLICY = JwksPolicy()


@dataclass(frozen=True)
class ProviderStatus:
    """The health of one provider's keys, safe to show to clients (no URL, no key material)."""

    ready: bool
    keys: int
    age: float | None  # seconds since the held keys were fetched; None: no keys yet
    last_error: str | None  # kind of the last fetch when it failed; None after a success
    consecutive_failures: int


class JwksCache:
    """The remote keys of the identity providers; see the module docstring.

    `providers` may hold every identity provider: those without `jwks_url` or `discovery` are
    ignored. `verify` is the TLS context for the fetches (None: httpx's default, the certifi CA
    bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set); there is deliberately no way to switch
    verification off. `transport` lets tests swap httpx's.
    """

    def __init__(
        self,
        providers: Iterable[IdentityProviderSpec],
        *,
        policy: JwksPolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.monotonic,
        verify: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        remote = [spec for spec in providers if spec.uses_remote_keys]
        problems = [problem for spec in remote for problem in _config_problems(spec)]
        if problems:
            raise StartupError(problems)
        self.policy = policy
        self._clock = clock
        self._verify = verify
        self._transport = transport
        self._rng = rng or random.Random()
        self._states = {spec.name: ProviderState(spec, policy) for spec in remote}
        self._sources = {name: RemoteKeySource(s, clock) for name, s in self._states.items()}
        self._client: httpx.AsyncClient | None = None
        self._refreshers: list[asyncio.Task[None]] = []

    @property
    def names(self) -> tuple[str, ...]:
        """The identity providers this cache fetches keys for."""
        return tuple(self._states)

    async def start(self) -> None:
        """Start every provider's first fetch, concurrently, and its refresher; return at once.

        Failures are never raised: they are logged, counted and retried with backoff. Await
        `wait_ready(name, timeout)` or poll `ready()` to know when keys are there.
        """
        if self._client is not None:
            return
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            verify=self._verify if self._verify is not None else True,
            timeout=httpx.Timeout(self.policy.fetch_deadline),
            transport=self._transport,
            headers={"User-Agent": "tokensmith"},
        )
        for state in self._states.values():
            self._start_fetch(state)
            task = asyncio.create_task(self._refresh_loop(state), name=f"jwks:{state.name}")
            self._refreshers.append(task)

    async def aclose(self) -> None:
        """Stop the refreshers and fetches under way, and close the HTTP client."""
        tasks = [*self._refreshers]
        tasks += [s.inflight for s in self._states.values() if s.inflight is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._refreshers.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def source(self, name: str) -> KeySource:
        """The `KeySource` of identity provider `name` (`KeyError` if it has no remote keys)."""
        return self._sources[name]

    async def refetch_for_unknown_kid(self, name: str, kid: str | None = None) -> None:
        """Refetch `name`'s keys because a token named a `kid` they lack; single flight.

        At most one such refetch starts per provider per `unknown_kid_cooldown` (and none while
        backing off after failures or a `Retry-After`); concurrent callers share the fetch under
        way; otherwise this returns at once and the caller answers from the snapshot. When a
        fetch ran and succeeded without `kid`, `kid` is remembered as absent until the next new
        snapshot, so that its token is refused (400) rather than answered "pending" (503).
        """
        state = self._states[name]
        fetch = state.inflight
        if fetch is None:
            now = self._clock()
            if self._client is None or now < state.cooldown_until or now < state.next_attempt_at:
                return
            state.cooldown_until = now + self.policy.unknown_kid_cooldown
            state.unknown_kid_refetches += 1
            fetch = self._start_fetch(state, for_kid=True)
        await asyncio.shield(fetch)
        if kid is not None:
            state.note_absent(kid)

    async def wait_ready(self, name: str, timeout: float) -> bool:
        """Wait up to `timeout` s for `name` to have usable keys; True when it has.

        Joins the fetch under way, or starts one unless the provider is backing off; many
        waiters at cold start share one fetch.
        """
        state = self._states[name]
        deadline = self._clock() + timeout
        while not state.usable(self._clock()):
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            started = self._client is not None
            if started and state.inflight is None and self._clock() >= state.next_attempt_at:
                self._start_fetch(state)
            await state.wait_change(remaining)
        return True

    def ready(self) -> bool:
        """True when every provider has usable keys (for `/readyz`)."""
        now = self._clock()
        return all(state.usable(now) for state in self._states.values())

    def status(self) -> Mapping[str, ProviderStatus]:
        """The health of each provider, for `/readyz` detail; no URLs, no key material."""
        now = self._clock()
        return MappingProxyType({
            name: ProviderStatus(
                ready=state.usable(now),
                keys=len(state.snapshot.keys) if state.snapshot else 0,
                age=now - state.snapshot.fetched_at if state.snapshot else None,
                last_error=state.last_error,
                consecutive_failures=state.failures,
            )
            for name, state in self._states.items()
        })

    def metrics_snapshot(self) -> Mapping[str, ProviderMetrics]:
        """The counters and gauges of every provider (see `JwksCollector` for Prometheus)."""
        now = self._clock()
        return MappingProxyType({
            name: ProviderMetrics(
                fetches=MappingProxyType(dict(state.fetches)),
                keys=len(state.snapshot.keys) if state.snapshot else 0,
                key_set_age=now - state.snapshot.fetched_at if state.snapshot else None,
                unknown_kid_refetches=state.unknown_kid_refetches,
                dropped_keys=MappingProxyType(dict(state.dropped)),
                ready=state.usable(now),
            )
            for name, state in self._states.items()
        })

    # -- fetching ---------------------------------------------------------------------------

    def _start_fetch(self, state: ProviderState, *, for_kid: bool = False) -> asyncio.Task[None]:
        """The provider's fetch under way, or a new one: never two at once (single flight)."""
        if state.inflight is None:
            state.inflight = asyncio.create_task(self._fetch(state), name=f"jwks-fetch:{state.name}")
            state.inflight_for_kid = for_kid
        return state.inflight

    async def _refresh_loop(self, state: ProviderState) -> None:
        """Refresh ahead of expiry, and retry after failures with backoff, forever."""
        while True:
            delay = max(state.refresh_due, state.next_attempt_at) - self._clock()
            if delay > 0:
                await state.wait_change(delay)  # a fetch by another path moves the schedule
                continue
            await asyncio.shield(self._start_fetch(state))

    async def _fetch(self, state: ProviderState) -> None:
        try:
            keys, ttl = await self._fetch_keys(state)
        except FetchError as exc:
            self._failed(state, exc)
        except Exception:  # a bug must not kill the refresher; the keys held stay
            log.exception("identity provider %s: JWKS fetch failed unexpectedly", state.name)
            self._failed(state, FetchError("error"))
        else:
            self._succeeded(state, keys, ttl)
        finally:
            state.inflight = None
            state.inflight_for_kid = False
            state.notify()

    async def _fetch_keys(self, state: ProviderState) -> tuple[tuple[VerificationKey, ...], float]:
        assert self._client is not None
        spec, policy = state.spec, self.policy
        limits = Limits(policy.fetch_deadline, policy.max_body_bytes, spec.allow_insecure_http)
        url = spec.jwks_url
        if url is None:
            assert spec.issuer is not None  # checked in __init__
            url = await discover_jwks_uri(self._client, spec.issuer, limits)
        fetched = await fetch_json(self._client, url, limits)
        try:
            result = parse_jwk_set(fetched.document, spec.algorithms, max_keys=policy.max_keys)
        except JwkSetError as exc:
            raise FetchError(exc.kind, f"{url}: {exc}") from None
        self._note_dropped(state, result.dropped)
        if not result.keys:
            raise FetchError("no_usable_keys", url)
        return result.keys, policy.clamp_ttl(fetched.max_age)

    def _succeeded(
        self, state: ProviderState, keys: tuple[VerificationKey, ...], ttl: float
    ) -> None:
        now = self._clock()
        if state.failures:
            log.info("identity provider %s: JWKS fetched again after %d failures",
                     state.name, state.failures)
        state.snapshot = Snapshot.of(keys, now, ttl)
        state.absent_kids.clear()
        state.failures = 0
        state.last_error = None
        state.next_attempt_at = -float("inf")
        ahead = self.policy.refresh_ahead - self.policy.refresh_jitter * self._rng.random()
        state.refresh_due = now + ttl * ahead
        state.fetches["ok"] += 1

    def _failed(self, state: ProviderState, exc: FetchError) -> None:
        state.failures += 1
        state.last_error = exc.kind
        state.fetches[exc.kind] += 1
        delay = self.policy.backoff(state.failures, exc.retry_after)
        state.next_attempt_at = self._clock() + delay
        held = f"{len(state.snapshot.keys)} last-good keys" if state.snapshot else "no keys"
        log.warning("identity provider %s: JWKS fetch failed: %s; next attempt in %.1f s, "
                    "serving %s", state.name, exc, delay, held)

    def _note_dropped(self, state: ProviderState, dropped: Iterable[DroppedKey]) -> None:
        """Log and count each dropped key once per (kid, reason); never its material."""
        for key in dropped:
            if (key.kid, key.reason) in state.logged_drops:
                continue
            if len(state.logged_drops) >= _MAX_REMEMBERED_DROPS:
                state.logged_drops.clear()  # a hostile set publishing new bad kids forever
            state.logged_drops.add((key.kid, key.reason))
            state.dropped[key.reason] += 1
            kid = "no kid" if key.kid is None else f"kid {key.kid[:64]!r}"
            log.warning("identity provider %s: dropped a published key (%s): %s",
                        state.name, kid, key.reason)


def _config_problems(spec: IdentityProviderSpec) -> list[str]:
    where = f"identity provider {spec.name}"
    if spec.jwks_url is not None:
        try:
            check_url(spec.jwks_url, spec.allow_insecure_http)
        except FetchError:
            return [f"{where}: jwks_url must be https (or loopback http with allow_insecure_http)"]
        return []
    if spec.issuer is None:
        return [f"{where}: discovery needs an issuer"]
    try:
        check_url(spec.issuer, spec.allow_insecure_http)
    except FetchError:
        return [f"{where}: discovery needs an https issuer"]
    return []

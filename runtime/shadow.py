"""Shadow revisions: a candidate bundle decides a sampled share of real exchanges, unheard.

`tokensmith serve BUNDLE --shadow CANDIDATE [--shadow-sample F]` loads both bundles at start-up
(`runtime.startup.prepare`; the candidate's state from `runtime.shadow_candidate`). For a sampled
request, the app runs the live exchange through `ObservedExchange`, which notes the `now` the
live decision was made at, sends the live answer, and only then hands the request, that `now`
and the live outcome to `Shadow.submit`. The candidate decides later, in a loop callback of its
own, with the same pure `exchange()` (its signers never sign), and the two outcomes are compared
and counted: `same`, `would_break`, `would_open`, `claims_changed`, `unknown` or `dropped`.

Isolation: nothing the candidate does reaches an answer. Its decisions run after the answer is
sent, at most `MAX_PER_TURN` or `TURN_BUDGET_SECONDS` per loop turn (so live callbacks
interleave), never raise, and wait in a queue of at most `MAX_PENDING` requests; a request that
finds the queue full, or waited more than `MAX_AGE_SECONDS` (the loop is too busy to keep up),
is counted `dropped` instead.

What operators see: `tokensmith_shadow_decisions_total{result}`, the same by service and
identity provider (`tokensmith_shadow_decisions_by_name_total`, names known to either bundle
only), and one JSON line per divergence on the `tokensmith.shadow` logger (request id, result,
both reason codes, the names of the claims that differ; never a value, never a token), at most
`LOG_BURST` at once and `LOG_PER_SECOND` after that, with the number suppressed in between.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .batching import Batcher
from .errors import KeysNotReady, UnknownKeyId
from .exchange import ExchangeRequest, Issued, exchange
from .jose import ParsedJWS, parse_compact
from .jti import new_jti
from .shadow_candidate import (
    DIVERGENCES,
    DROPPED,
    PLACEHOLDER_JTI,
    RESULTS,
    UNKNOWN,
    Candidate,
    compare,
    decide,
    identity_provider_of,
    live_decision,
    reason_of,
)
from .state import ExchangeState

MAX_PENDING = 1024
MAX_PER_TURN = 32
#: A loop turn stops deciding after this many seconds, so a slow candidate delays live work
#: by about one of its decisions at a time.
TURN_BUDGET_SECONDS = 0.002
MAX_AGE_SECONDS = 1.0
LOG_PER_SECOND = 10.0
LOG_BURST = 20
#: At most this many claim names in one divergence line, each at most `MAX_NAME` characters.
MAX_NAMES = 32
MAX_NAME = 64

log = logging.getLogger("tokensmith.shadow")


class Attempt:
    """One sampled live exchange: its request, the `now` it was decided at, what it gave, and
    its envelope step's parse of the subject token (None if it did not get that far or the
    token is not a JWS), which the candidate reuses instead of parsing the same text again."""

    __slots__ = ("jws", "live", "now", "request")

    def __init__(self, request: ExchangeRequest) -> None:
        self.request = request
        self.now = 0.0
        self.live: Issued | Exception | None = None
        self.jws: ParsedJWS | None = None

    def parse(self, token: str, max_length: int) -> ParsedJWS:
        """`parse_compact`, noting its result: the live exchange's envelope step."""
        self.jws = jws = parse_compact(token, max_length)
        return jws


class ObservedExchange:
    """`Runtime.exchange` for a sampled request, noting the `now` of the decision answered.

    The same batching and the same JWKS retry as `Runtime.exchange` (`await_keys` is the
    runtime's), so a sampled request is answered as any other.
    """

    def __init__(
        self,
        state: ExchangeState,
        await_keys: Callable[[UnknownKeyId | KeysNotReady], Awaitable[None]],
    ) -> None:
        self.state = state
        self.await_keys = await_keys
        self.batcher: Batcher[Attempt, Issued] = Batcher(self._once)

    def _once(self, attempt: Attempt) -> Issued:
        attempt.now = now = time.time()
        return exchange(self.state, attempt.request, now, new_jti, attempt.parse)

    async def exchange(self, attempt: Attempt) -> Issued:
        """The live exchange of `attempt`, its outcome noted on it: the `Issued`, or the
        exception the request is answered with."""
        try:
            try:
                issued = await self.batcher.submit(attempt)
            except (UnknownKeyId, KeysNotReady) as exc:
                await self.await_keys(exc)
                issued = self._once(attempt)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling() == 0:
                    # as in `Runtime.exchange`: the batch gave up on its item, nobody cancelled us
                    raise RuntimeError("the exchange batch was abandoned") from None
                raise
        except Exception as exc:
            attempt.live = exc
            raise
        attempt.live = issued
        return issued


class Shadow:
    """The candidate's side of a shadowed server: sampling, the queue, counting, logging."""

    def __init__(
        self,
        candidate: Candidate,
        sample: float,
        live: ExchangeState,
        *,
        max_pending: int | None = None,
        max_age: float | None = None,
    ) -> None:
        self.candidate = candidate
        self.sample = sample
        self.live_sources = live.key_sources
        self.max_pending = MAX_PENDING if max_pending is None else max_pending
        self.max_age = MAX_AGE_SECONDS if max_age is None else max_age
        config = candidate.bundle.config
        # label values: names either bundle knows, never a name taken from a request
        live_services = live.bundle.config.token_providers
        self.services = frozenset(live_services) | frozenset(config.token_providers)
        self.counts: dict[str, int] = dict.fromkeys(RESULTS, 0)
        self.by_name: dict[tuple[str, str, str], int] = {}
        self._pending: deque[tuple[str, Attempt, float]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False
        self._log_tokens = float(LOG_BURST)
        self._log_at = time.monotonic()
        self._suppressed = 0

    @property
    def revision(self) -> str:
        return self.candidate.revision

    async def start(self) -> None:
        """Start fetching the keys only the candidate needs, in the background."""
        if self.candidate.cache is not None:
            await self.candidate.cache.start()

    async def stop(self) -> None:
        if self.candidate.cache is not None:
            await self.candidate.cache.aclose()

    def sampled(self) -> bool:
        """Whether this request is one the candidate decides too."""
        sample = self.sample
        return sample >= 1.0 or (sample > 0.0 and random.random() < sample)

    def submit(self, request_id: str, attempt: Attempt) -> None:
        """Queue `attempt` for the candidate (its live answer has been sent): decided in a
        later loop callback, or counted `dropped` when the queue is full."""
        if len(self._pending) >= self.max_pending:
            self._count(DROPPED, attempt.request.service, None)
            return
        loop = self._loop
        if loop is None or not loop.is_running():
            loop = self._loop = asyncio.get_running_loop()
            self._scheduled = False
        self._pending.append((request_id, attempt, loop.time()))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Decide up to `MAX_PER_TURN` queued requests, for about `TURN_BUDGET_SECONDS`; the
        rest in a later loop turn."""
        pending = self._pending
        started = loop.time()
        oldest, deadline = started - self.max_age, started + TURN_BUDGET_SECONDS
        for _ in range(min(MAX_PER_TURN, len(pending))):
            if loop.time() > deadline:
                break
            request_id, attempt, queued = pending.popleft()
            if queued < oldest:  # the loop is too busy for the candidate: shed, never pile up
                self._count(DROPPED, attempt.request.service, None)
                continue
            try:
                self.decide(request_id, attempt)
            except Exception as exc:  # never out of a loop callback; the live side is done
                log.error("unexpected %s in a shadow decision", exc.__class__.__name__)
                self._count(UNKNOWN, attempt.request.service, None)
        if pending:
            loop.call_soon(self._drain, loop)
        else:
            self._scheduled = False

    def decide(self, request_id: str, attempt: Attempt) -> str:
        """Decide `attempt` with the candidate at the live decision's `now`, count the result
        and log a divergence; returns the result."""
        assert attempt.live is not None
        live = live_decision(attempt.live)
        if isinstance(live, Issued):  # the usual case, without the calls below
            live_provider: str | None = live.identity_provider
            # the live token's `jti`: claims equal to the live ones give the same payload
            jti = live.claims["jti"]
        else:
            live_provider, jti = identity_provider_of(live), PLACEHOLDER_JTI
        verified = self.candidate.verified
        if live_provider is not None:  # the live side verified the signature
            verified.source = self.live_sources.get(live_provider)
        try:
            candidate = decide(
                self.candidate.state, attempt.request, attempt.now, attempt.jws, jti
            )
        finally:
            verified.source = None
        result, changed = compare(live, candidate)
        identity_provider = live_provider or identity_provider_of(candidate)
        service = self._count(result, attempt.request.service, identity_provider)
        if result in DIVERGENCES:
            self._log_divergence({
                "shadow": result,
                "request_id": request_id,
                "service": service,
                "identity_provider": identity_provider or "",
                "live": reason_of(live),
                "candidate": reason_of(candidate),
                "claims": [name[:MAX_NAME] for name in changed[:MAX_NAMES]],
                "candidate_revision": self.revision,
            })
        return result

    def _count(self, result: str, service: str, identity_provider: str | None) -> str:
        """Count one decision; returns the service label: the service when a bundle knows it and
        a signature verified (as the exchange metrics label, so that unauthenticated requests
        add no series), else empty."""
        self.counts[result] += 1
        label = service if identity_provider and service in self.services else ""
        key = (result, label, identity_provider or "")
        self.by_name[key] = self.by_name.get(key, 0) + 1
        return label

    def _log_divergence(self, line: dict[str, Any]) -> None:
        now = time.monotonic()
        self._log_tokens = min(LOG_BURST, self._log_tokens + (now - self._log_at) * LOG_PER_SECOND)
        self._log_at = now
        if self._log_tokens < 1.0:
            self._suppressed += 1
            return
        self._log_tokens -= 1.0
        if self._suppressed:
            line["suppressed_before"], self._suppressed = self._suppressed, 0
        log.warning(orjson.dumps(line).decode())

    def status(self) -> Mapping[str, Any]:
        """The candidate for `/readyz`: its revision, the sample, its keys' readiness."""
        cache = self.candidate.cache
        own = len(cache.names) if cache is not None else 0
        ready = sum(1 for s in cache.status().values() if s.ready) if cache is not None else 0
        return {
            "revision": self.revision,
            "sample": self.sample,
            "jwks_identity_providers_own": own,
            "jwks_identity_providers_own_ready": ready,
            "identity_providers_sharing_live_keys": len(self.candidate.shared_keys),
        }


class ShadowCollector(Collector):
    """A shadow's counters as Prometheus counters, at scrape time; `frozen()` is a copy of this
    moment's numbers, which a scrape renders off the event loop (`Metrics.render_off_loop`)."""

    def __init__(
        self,
        numbers: Callable[[], tuple[Mapping[str, int], Mapping[tuple[str, str, str], int]]],
        revision: str,
        sample: float,
    ) -> None:
        self.numbers = numbers
        self.revision = revision
        self.sample = sample

    @classmethod
    def of(cls, shadow: Shadow) -> ShadowCollector:
        return cls(lambda: (shadow.counts, shadow.by_name), shadow.revision, shadow.sample)

    def frozen(self) -> ShadowCollector:
        counts, by_name = self.numbers()
        copy = (dict(counts), dict(by_name))
        return ShadowCollector(lambda: copy, self.revision, self.sample)

    def collect(self) -> Iterator[Metric]:
        counts, by_name = self.numbers()
        total = CounterMetricFamily(
            "tokensmith_shadow_decisions",
            "Shadow decisions of the candidate bundle by result.", labels=("result",))
        for result, count in counts.items():
            total.add_metric((result,), count)
        yield total
        by_names = CounterMetricFamily(
            "tokensmith_shadow_decisions_by_name",
            "Shadow decisions by result, service and identity provider (names either bundle "
            "knows; empty otherwise).", labels=("result", "service", "identity_provider"))
        for key, count in sorted(by_name.items()):
            by_names.add_metric(key, count)
        yield by_names
        info = GaugeMetricFamily(
            "tokensmith_shadow_info", "The shadow candidate bundle; the value is always 1.",
            labels=("revision", "sample"))
        info.add_metric((self.revision, repr(self.sample)), 1)
        yield info

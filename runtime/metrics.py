"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

Label values come only from the config (identity provider and service names), from the fixed
`reason` codes of refusals, and from the fixed list of routes. An exchange is labelled with its
identity provider and service only once a signature has verified (issued, or refused by a later
step): anyone can send a malformed token naming any service, and that must not add a series per
(reason x service) or (provider x service); so the series an unauthenticated client can create
are at most one per refusal reason.

A scrape copies the numbers on the event loop (a dictionary copy) and writes the text, which
for a large config takes long, in a worker thread (`render_off_loop`), so that answering
`POST /tokens` never waits for it.

The per-request counters are plain integers in dictionaries, exposed at scrape time by a
collector (`_RequestCollector`) as the same families prometheus-client's `Counter` and
`Histogram` would write: `*_total` and `*_created` samples, cumulative `_bucket`s with `le`,
`_count` and `_sum`. prometheus-client's own collectors take a lock and make several Python
calls per increment, several times the cost of these dictionary updates
(`bench/README.md`, "Figures behind design choices"). `POST /tokens` goes further: `tokens()` only appends the request's outcome to a
list, which is counted `PENDING_EXCHANGES` at a time or before any scrape, with warm caches.
The app updates them on its event loop thread only, so they need no lock; a scrape renders a
copy made on that thread.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = CONTENT_TYPE_LATEST

PENDING_EXCHANGES = 256
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

EXCHANGES = ("tokensmith_exchanges",
             "Token exchange requests by outcome (issued or the refusal reason).",
             ("outcome", "identity_provider", "service"))
EXCHANGE_SECONDS = ("tokensmith_exchange_duration_seconds",
                    "Time to answer POST /tokens, from the request reaching the app to its answer.",
                    ("result",))
BUNDLE_INFO = ("tokensmith_bundle_info",
               "The loaded bundle; the value is always 1. `signed` is true when trusted keys "
               "signed it (`serve --trust`); `signers` lists their key ids, comma-separated.",
               ("revision", "signed", "signers"))
REQUESTS = ("tokensmith_http_requests", "HTTP requests by route and status code.",
            ("route", "status"))


# the `le` label values, spelled as prometheus-client spells them
_LE = tuple(floatToGoString(b) for b in (*LATENCY_BUCKETS, float("inf")))  # type: ignore[no-untyped-call]


class _Latency:
    """One histogram child: a count per bucket (the last one is +Inf), the sum, the creation."""

    __slots__ = ("counts", "created", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.created = time.time()


class Freezable(Protocol):
    """A collector that can give a copy of its numbers, to be collected on another thread."""

    def collect(self) -> Iterable[Metric]: ...

    def frozen(self) -> Collector: ...


class Metrics:
    """The collectors of one app; `render()` gives the Prometheus text format."""

    def __init__(
        self,
        revision: str,
        registry: CollectorRegistry | None = None,
        *,
        signers: tuple[str, ...] = (),
    ) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        # label values -> [count, created]
        self._exchanges: dict[tuple[str, str, str], list[float]] = {}
        self._requests: dict[tuple[str, int], list[float]] = {}
        self._latency = {"issued": _Latency(), "refused": _Latency()}
        self._pending: list[tuple[str, str | None, str | None, int, float]] = []
        self._freezable: list[Freezable] = [_RequestCollector(self)]
        self.registry.register(self._freezable[0])
        self.bundle = Gauge(*BUNDLE_INFO, registry=self.registry)
        signed = "true" if signers else "false"
        self.bundle.labels(revision, signed, ",".join(signers)).set(1)

    def register(self, collector: Freezable) -> None:
        """Add a collector of another part (the JWKS cache) to this app's registry."""
        self._freezable.append(collector)
        self.registry.register(collector)

    def tokens(
        self,
        outcome: str,
        identity_provider: str | None,
        service: str | None,
        status: int,
        seconds: float,
    ) -> None:
        """Count one answered `POST /tokens`, as `exchange` and `request` would, a bit later."""
        pending = self._pending
        pending.append((outcome, identity_provider, service, status, seconds))
        if len(pending) >= PENDING_EXCHANGES:
            self.count_pending()

    def count_pending(self) -> None:
        """Count what `tokens` left pending (before a scrape, and when the list is full)."""
        pending, self._pending = self._pending, []
        for outcome, identity_provider, service, status, seconds in pending:
            self.exchange(outcome, identity_provider, service, seconds)
            self.request("/tokens", status)

    def exchange(
        self, outcome: str, identity_provider: str | None, service: str | None, seconds: float
    ) -> None:
        """Count one answered `POST /tokens`."""
        key = (outcome, identity_provider or "", service or "")
        entry = self._exchanges.get(key)
        if entry is None:
            entry = self._exchanges[key] = [0, time.time()]
        entry[0] += 1
        latency = self._latency["issued" if outcome == "issued" else "refused"]
        latency.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        latency.total += seconds

    def request(self, route: str, status: int) -> None:
        """Count one HTTP request."""
        key = (route, status)
        entry = self._requests.get(key)
        if entry is None:
            entry = self._requests[key] = [0, time.time()]
        entry[0] += 1

    def answered(self) -> tuple[int, int]:
        """(HTTP requests, tokens issued) counted so far, the pending ones included."""
        self.count_pending()
        requests = sum(int(count) for count, _ in self._requests.values())
        issued = sum(int(count) for (outcome, _, _), (count, _) in self._exchanges.items()
                     if outcome == "issued")
        return requests, issued

    def render(self) -> bytes:
        """The Prometheus text of every collector, written on the calling thread."""
        return generate_latest(self.registry)

    async def render_off_loop(self) -> bytes:
        """`render()` for a scrape: only the copy of the numbers is made on the event loop."""
        return await asyncio.to_thread(generate_latest, self.freeze())

    def freeze(self) -> CollectorRegistry:
        """A registry holding a copy of this moment's numbers, safe to render on any thread."""
        registry = CollectorRegistry(auto_describe=False)
        for collector in self._freezable:
            registry.register(collector.frozen())
        registry.register(self.bundle)  # prometheus-client's Gauge has a lock of its own
        return registry


class _Counts:
    """The plain numbers a `_RequestCollector` writes: live ones, or a copy (`frozen`)."""

    def __init__(self, metrics: Metrics) -> None:
        metrics.count_pending()
        # copies of the dictionaries and of each entry: the loop thread keeps counting
        self.exchanges = {k: (int(v[0]), v[1]) for k, v in metrics._exchanges.items()}
        self.requests = {k: (int(v[0]), v[1]) for k, v in metrics._requests.items()}
        self.latency = {}
        for result, child in metrics._latency.items():
            copy = self.latency[result] = _Latency()
            copy.counts, copy.total, copy.created = list(child.counts), child.total, child.created


class _RequestCollector(Collector):
    """Writes `Metrics`' plain counters as prometheus-client's Counter and Histogram would."""

    def __init__(self, metrics: Metrics, counts: _Counts | None = None) -> None:
        self.metrics = metrics
        self.counts = counts

    def frozen(self) -> _RequestCollector:
        """A collector of a copy of the numbers, made now (on the event loop thread)."""
        return _RequestCollector(self.metrics, _Counts(self.metrics))

    def collect(self) -> Iterator[Metric]:
        counts = self.counts or _Counts(self.metrics)
        exchanges = CounterMetricFamily(EXCHANGES[0], EXCHANGES[1], labels=EXCHANGES[2])
        for key, (count, created) in sorted(counts.exchanges.items()):
            exchanges.add_metric(key, count, created=created)
        yield exchanges
        name = EXCHANGE_SECONDS[0]
        latency = HistogramMetricFamily(name, EXCHANGE_SECONDS[1], labels=EXCHANGE_SECONDS[2])
        for result, child in counts.latency.items():
            cumulative, buckets = 0, []
            for le, count in zip(_LE, child.counts, strict=True):
                cumulative += count
                buckets.append((le, float(cumulative)))
            latency.add_metric([result], buckets, child.total)
            latency.samples.append(Sample(f"{name}_created", {"result": result}, child.created))
        yield latency
        requests = CounterMetricFamily(REQUESTS[0], REQUESTS[1], labels=REQUESTS[2])
        for (route, status), (count, created) in sorted(counts.requests.items()):
            requests.add_metric((route, str(status)), count, created=created)
        yield requests

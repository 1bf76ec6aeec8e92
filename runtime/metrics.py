"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

Label values come only from the config (identity provider and service names), from the fixed
`reason` codes of refusals, and from the fixed list of routes, so their number stays bounded
whatever clients send.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The collectors of one app; `render()` gives the Prometheus text format."""

    def __init__(self, revision: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.exchanges = Counter(
            "tokensmith_exchanges",
            "Token exchange requests by outcome (issued or the refusal reason).",
            ("outcome", "identity_provider", "service"),
            registry=self.registry,
        )
        self.exchange_seconds = Histogram(
            "tokensmith_exchange_duration_seconds",
            "Time to answer POST /tokens, from the first byte of the body to the answer.",
            ("result",),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "tokensmith_http_requests",
            "HTTP requests by route and status code.",
            ("route", "status"),
            registry=self.registry,
        )
        self.bundle = Gauge(
            "tokensmith_bundle_info",
            "The loaded bundle; the value is always 1.",
            ("revision",),
            registry=self.registry,
        )
        self.bundle.labels(revision).set(1)
        # labelled children looked up once: `labels()` costs more than the increment
        self._exchange_children: dict[tuple[str, str, str], Counter] = {}
        self._request_children: dict[tuple[str, int], Counter] = {}
        self._latency = {r: self.exchange_seconds.labels(r) for r in ("issued", "refused")}

    def exchange(
        self, outcome: str, identity_provider: str | None, service: str | None, seconds: float
    ) -> None:
        """Count one answered `POST /tokens`."""
        key = (outcome, identity_provider or "", service or "")
        counter = self._exchange_children.get(key)
        if counter is None:
            counter = self._exchange_children[key] = self.exchanges.labels(*key)
        counter.inc()
        self._latency["issued" if outcome == "issued" else "refused"].observe(seconds)

    def request(self, route: str, status: int) -> None:
        """Count one HTTP request."""
        key = (route, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(route, str(status))
        counter.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

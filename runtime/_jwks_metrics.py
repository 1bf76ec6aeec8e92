"""Metrics of the JWKS cache: plain numbers per provider, and a Prometheus collector over them.

The cache counts in plain Python (`ProviderMetrics`); `JwksCollector` turns a snapshot of those
numbers into metric families at scrape time, so the cache never depends on a registry and the
app registers the collector in its own `CollectorRegistry`. Label values are identity provider
names (from the config) and the fixed result / drop-reason codes, so they stay bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric


@dataclass(frozen=True)
class ProviderMetrics:
    """The numbers of one identity provider at one moment."""

    fetches: Mapping[str, int]  # result ("ok" or a failure kind) -> count
    keys: int
    key_set_age: float | None  # seconds since the held keys were fetched; None: no keys
    unknown_kid_refetches: int
    dropped_keys: Mapping[str, int]  # drop reason -> distinct keys dropped for it
    ready: bool


class JwksCollector:
    """A prometheus-client collector: `registry.register(JwksCollector(cache.metrics_snapshot))`."""

    def __init__(self, snapshot: Callable[[], Mapping[str, ProviderMetrics]]) -> None:
        self._snapshot = snapshot

    def frozen(self) -> JwksCollector:
        """A collector of this moment's numbers, taken now: safe to collect on another thread."""
        numbers = self._snapshot()
        return JwksCollector(lambda: numbers)

    def collect(self) -> Iterable[Metric]:
        label = ["identity_provider"]
        fetches = CounterMetricFamily(
            "tokensmith_jwks_fetches", "JWKS fetches by result (ok or the failure kind).",
            labels=[*label, "result"],
        )
        keys = GaugeMetricFamily(
            "tokensmith_jwks_keys", "Usable keys held for the identity provider.", labels=label
        )
        age = GaugeMetricFamily(
            "tokensmith_jwks_key_set_age_seconds",
            "Seconds since the held key set was fetched.", labels=label,
        )
        refetches = CounterMetricFamily(
            "tokensmith_jwks_unknown_kid_refetches",
            "Refetches caused by tokens with an unknown kid.", labels=label,
        )
        dropped = CounterMetricFamily(
            "tokensmith_jwks_dropped_keys",
            "Distinct published keys dropped by key hygiene, by reason.",
            labels=[*label, "reason"],
        )
        ready = GaugeMetricFamily(
            "tokensmith_jwks_ready", "1 when the identity provider has usable keys.", labels=label
        )
        for name, m in sorted(self._snapshot().items()):
            for result, count in sorted(m.fetches.items()):
                fetches.add_metric([name, result], count)
            keys.add_metric([name], m.keys)
            if m.key_set_age is not None:
                age.add_metric([name], m.key_set_age)
            refetches.add_metric([name], m.unknown_kid_refetches)
            for reason, count in sorted(m.dropped_keys.items()):
                dropped.add_metric([name, reason], count)
            ready.add_metric([name], 1.0 if m.ready else 0.0)
        return [fetches, keys, age, refetches, dropped, ready]

"""`Metrics` writes what prometheus-client's own Counter and Histogram would for the same events.

The reference is built from prometheus-client's classes with the same names, help texts, labels
and buckets; both expositions are compared line by line, the `_created` timestamps (which
differ by the microseconds between the two) compared by name and labels only.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tokensmith.runtime.metrics import (
    BUNDLE_INFO,
    EXCHANGE_SECONDS,
    EXCHANGES,
    LATENCY_BUCKETS,
    PENDING_EXCHANGES,
    REQUESTS,
    Metrics,
)


class _Reference:
    def __init__(self, revision: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.exchanges = Counter(*EXCHANGES, registry=self.registry)
        self.seconds = Histogram(*EXCHANGE_SECONDS, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.requests = Counter(*REQUESTS, registry=self.registry)
        for result in ("issued", "refused"):
            self.seconds.labels(result)
        Gauge(*BUNDLE_INFO, registry=self.registry).labels(revision, "false", "").set(1)

    def exchange(self, outcome: str, idp: str | None, service: str | None, seconds: float) -> None:
        self.exchanges.labels(outcome, idp or "", service or "").inc()
        self.seconds.labels("issued" if outcome == "issued" else "refused").observe(seconds)

    def request(self, route: str, status: int) -> None:
        self.requests.labels(route, str(status)).inc()


def _lines(text: bytes) -> list[str]:
    out = []
    for line in text.decode().splitlines():
        if "_created{" in line and not line.startswith("#"):
            line = line.rsplit(" ", 1)[0] + " <time>"
        out.append(line)
    # families come out in registration order; compare them as sets of blocks' lines
    return sorted(out)


_EVENTS = st.lists(
    st.one_of(
        st.tuples(
            st.just("exchange"),
            st.sampled_from(["issued", "bad_signature", "expired", "unknown_service"]),
            st.sampled_from([None, "auth0", "supabase"]),
            st.sampled_from([None, "app", "billing"]),
            # around and on the bucket bounds, and past the last one
            st.sampled_from([0.0, 0.0005, 0.0004, 0.001, 0.0011, 0.05, 2.5, 3.0, 120.0])
            | st.floats(min_value=0, max_value=10, allow_nan=False),
        ),
        st.tuples(
            st.just("request"),
            st.sampled_from(["/tokens", "/healthz", "other"]),
            st.sampled_from([200, 400, 404, 503]),
        ),
    ),
    max_size=60,
)


@pytest.mark.slow
@settings(max_examples=150)
@given(_EVENTS)
def test_exposition_matches_prometheus_clients_own_collectors(events: list[tuple]) -> None:
    ours, reference = Metrics("rev1"), _Reference("rev1")
    for event in events:
        for target in (ours, reference):
            getattr(target, event[0])(*event[1:])
    assert _lines(ours.render()) == _lines(generate_latest(reference.registry))


def test_counts_and_buckets_read_back() -> None:
    metrics = Metrics("rev1")
    for _ in range(3):
        metrics.exchange("issued", "auth0", "app", 0.0007)
    metrics.exchange("bad_signature", None, "app", 0.3)
    metrics.request("/tokens", 200)
    text = metrics.render().decode()
    assert 'tokensmith_exchanges_total{identity_provider="auth0",outcome="issued",service="app"} 3.0' in text
    assert 'tokensmith_exchanges_total{identity_provider="",outcome="bad_signature",service="app"} 1.0' in text
    assert 'tokensmith_exchange_duration_seconds_bucket{le="0.0005",result="issued"} 0.0' in text
    assert 'tokensmith_exchange_duration_seconds_bucket{le="0.001",result="issued"} 3.0' in text
    assert 'tokensmith_exchange_duration_seconds_count{result="refused"} 1.0' in text
    assert 'tokensmith_http_requests_total{route="/tokens",status="200"} 1.0' in text
    assert 'tokensmith_bundle_info{revision="rev1",signed="false",signers=""} 1.0' in text


def test_many_label_sets_stay_separate() -> None:
    metrics, reference = Metrics("r"), _Reference("r")
    rng = random.Random(7)
    for _ in range(2000):
        args = (rng.choice(["issued", "expired"]), f"idp{rng.randrange(50)}", "svc", rng.random())
        metrics.exchange(*args)
        reference.exchange(*args)
    assert _lines(metrics.render()) == _lines(generate_latest(reference.registry))


def test_pending_tokens_are_counted_before_any_scrape() -> None:
    ours, reference = Metrics("r"), _Reference("r")
    for i in range(PENDING_EXCHANGES * 2 + 7):  # two full lists counted on the way, 7 pending
        outcome = "issued" if i % 4 else "expired"
        ours.tokens(outcome, "auth0", "app", 200 if i % 4 else 400, 0.001 * (i % 7))
        reference.exchange(outcome, "auth0", "app", 0.001 * (i % 7))
        reference.request("/tokens", 200 if i % 4 else 400)
    assert len(ours._pending) == 7
    # a scrape through the registry alone (as a pushgateway or a test would) counts them too
    assert _lines(generate_latest(ours.registry)) == _lines(generate_latest(reference.registry))
    assert ours._pending == []

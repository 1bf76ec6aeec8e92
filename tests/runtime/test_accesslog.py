"""The access log when `tokensmith serve` configured it: lines formatted in batches, in order,
with the latency measured when the request ended, not when its line was formatted."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokensmith.runtime import accesslog
from tokensmith.runtime.accesslog import PENDING_LINES, RequestRecord, log_request


@pytest.fixture()
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.BytesIO]:
    buffer = io.BytesIO()
    monkeypatch.setattr(accesslog._Sink, "stream", None)
    monkeypatch.setattr(accesslog._Sink, "pending", [])
    accesslog.configure(buffer)  # type: ignore[arg-type]
    yield buffer


def _record(i: int) -> RequestRecord:
    return RequestRecord(f"req-{i:08d}", "POST", "/tokens", time.perf_counter_ns(), 200,
                         "issued", "auth0", "app")


def _lines(buffer: io.BytesIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_lines_wait_for_a_full_batch_or_a_flush(stream: io.BytesIO) -> None:
    for i in range(PENDING_LINES - 1):
        log_request(_record(i), "rev")
    assert stream.getvalue() == b""  # nothing formatted yet
    log_request(_record(PENDING_LINES - 1), "rev")  # the list is full: formatted
    assert len(_lines(stream)) == PENDING_LINES
    log_request(_record(PENDING_LINES), "rev")
    accesslog.flush()
    lines = _lines(stream)
    assert [line["request_id"] for line in lines] == [
        f"req-{i:08d}" for i in range(PENDING_LINES + 1)
    ]
    assert set(lines[0]) == {
        "time", "request_id", "method", "path", "status", "outcome", "identity_provider",
        "service", "latency_ms", "revision",
    }


def test_latency_and_time_are_taken_when_the_request_ends(stream: io.BytesIO) -> None:
    ended = time.time()
    log_request(_record(1), "rev")
    time.sleep(1.2)  # the line is formatted more than a second later
    accesslog.flush()
    (line,) = _lines(stream)
    assert isinstance(line["latency_ms"], float) and 0 <= line["latency_ms"] < 100
    seconds = {int(ended), int(ended) + 1}  # logged at most a few ms after `ended`
    assert line["time"] in {time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s)) for s in seconds}
    assert line["time"] != time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def test_a_closed_stream_does_not_fail_the_request(stream: io.BytesIO) -> None:
    stream.close()
    for i in range(PENDING_LINES + 1):
        log_request(_record(i), "rev")  # formatting into a closed stream: dropped, no error
    accesslog.flush()


def _reference_line(
    record: RequestRecord, revision: str, now: float, ended_ns: int
) -> dict[str, Any]:
    """The line as a plain object, which orjson writes: what `_line_bytes` must equal."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(now))),
        "request_id": record.request_id,
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "outcome": record.outcome,
        "identity_provider": record.identity_provider,
        "service": record.service,
        "latency_ms": round((ended_ns - record.started_ns) / 1e6, 3),
        "revision": revision,
    }


_TEXT = st.text(max_size=20)  # quotes, backslashes, control and non-ASCII characters included


@settings(max_examples=300)
@given(
    request_id=_TEXT,
    method=st.sampled_from(["POST", "GET", "OPTIONS"]) | _TEXT,
    path=st.sampled_from(["/tokens", "/healthz", "other"]) | _TEXT,
    status=st.integers(min_value=0, max_value=999),
    outcome=st.none() | _TEXT,
    identity_provider=st.none() | _TEXT,
    service=st.none() | _TEXT,
    revision=_TEXT,
    now=st.floats(min_value=0, max_value=4e9),
    started_ns=st.integers(min_value=0, max_value=2**62),
    took_ns=st.integers(min_value=0, max_value=10**13),
)
def test_fast_lines_are_exactly_orjsons_lines(
    request_id: str, method: str, path: str, status: int, outcome: str | None,
    identity_provider: str | None, service: str | None, revision: str, now: float,
    started_ns: int, took_ns: int,
) -> None:
    record = RequestRecord(request_id, method, path, started_ns, status, outcome,
                           identity_provider, service)
    entry = (record, revision, now, started_ns + took_ns)
    expected = orjson.dumps(_reference_line(*entry), option=orjson.OPT_APPEND_NEWLINE)
    assert accesslog._line_bytes(*entry) == expected
    assert accesslog._line_bytes(*entry) == expected  # remembered the second time


def test_the_table_of_repeated_members_stays_bounded() -> None:
    for i in range(accesslog.MAX_MIDDLES * 2):
        record = RequestRecord("r", "POST", "/tokens", 0, 200, "issued", f"idp-{i}", "app")
        line = json.loads(accesslog._line_bytes(record, "rev", 0.0, 1000))
        assert line["identity_provider"] == f"idp-{i}"
        assert len(accesslog._middles) <= accesslog.MAX_MIDDLES

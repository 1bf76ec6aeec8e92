"""The access log when `tokensmith serve` configured it: lines formatted in batches, in order,
with the latency measured when the request ended, not when its line was formatted.

(The lines themselves are pinned against orjson in `test_shortcut_equivalence.py`.)"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest

from tokensmith.runtime import accesslog
from tokensmith.runtime.accesslog import PENDING_LINES, RequestRecord, log_request


@pytest.fixture()
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.BytesIO]:
    buffer = io.BytesIO()
    monkeypatch.setattr(accesslog, "_sink", accesslog._Sink())  # a process log not configured yet
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


@pytest.mark.slow
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

"""One JSON line per request: the access log.

The record holds only what an operator needs and nothing a client sent verbatim except the
method and the path of a known route: never a token, a claim value, a header value or a body.
The identity provider and service are names from the config (never the raw `audience`), the
outcome is `issued` or the refusal's stable `reason` code.

Where the lines go: `tokensmith serve` calls `configure()`, and lines are written straight to
standard error through a 64 KiB buffer that `flush()` empties (the app flushes every
`FLUSH_SECONDS` and at shutdown): going through `logging` costs far more CPU per request.
Lines are also formatted in batches: a request leaves its record and two clock readings in a
list, and up to `PENDING_LINES` of them are formatted together (when the list is full, and at
every flush), with warm caches, at a third of the cost of formatting each between network
writes (`bench/README.md`, "Figures behind design choices"). Lines are written by `access_lines.LineFormatter` (remembered fragments). Without
`configure()` (the app embedded, tests), each line goes at once to the logger
`tokensmith.access` at level INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import time
from dataclasses import dataclass
from typing import BinaryIO

from .access_lines import LineFormatter

LOGGER_NAME = "tokensmith.access"
FLUSH_SECONDS = 0.5
BUFFER_BYTES = 64 * 1024
PENDING_LINES = 256

logger = logging.getLogger(LOGGER_NAME)


@dataclass(slots=True)
class RequestRecord:
    """What the app learns about one request while serving it; filled in as it goes."""

    request_id: str
    method: str
    path: str
    started_ns: int
    status: int = 0
    outcome: str | None = None
    identity_provider: str | None = None
    service: str | None = None


class _Sink:
    """The access log of this process: the stream `configure()` named (None: the logger), the
    finished requests whose lines are not formatted yet, and the formatter."""

    __slots__ = ("formatter", "pending", "stream")

    def __init__(self) -> None:
        self.stream: BinaryIO | None = None
        #: (record, revision, wall-clock time, perf_counter_ns at the end) of unformatted lines
        self.pending: list[tuple[RequestRecord, str, float, int]] = []
        self.formatter = LineFormatter()


_sink = _Sink()


def log_request(record: RequestRecord, revision: str) -> None:
    """Log a finished request (a cheap no-op when nothing listens); `record` must not change
    afterwards, its line may be formatted later (see the module docstring)."""
    sink = _sink
    if sink.stream is not None:
        pending = sink.pending
        pending.append((record, revision, time.time(), time.perf_counter_ns()))
        if len(pending) >= PENDING_LINES:
            _write_pending(sink)
    elif logger.isEnabledFor(logging.INFO):
        line = sink.formatter.line(record, revision, time.time(), time.perf_counter_ns())
        logger.info(line[:-1].decode())


def _write_pending(sink: _Sink) -> None:
    """Format the pending lines into the stream's buffer."""
    stream, pending = sink.stream, sink.pending
    sink.pending = []
    if stream is None:
        return
    line = sink.formatter.line
    text = b"".join([line(*entry) for entry in pending])
    # a closed or broken stderr must not fail a request
    with contextlib.suppress(OSError, ValueError):
        stream.write(text)


def clear_caches() -> None:
    """Forget the remembered line fragments (`runtime.caches.reset_all`)."""
    _sink.formatter.clear()


def configure(stream: BinaryIO | None = None) -> None:
    """Write access lines to `stream` (default: standard error), buffered; idempotent."""
    if _sink.stream is not None:
        return
    if stream is None:
        # a descriptor of our own: lines never interleave with text written to sys.stderr
        stream = io.BufferedWriter(io.FileIO(os.dup(2), "wb"), BUFFER_BYTES)
    _sink.stream = stream


async def flush_periodically() -> None:
    """Flush every `FLUSH_SECONDS` until cancelled (runs for the app's lifetime)."""
    try:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            flush()
    finally:
        flush()


def flush() -> None:
    """Push pending and buffered lines out (periodically and at shutdown)."""
    stream = _sink.stream
    if stream is not None:
        _write_pending(_sink)
        with contextlib.suppress(OSError, ValueError):
            stream.flush()

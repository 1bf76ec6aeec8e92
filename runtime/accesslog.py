"""One JSON line per request on the logger `tokensmith.access`.

The record holds only what an operator needs and nothing a client sent verbatim except the
method and the path of a known route: never a token, a claim value, a header value or a body.
The identity provider and service are names from the config (never the raw `audience`), the
outcome is `issued` or the refusal's stable `reason` code.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

import orjson

LOGGER_NAME = "tokensmith.access"
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


def log_request(record: RequestRecord, revision: str) -> None:
    """Write the access line for a finished request (cheap no-op when the logger is off)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "request_id": record.request_id,
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "outcome": record.outcome,
        "identity_provider": record.identity_provider,
        "service": record.service,
        "latency_ms": round((time.perf_counter_ns() - record.started_ns) / 1e6, 3),
        "revision": revision,
    }
    logger.info(orjson.dumps(line).decode())


def configure(stream: object = None) -> None:
    """Send access lines, as bare JSON, to `stream` (stderr by default); idempotent."""
    if any(getattr(h, "_tokensmith", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._tokensmith = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

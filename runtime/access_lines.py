"""Access-log lines from remembered fragments: byte for byte what orjson writes, a third of the cost.

`plain_line` is the reference: the line as an object (`time`, `request_id`, `method`, `path`,
`status`, `outcome`, `identity_provider`, `service`, `latency_ms`, `revision`, in that order)
written by orjson, with a newline. `LineFormatter.line` is its shortcut. Lines differ mostly in
their time, request id and latency; the members from `method` to `service` and the revision
repeat, so their JSON is written once per combination and remembered (at most `MAX_FRAGMENTS`
combinations; the table is emptied when full), and the time text is written once per second.
`tests/runtime/test_shortcut_equivalence.py` pins the two against each other.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from .accesslog import RequestRecord

MAX_FRAGMENTS = 4096

_Fragments = tuple[bytes, bytes]


def plain_line(record: RequestRecord, revision: str, now: float, ended_ns: int) -> bytes:
    """The JSON line of a request that ended at `now` (wall clock) and `ended_ns`
    (`perf_counter_ns`), and a newline: the reference of `LineFormatter.line`."""
    return orjson.dumps({
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
    }, option=orjson.OPT_APPEND_NEWLINE)


class LineFormatter:
    """`line(...)` = `plain_line(...)`, from remembered fragments (see the module docstring).

    Not thread-safe as a whole, but never wrong when shared: the clock is one tuple replaced
    whole, and a fragment missing from the table is written again.
    """

    __slots__ = ("_clock", "_fragments")

    def __init__(self) -> None:
        # (method, path, status, outcome, identity provider, service, revision) ->
        # (`,"method":...,"latency_ms":`, `,"revision":...}\n`)
        self._fragments: dict[tuple[object, ...], _Fragments] = {}
        self._clock: tuple[int, bytes] = (-1, b"")  # the second, and its text

    def line(self, record: RequestRecord, revision: str, now: float, ended_ns: int) -> bytes:
        """The JSON line of a request, as `plain_line` writes it."""
        key = (record.method, record.path, record.status, record.outcome,
               record.identity_provider, record.service, revision)
        parts = self._fragments.get(key)
        if parts is None:
            parts = self._remember(key, record, revision)
        second, text = self._clock
        if int(now) != second:
            text = self._tick(int(now))
        return b"".join((
            b'{"time":"', text, b'","request_id":', orjson.dumps(record.request_id),
            parts[0], orjson.dumps(round((ended_ns - record.started_ns) / 1e6, 3)), parts[1],
        ))

    def clear(self) -> None:
        """Forget every fragment and the clock."""
        self._fragments.clear()
        self._clock = (-1, b"")

    def __len__(self) -> int:
        """The number of remembered combinations."""
        return len(self._fragments)

    def _remember(
        self, key: tuple[object, ...], record: RequestRecord, revision: str
    ) -> _Fragments:
        if len(self._fragments) >= MAX_FRAGMENTS:
            self._fragments.clear()
        members = orjson.dumps({
            "method": record.method, "path": record.path, "status": record.status,
            "outcome": record.outcome, "identity_provider": record.identity_provider,
            "service": record.service,
        })
        parts = self._fragments[key] = (
            b"," + members[1:-1] + b',"latency_ms":',
            b',"revision":' + orjson.dumps(revision) + b"}\n",
        )
        return parts

    def _tick(self, second: int) -> bytes:
        """The UTC time of `second`, written once per second (strftime is not free)."""
        text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)).encode("ascii")
        self._clock = (second, text)
        return text

"""Reading the body of `POST /tokens`: a byte limit, and a deadline kept without a timer per request.

`BodyReader.read` counts bytes as they come (413 as soon as the body is over `MAX_BODY_BYTES`,
chunked bodies included) and refuses a body that has not arrived `BODY_TIMEOUT_SECONDS` after
the read began (`InvalidRequest` "body_timeout"), so a client trickling its body cannot hold a
request open for ever.

The deadlines are kept by one `_Deadlines` per event loop: a read registers its task, and a
single check, scheduled only while some read is registered, runs every `interval` seconds and
cancels each task that has been reading for too long; the read turns that cancellation (and only
that one: not a shutdown's) into "body_timeout". A body is thus refused between
`BODY_TIMEOUT_SECONDS` and `BODY_TIMEOUT_SECONDS + interval` after its read began (10 to 11 s).
A timer per request (`loop.call_later` and its cancellation) costs about ten times what a
dictionary entry costs, on every exchange (`bench/README.md`, "Figures behind design choices").

The app holds one reader. It finds the running loop once and keeps it while it runs: on Python
3.11 `asyncio.get_running_loop()` makes a `getpid` system call, which every read would pay.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive

from .errors import InvalidRequest
from .request import MAX_BODY_BYTES, BodyTooLarge

BODY_TIMEOUT_SECONDS = 10.0


class BodyReader:
    """Reads request bodies with a byte counter and a deadline (see the module docstring)."""

    __slots__ = ("_deadlines",)

    def __init__(self) -> None:
        self._deadlines: _Deadlines | None = None

    async def read(self, receive: Receive, content_length: str | None) -> bytes:
        """The body, or `BodyTooLarge`, or `InvalidRequest` ("body_timeout", "disconnect")."""
        if content_length is not None and (
            not content_length.isdigit() or int(content_length) > MAX_BODY_BYTES
        ):
            raise BodyTooLarge("request body is too large", "body_too_large")
        deadlines = self._deadlines
        if deadlines is None or not deadlines.loop.is_running():
            deadlines = self._deadlines_of(asyncio.get_running_loop())
        task = asyncio.current_task(deadlines.loop)
        if task is None:  # pragma: no cover - always called from the request's task
            raise RuntimeError("reading a body needs a task")
        cancelling = task.cancelling()
        deadlines.start(task)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise InvalidRequest("request body is incomplete", "disconnect")
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise BodyTooLarge("request body is too large", "body_too_large")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if deadlines.expired(task) and task.uncancel() <= cancelling:
                raise InvalidRequest(
                    "request body was not received in time", "body_timeout"
                ) from None
            raise
        finally:
            deadlines.stop(task)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _deadlines_of(self, loop: asyncio.AbstractEventLoop) -> _Deadlines:
        """The deadlines of `loop`: the same ones again when the loop only stopped a while."""
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = _Deadlines(loop)
        return deadlines


class _Deadlines:
    """The body reads in progress on one event loop, and the one check that enforces them."""

    __slots__ = ("_expired", "_reading", "_scheduled", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._scheduled = False

    def start(self, task: asyncio.Task[Any]) -> None:
        self._reading[task] = self.loop.time()
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_later(_interval(), self._run_check)

    def stop(self, task: asyncio.Task[Any]) -> None:
        del self._reading[task]
        if self._expired:
            self._expired.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the check cancelled `task` for reading too long."""
        return task in self._expired

    def _run_check(self) -> None:
        limit = self.loop.time() - BODY_TIMEOUT_SECONDS
        for task, started in list(self._reading.items()):
            if started <= limit and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._reading:
            self.loop.call_later(_interval(), self._run_check)
        else:
            self._scheduled = False


def _interval() -> float:
    """How often the check runs: a tenth of the limit, at most a second."""
    return min(BODY_TIMEOUT_SECONDS / 10, 1.0)

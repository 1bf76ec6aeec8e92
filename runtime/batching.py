"""Run the exchanges requested during one turn of the event loop together, one after another.

Serving one request at a time, the server alternates between very different code: uvicorn's
HTTP parsing, the kernel's TCP path for each answer, and the exchange (JSON, base64, HMAC,
claim checks, the generated mappings). Each switch finds the processor's caches filled by the
other side: one exchange costs two to three times as much with cold caches as with warm ones
(`bench/README.md`). `Batcher` applies cohort scheduling: a request's task submits its work and
waits on a future; the first submission of a loop turn schedules one callback, which runs
every submission of that turn back to back (warm), then the tasks resume and send their
answers back to back too. Under load this cut the server's CPU per HS256 exchange by about a
third; with one request at a time a batch has one item and costs a little more than a direct
call (`bench/README.md`, "Figures behind design choices").

The work function is synchronous and must not block (the exchange is pure). A batch runs at
most `MAX_BATCH` items; the rest go to the next callback, so other tasks (health checks, JWKS
refreshes) wait behind at most one batch. A future whose request was cancelled is skipped.

A batcher finds the running loop once and keeps it while it runs: on Python 3.11
`asyncio.get_running_loop()` makes a `getpid` system call, which every submission would
pay.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 128


class Batcher(Generic[Item, Result]):
    """`await batcher.submit(item)` is `work(item)`, run in a batch with the loop turn's others."""

    __slots__ = ("_loop", "_pending", "_scheduled", "_work")

    def __init__(self, work: Callable[[Item], Result]) -> None:
        self._work = work
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._scheduled = False

    def submit(self, item: Item) -> asyncio.Future[Result]:
        """A future for `work(item)`, on the running loop."""
        loop = self._loop
        if loop is None or not loop.is_running():
            loop = self._bind(asyncio.get_running_loop())
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run, loop)
        return future

    def _bind(self, loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
        """Serve `loop` from now on; what another loop left pending went with that loop."""
        if loop is not self._loop:
            self._loop = loop
            self._pending = []
            self._scheduled = False
        return loop

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[:MAX_BATCH]
        del self._pending[:MAX_BATCH]
        if self._pending:
            loop.call_soon(self._run, loop)
        else:
            self._scheduled = False
        work = self._work
        index = 0
        try:
            for index, (item, future) in enumerate(batch):  # noqa: B007 - read in `finally`
                if not future.done():  # done: cancelled while waiting, the task is gone
                    _settle(work, item, future)
        finally:
            # a BaseException out of `work` (KeyboardInterrupt) leaves the loop; the rest of
            # the batch must not wait for ever
            for _, future in batch[index:]:
                if not future.done():
                    future.cancel()


def _settle(work: Callable[[Item], Result], item: Item, future: asyncio.Future[Result]) -> None:
    """`work(item)`'s result or exception into `future`.

    A function of its own so that an exception's traceback starts in a frame that holds this
    item alone: caught in `Batcher._run`, its first frame would hold the whole batch, other
    requests' subject tokens and issued tokens, for any error reporter that records locals.
    """
    try:
        result = work(item)
    except StopIteration:  # a future refuses StopIteration: it would fail the rest of the batch
        future.set_exception(RuntimeError("the work raised StopIteration"))
    except Exception as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


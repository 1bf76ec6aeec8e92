"""Reading the `/tokens` body: the byte limit, and the deadline kept by one check per loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tokensmith.runtime import body
from tokensmith.runtime.body import BodyReader
from tokensmith.runtime.errors import InvalidRequest
from tokensmith.runtime.request import MAX_BODY_BYTES, BodyTooLarge


async def _hanging_receive() -> dict[str, Any]:
    await asyncio.sleep(60)
    raise AssertionError("not reached")


def _chunks(*parts: bytes) -> Any:
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


@pytest.mark.slow
def test_a_body_that_does_not_arrive_is_refused_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.2)

    async def main() -> tuple[str, int, float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(InvalidRequest) as refused:
            await BodyReader().read(_hanging_receive, None)
        task = asyncio.current_task()
        assert task is not None
        return refused.value.reason, task.cancelling(), loop.time() - started

    reason, cancelling, took = asyncio.run(main())
    assert (reason, cancelling) == ("body_timeout", 0)
    assert 0.2 <= took < 0.2 + 0.02 + 0.1  # the limit, plus at most one check interval


def test_an_outside_cancellation_stays_a_cancellation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.05)

    async def main() -> None:
        reader = asyncio.ensure_future(BodyReader().read(_hanging_receive, None))
        await asyncio.sleep(0.01)
        reader.cancel()  # a shutdown, before the deadline: stays a cancellation
        with pytest.raises(asyncio.CancelledError):
            await reader

    asyncio.run(main())


@pytest.mark.slow
def test_a_shutdown_at_the_deadline_is_not_taken_for_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.05)

    async def main() -> None:
        reader = asyncio.ensure_future(BodyReader().read(_hanging_receive, None))
        await asyncio.sleep(0.2)  # the check has cancelled it, and now the server shuts down
        reader.cancel()
        with pytest.raises((asyncio.CancelledError, InvalidRequest)):
            await reader

    asyncio.run(main())


def test_only_the_slow_read_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.1)

    async def main() -> tuple[object, bytes]:
        reader = BodyReader()
        slow = asyncio.ensure_future(reader.read(_hanging_receive, None))
        await asyncio.sleep(0.05)

        async def late_but_in_time() -> dict[str, Any]:
            await asyncio.sleep(0.08)  # arrives 0.13 s after the slow read began: in time
            return {"type": "http.request", "body": b"a=b", "more_body": False}

        fast = await reader.read(late_but_in_time, None)
        slow_result = await asyncio.gather(slow, return_exceptions=True)
        return slow_result[0], fast

    slow, fast = asyncio.run(main())
    assert isinstance(slow, InvalidRequest) and slow.reason == "body_timeout"
    assert fast == b"a=b"


def test_finished_reads_leave_nothing_registered_and_the_check_stops() -> None:
    async def main() -> None:
        reader = BodyReader()
        for _ in range(100):
            assert await reader.read(_chunks(b"a=", b"b"), None) == b"a=b"
        deadlines = reader._deadlines
        assert deadlines is not None and deadlines.loop is asyncio.get_running_loop()
        assert deadlines._reading == {} and deadlines._expired == set()
        await asyncio.sleep(body._interval() + 0.05)  # one check runs, finds nothing, stops
        assert not deadlines._scheduled

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.5)
    try:
        asyncio.run(main())
    finally:
        monkeypatch.undo()


def test_size_limits() -> None:
    async def main() -> None:
        reader = BodyReader()
        with pytest.raises(BodyTooLarge):
            await reader.read(_chunks(b"x"), str(MAX_BODY_BYTES + 1))
        with pytest.raises(BodyTooLarge):
            await reader.read(_chunks(b"x"), "12abc")
        # chunked (no Content-Length): counted as it comes
        with pytest.raises(BodyTooLarge):
            await reader.read(_chunks(b"x" * MAX_BODY_BYTES, b"y"), None)
        assert await reader.read(_chunks(b"x" * MAX_BODY_BYTES), None) == b"x" * MAX_BODY_BYTES

    asyncio.run(main())


@pytest.mark.slow
def test_one_reader_serves_one_loop_after_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app's reader keeps the deadlines of the loop it runs on; a new loop gets its own."""
    monkeypatch.setattr(body, "BODY_TIMEOUT_SECONDS", 0.2)
    reader = BodyReader()

    async def main() -> tuple[str, object]:
        assert await reader.read(_chunks(b"a=b"), None) == b"a=b"
        with pytest.raises(InvalidRequest) as refused:
            await reader.read(_hanging_receive, None)  # the deadline still holds
        return refused.value.reason, reader._deadlines

    first_reason, first = asyncio.run(main())
    second_reason, second = asyncio.run(main())
    assert first_reason == second_reason == "body_timeout"
    assert first is not second

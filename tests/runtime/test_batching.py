"""`Batcher`: one loop turn's submissions run together, each waiter gets its own result."""

from __future__ import annotations

import asyncio

import pytest

from tokensmith.runtime import batching
from tokensmith.runtime.batching import Batcher


class _Work:
    """Doubles its input, refuses negatives, and records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, item: int) -> int:
        self.calls.append(item)
        if item < 0:
            raise ValueError(f"negative: {item}")
        return item * 2


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_each_waiter_gets_its_own_result_or_exception() -> None:
    work = _Work()
    batcher: Batcher[int, int] = Batcher(work)

    async def main() -> list[object]:
        futures = [batcher.submit(i) for i in (1, -2, 3)]
        return await asyncio.gather(*futures, return_exceptions=True)

    one, two, three = _run(main())  # type: ignore[misc]
    assert (one, three) == (2, 6)
    assert isinstance(two, ValueError) and str(two) == "negative: -2"
    assert work.calls == [1, -2, 3]


def test_submissions_of_one_turn_run_in_one_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    work = _Work()
    batcher: Batcher[int, int] = Batcher(work)
    runs: list[int] = []
    original = Batcher._run

    def counting_run(self: Batcher[int, int], loop: asyncio.AbstractEventLoop) -> None:
        runs.append(len(self._pending))
        original(self, loop)

    monkeypatch.setattr(Batcher, "_run", counting_run)

    async def request(i: int) -> int:
        return await batcher.submit(i)

    async def main() -> list[int]:
        first = await asyncio.gather(*(request(i) for i in range(10)))  # one turn: one batch
        second = await request(100)  # a later turn: a batch of one
        return [*first, second]

    assert _run(main()) == [i * 2 for i in range(10)] + [200]
    assert runs == [10, 1]


def test_a_large_turn_is_split_into_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "MAX_BATCH", 4)
    work = _Work()
    batcher: Batcher[int, int] = Batcher(work)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(10))))

    assert _run(main()) == [i * 2 for i in range(10)]
    assert work.calls == list(range(10))
    assert not batcher._pending and not batcher._scheduled


def test_a_cancelled_waiter_is_skipped() -> None:
    work = _Work()
    batcher: Batcher[int, int] = Batcher(work)

    async def main() -> int:
        gone = batcher.submit(1)
        kept = batcher.submit(2)
        gone.cancel()
        return await kept

    assert _run(main()) == 4
    assert work.calls == [2]


def test_a_base_exception_does_not_leave_the_rest_waiting() -> None:
    def work(item: int) -> int:
        if item == 2:
            raise KeyboardInterrupt
        return item

    batcher: Batcher[int, int] = Batcher(work)
    futures: list[asyncio.Future[int]] = []

    async def main() -> None:
        futures.extend(batcher.submit(i) for i in (1, 2, 3))
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    with pytest.raises(KeyboardInterrupt):
        _run(main())
    assert futures[0].result() == 1
    assert futures[1].cancelled() and futures[2].cancelled()


def test_stop_iteration_fails_its_own_waiter_only() -> None:
    def work(item: int) -> int:
        if item == 2:
            raise StopIteration  # a future cannot hold it: must not fail the rest of the batch
        return item * 10

    batcher: Batcher[int, int] = Batcher(work)

    async def main() -> list[object]:
        futures = [batcher.submit(i) for i in (1, 2, 3)]
        return list(await asyncio.gather(*futures, return_exceptions=True))

    one, two, three = _run(main())  # type: ignore[misc]
    assert (one, three) == (10, 30)
    assert isinstance(two, RuntimeError)


def test_an_exception_does_not_carry_the_other_items() -> None:
    """A traceback reporter that records locals (Sentry does) must not find other requests'
    data in the frames of one request's exception."""
    import traceback

    def work(item: str) -> str:
        if item.startswith("refused"):
            raise ValueError("refused")
        return f"ISSUED-FOR-{item}"

    batcher: Batcher[str, str] = Batcher(work)

    async def main() -> list[object]:
        items = ["alice-SUBJECT-TOKEN", "refused-mallory", "carol-SUBJECT-TOKEN"]
        return list(await asyncio.gather(*(batcher.submit(i) for i in items),
                                         return_exceptions=True))

    results = _run(main())
    refusal = results[1]  # type: ignore[index]
    assert isinstance(refusal, ValueError)
    text = "".join(traceback.TracebackException.from_exception(
        refusal, capture_locals=True).format())
    assert "refused-mallory" in text  # its own item is there
    for other in ("alice", "carol", "ISSUED-FOR"):
        assert other not in text


def test_a_batcher_moves_on_to_the_next_loop() -> None:
    """The batcher keeps the loop it found; a new loop (one test after another) gets a fresh
    start, even when the old loop stopped before its batch ran."""
    work = _Work()
    batcher: Batcher[int, int] = Batcher(work)
    old = asyncio.new_event_loop()

    async def stranded() -> None:
        batcher.submit(1)
        old.stop()  # the loop ends before the batch it scheduled runs

    task = old.create_task(stranded())
    old.run_forever()
    old.close()
    assert task.done()

    async def main() -> int:
        return await asyncio.wait_for(batcher.submit(2), 5)

    assert _run(main()) == 4
    assert _run(main()) == 4  # and one more loop after that
    assert work.calls == [2, 2]

"""Group commit (shared.batcher): callers see their batch's outcome; a flush cancelled from
inside (a library's CancelledError) fails that batch only, the next batches still commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batcher import Batcher

pytestmark = pytest.mark.unit


def test_a_cancelled_error_inside_a_flush_fails_its_batch_and_the_flusher_lives_on() -> None:
    flushed: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        if 1 in items:
            raise asyncio.CancelledError  # as aiormq raises when a channel closes under it
        flushed.append(list(items))

    async def scenario() -> None:
        batcher: Batcher[int] = Batcher(flush)
        with pytest.raises(RuntimeError, match="flush cancelled"):
            await asyncio.wait_for(batcher.submit(1), 5)
        await asyncio.wait_for(batcher.submit(2), 5)  # would hang if the flusher had died
        await batcher.close()

    asyncio.run(scenario())
    assert flushed == [[2]]


def test_every_caller_of_a_failed_batch_sees_the_failure() -> None:
    async def flush(items: Sequence[int]) -> None:
        raise OSError("database gone")

    async def scenario() -> list[BaseException | None]:
        batcher: Batcher[int] = Batcher(flush, max_delay=0.01)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                       return_exceptions=True)
        await batcher.close()
        return list(results)

    assert all(isinstance(r, OSError) for r in asyncio.run(scenario()))


def test_close_stops_the_flusher_it_cancels() -> None:
    async def flush(items: Sequence[int]) -> None:
        return None

    async def scenario() -> None:
        batcher: Batcher[int] = Batcher(flush)
        await batcher.submit(1)
        await asyncio.wait_for(batcher.close(), 5)
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.submit(2)

    asyncio.run(scenario())


def test_a_bad_row_fails_only_its_own_caller_when_the_error_is_isolated() -> None:
    flushed: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        if 3 in items:
            raise ValueError("row 3 violates a constraint")  # nothing committed
        flushed.append(list(items))

    async def scenario() -> list[BaseException | None]:
        batcher: Batcher[int] = Batcher(flush, max_delay=0.05, isolate=(ValueError,))
        outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(8)),
                                        return_exceptions=True)
        await batcher.close()
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    outcomes = asyncio.run(scenario())
    assert [type(o).__name__ if o else None for o in outcomes] == [
        None, None, None, "ValueError", None, None, None, None]
    assert sorted(i for batch in flushed for i in batch) == [0, 1, 2, 4, 5, 6, 7]


def test_an_error_not_isolated_fails_the_whole_batch_without_splitting_it() -> None:
    calls: list[list[int]] = []

    async def flush(items: Sequence[int]) -> None:
        calls.append(list(items))
        raise OSError("database gone")

    async def scenario() -> int:
        batcher: Batcher[int] = Batcher(flush, max_delay=0.05, isolate=(ValueError,))
        outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(4)),
                                        return_exceptions=True)
        await batcher.close()
        return sum(isinstance(o, OSError) for o in outcomes)

    assert asyncio.run(scenario()) == 4
    assert len(calls) <= 2  # never split down to single items
    assert sum(len(c) for c in calls) == 4

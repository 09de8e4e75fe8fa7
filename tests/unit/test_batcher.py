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

"""Group commit: many concurrent callers, one database transaction per batch.

Each caller hands in one item with :meth:`Batcher.submit` and waits until the batch holding it
has been flushed (committed): it returns normally when the flush succeeded and raises the
flush's exception when it failed, so a message handler acks only after its effect committed and
retries it otherwise.

A flusher takes whatever is pending (at most ``max_size`` items) as soon as it is free, so a
lone message waits for nobody, and under load the batch grows while the previous one commits.
``max_delay`` lets a flusher linger that long for a batch to fill once it holds fewer than
``max_size`` items but more than one (0 never lingers). ``workers`` flushers may commit at the
same time (each on its own connection).

``isolate`` names the exceptions that mean "one row of this batch is bad" (a flush that raises
one of them must have committed nothing, e.g. a constraint or data error inside its
transaction): such a batch is split in halves and each half flushed again, down to the one
item that fails, so only its caller sees the error and every other item commits. Any other
exception (the database or broker gone) fails the whole batch: each caller retries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items from concurrent callers and flushes them in batches."""

    def __init__(
        self, flush: Callable[[Sequence[T]], Awaitable[object]], *, max_size: int = 100,
        max_delay: float = 0.0, workers: int = 1,
        isolate: tuple[type[Exception], ...] = (),
    ) -> None:
        if max_size < 1 or workers < 1 or max_delay < 0:
            raise ValueError("max_size and workers must be >= 1, max_delay >= 0")
        self._flush = flush
        self.max_size = max_size
        self.max_delay = max_delay
        self.workers = workers
        self.isolate = isolate
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._ready: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._inflight = 0
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> None:
        """Wait until ``item`` is committed; raises what the flush of its batch raised."""
        if self._closed:
            raise RuntimeError("batcher closed")
        self._start()
        assert self._ready is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._ready.set()
        await future

    async def close(self) -> None:
        """Flush what is pending, then stop the flushers (idempotent)."""
        self._closed = True
        # Polled: closing happens once per process, an idle event would cost every batch.
        while (self._pending or self._inflight) and self._tasks:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _start(self) -> None:
        if self._tasks:
            return
        self._ready = asyncio.Event()
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self.workers)]

    async def _run(self) -> None:
        assert self._ready is not None
        while True:
            await self._ready.wait()
            if self.max_delay and 1 < len(self._pending) < self.max_size:
                await asyncio.sleep(self.max_delay)
            batch = self._pending[: self.max_size]
            del self._pending[: len(batch)]
            if not self._pending:
                self._ready.clear()
            if not batch:
                continue
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        self._inflight += 1
        try:
            await self._flush([item for item, _ in batch])
        except self.isolate as exc:  # () catches nothing
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
            return
        except BaseException as exc:  # every caller of the batch sees the failure and retries
            for _, future in batch:
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else RuntimeError("flush cancelled"))
            # Only the flusher's own cancellation (close) ends it; a CancelledError raised by a
            # library inside the flush (a channel closed under it) must not leave every later
            # caller waiting on a flusher that is gone.
            task = asyncio.current_task()
            if not isinstance(exc, Exception) and (
                    not isinstance(exc, asyncio.CancelledError)
                    or (task is not None and task.cancelling())):
                raise
            return
        finally:
            self._inflight -= 1
        self.batches += 1
        self.items += len(batch)
        for _, future in batch:
            if not future.done():
                future.set_result(None)

"""The HTTP clients' per-request work stays off the import system.

httpcore (under the PA and TSA clients) asks which event loop runs each time it sets up a
lock, an event or a cancellation shield: several times per request. It asks ``sniffio`` and,
when that is not installed, falls back to asyncio after a failed ``import`` — and Python does
not cache failures, so every request walked ``sys.path`` again (encode/httpcore#1103; anyio
4.11 stopped bringing sniffio). A request must not consult the import machinery at all.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from httpcore._synchronization import AsyncEvent, AsyncLock, current_async_library


class _Recorder(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> Any:
        self.asked.append(fullname)
        return None  # let the real finders answer


def test_httpcore_detects_asyncio_without_an_import_per_call() -> None:
    recorder = _Recorder()

    async def a_few_requests_worth() -> str:
        library = current_async_library()
        for _ in range(5):
            lock, event = AsyncLock(), AsyncEvent()
            async with lock:
                event.set()
            await event.wait()
        return library

    sys.meta_path.insert(0, recorder)
    try:
        assert asyncio.run(a_few_requests_worth()) == "asyncio"
    finally:
        sys.meta_path.remove(recorder)
    assert recorder.asked == []

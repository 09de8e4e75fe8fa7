"""Batched reads before a decision: many concurrent submissions, one statement.

Each handler call asks :meth:`Lookups.get` for its (tenant, message_id) and gets the stored
verdict (if any) and its tenant's flags, read by one autocommit statement for every lookup
pending at that moment (:func:`repository.lookup_many`): a lone submission waits for nobody.
It raises what the read raised (the handler retries its message); a value only one lookup
carries that the database refuses (a data error) fails that lookup alone, the batch split
down to it (:class:`shared.batcher.Batcher`'s ``isolate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.ingest.adapters import repository as repo
from shared.batcher import Batcher
from shared.pooled import ROW_ERRORS, autocommit
from shared.runtime import Runtime


@dataclass(eq=False)
class _Lookup:
    tenant: str
    message_id: str
    known: repo.Known | None = field(default=None)


class Lookups:
    """Reads in batches of at most ``max_size``; :meth:`close` at stop."""

    def __init__(self, rt: Runtime, *, max_size: int = 64) -> None:
        self.rt = rt
        self._batcher: Batcher[_Lookup] = Batcher(self._read, max_size=max_size,
                                                  isolate=ROW_ERRORS)

    @property
    def batches(self) -> int:
        """Batches read so far (each one statement)."""
        return self._batcher.batches

    async def get(self, tenant: str, message_id: str) -> repo.Known:
        """What the database holds now about (``tenant``, ``message_id``)."""
        lookup = _Lookup(tenant, message_id)
        await self._batcher.submit(lookup)
        assert lookup.known is not None
        return lookup.known

    async def close(self) -> None:
        await self._batcher.close()

    async def _read(self, batch: Sequence[_Lookup]) -> None:
        async with autocommit(self.rt.pool) as conn:  # one statement
            found = await repo.lookup_many(conn, [(b.tenant, b.message_id) for b in batch])
        for lookup, known in zip(batch, found, strict=True):
            lookup.known = known

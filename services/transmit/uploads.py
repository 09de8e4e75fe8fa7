"""Group commit of successful uploads: many handler calls, one transaction and one flush.

Each handler call hands in the upload that succeeded (:meth:`Uploads.record`) and waits until
the batch holding it is committed (state ``uploaded`` with its first acknowledgement poll due
in ``POLL_DELAY_SECONDS``, :mod:`services.transmit.polling`; its ``transmitted`` event in the
outbox) and that event is confirmed by the broker. It raises what the
batch raised: the handler then retries its message, whose next delivery finds the flow at the
PA by its trackingId and records it again (never a second upload). Under load a batch holds
whatever finished while the previous one committed; a lone upload waits for nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.transmit.adapters import repository as repo
from shared import outbox
from shared.batcher import Batcher
from shared.messages.internal import InvoiceArchived
from shared.messages.status import make_event
from shared.outbox import Outgoing
from shared.pooled import ROW_ERRORS
from shared.runtime import Runtime
from shared.topology import POLL_DELAY_SECONDS


@dataclass(frozen=True)
class Uploaded:
    msg: InvoiceArchived
    flow_id: str
    attempts: int


class Uploads:
    """Records successful uploads in batches of at most ``max_size``; :meth:`close` at stop."""

    def __init__(self, rt: Runtime, *, max_size: int = 64) -> None:
        self.rt = rt
        self._batcher: Batcher[Uploaded] = Batcher(
            self._commit, max_size=max_size, isolate=ROW_ERRORS)

    async def record(self, upload: Uploaded) -> None:
        """Return once ``upload`` is committed and its messages confirmed; raises otherwise."""
        await self._batcher.submit(upload)

    async def close(self) -> None:
        await self._batcher.close()

    def _messages(self, u: Uploaded) -> list[Outgoing]:
        msg = u.msg
        event = make_event("transmitted", tenant=msg.tenant, submission_id=msg.submission_id,
                           invoice_id=msg.invoice_id, invoice_number=msg.invoice_number,
                           detail={"flow_id": u.flow_id, "attempts": u.attempts})
        return [Outgoing.status(event)]

    async def _commit(self, batch: Sequence[Uploaded]) -> None:
        # Rows locked in invoice order: two batches (two processes) never wait on each other
        # in a cycle.
        ordered = sorted(batch, key=lambda u: u.msg.invoice_id)
        async with self.rt.pool.connection() as conn, conn.transaction():
            await repo.set_uploaded(conn, [(u.msg.invoice_id, u.flow_id) for u in ordered],
                                   first_poll_s=POLL_DELAY_SECONDS)
            ids = await outbox.add(conn, [m for u in ordered for m in self._messages(u)])
        # Independent events: all sent, then the confirms awaited together.
        await outbox.flush(self.rt.pool, self.rt.publish, ids, pipelined=True)

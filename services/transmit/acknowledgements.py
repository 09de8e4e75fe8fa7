"""Group commit of final flow acknowledgements: many polls, one transaction and one flush.

A poll that reads ``Ok`` or ``Error`` for its flow hands it in (:meth:`Acknowledgements.record`)
and waits until the batch holding it is committed (state ``accepted``/``rejected``, its
lifecycle 200/213 event in the outbox) and that event is confirmed by the broker. It raises
what the batch raised: the flow stays due (:mod:`services.transmit.polling`), is read again
one poll delay later and records the same acknowledgement (the event id is derived, the
outbox keeps one copy). A repeated acknowledgement of one invoice in the same batch is
recorded once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.transmit.adapters import repository as repo
from services.transmit.adapters.pa_models import FlowStatus
from shared import outbox
from shared.batcher import Batcher
from shared.logging import get_logger
from shared.messages.status import EventReason, make_event
from shared.outbox import Outgoing
from shared.pooled import ROW_ERRORS
from shared.runtime import Runtime

log = get_logger(__name__)


@dataclass(frozen=True)
class Acknowledged:
    tenant: str
    invoice_id: uuid.UUID
    flow_id: str
    status: FlowStatus


class Acknowledgements:
    """Records final acknowledgements in batches of at most ``max_size``; :meth:`close` at stop."""

    def __init__(self, rt: Runtime, *, max_size: int = 64) -> None:
        self.rt = rt
        self._batcher: Batcher[Acknowledged] = Batcher(
            self._commit, max_size=max_size, isolate=ROW_ERRORS)

    async def record(self, ack: Acknowledged) -> None:
        """Return once ``ack`` is committed and its event confirmed; raises otherwise."""
        await self._batcher.submit(ack)

    async def close(self) -> None:
        await self._batcher.close()

    async def _commit(self, batch: Sequence[Acknowledged]) -> None:
        # One acknowledgement per invoice, rows locked in invoice order: two batches (two
        # processes) never wait on each other in a cycle.
        unique = sorted({a.invoice_id: a for a in batch}.values(), key=lambda a: a.invoice_id)
        ids = [a.invoice_id for a in unique]
        async with self.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT invoice_id, submission_id, invoice_number FROM archive.invoice"
                " WHERE invoice_id = ANY(%s)", (ids,))
            names = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
        events = []
        for a in unique:
            ok = a.status.ack_status == "Ok"
            submission_id, number = names.get(a.invoice_id, (None, None))
            events.append(Outgoing.status(make_event(
                "lifecycle", tenant=a.tenant, submission_id=submission_id,
                invoice_id=a.invoice_id, invoice_number=number,
                lifecycle_code=200 if ok else 213,
                reasons=[EventReason(code=r.code, message=r.message) for r in a.status.reasons],
                detail={"flow_id": a.flow_id, "ack_status": a.status.ack_status},
            )))
        async with self.rt.pool.connection() as conn, conn.transaction():
            await repo.set_acknowledged(
                conn, [(a.invoice_id, "accepted" if a.status.ack_status == "Ok" else "rejected")
                       for a in unique])
            out = await outbox.add(conn, events)
        # Independent events: all sent, then the confirms awaited together.
        await outbox.flush(self.rt.pool, self.rt.publish, out, pipelined=True)
        for a in unique:
            log.info("flow-acknowledged", invoice_id=str(a.invoice_id),
                     ack_status=a.status.ack_status)

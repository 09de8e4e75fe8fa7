"""Recording a flow's final acknowledgement, and the poll messages of earlier versions.

Acknowledgements are read by :mod:`services.transmit.polling` (due flows claimed from the
database) and, for a flow whose polls gave up, by the lifecycle follower; both record them
here. ``Ok`` → lifecycle 200 Déposée, ``Error`` → 213 Rejetée with the PA's reasons.
Lifecycle events have derived ids and the outbox ignores an id it already holds, so an
acknowledgement read twice publishes nothing new.

Earlier versions scheduled each poll as a ``FlowPoll`` message through a 1-second delay queue.
Such a message still in the queue after an upgrade makes its flow due in the database (if an
earlier version uploaded it, its row has no ``poll_at``) and is acked: the poller reads it.
"""

from __future__ import annotations

import uuid

from services.transmit.acknowledgements import Acknowledged
from services.transmit.adapters import due_polls
from services.transmit.adapters.pa_models import FlowStatus
from services.transmit.polling import MAX_POLLS
from services.transmit.service import TransmitService
from shared.messages.internal import FlowPoll
from shared.pooled import autocommit

__all__ = ["MAX_POLLS", "LifecycleService"]


class LifecycleService:
    def __init__(self, transmit: TransmitService) -> None:
        self.t = transmit
        self.rt = transmit.rt

    async def poll(self, msg: FlowPoll) -> None:
        """A queued poll of an earlier version: its flow is due now (one statement)."""
        async with autocommit(self.rt.pool) as conn:
            await due_polls.make_due(conn, msg.invoice_id)

    async def acknowledge(self, tenant: str, invoice_id: uuid.UUID, flow_id: str,
                          status: FlowStatus) -> None:
        """Record a final acknowledgement (``Ok`` → 200, ``Error`` → 213 with the PA's
        reasons) and publish it, grouped with the others that arrive meanwhile
        (:mod:`services.transmit.acknowledgements`). Idempotent: the event id is derived,
        the state the same; raises when the batch failed (the caller retries)."""
        await self.t.acks.record(Acknowledged(tenant, invoice_id, flow_id, status))

"""Following a flow after upload: acknowledgement polling and later lifecycle statuses.

Polling is scheduled through the broker (a 1-second delay queue), never by a
sleeping task: a ``FlowPoll`` comes back, the flow is read, and while it is
``Pending`` the poll is parked again. ``Ok`` → lifecycle 200 Déposée, ``Error``
→ 213 Rejetée with the PA's reasons. Lifecycle events have derived ids and the
outbox ignores an id it already holds, so a repeated poll publishes nothing new.
"""

from __future__ import annotations

import contextlib
import uuid

from services.transmit.acknowledgements import Acknowledged
from services.transmit.adapters import repository as repo
from services.transmit.adapters.pa_models import FlowStatus
from services.transmit.domain.breaker import BreakerState
from services.transmit.service import TransmitService
from shared import outbox
from shared.errors import RetryableError
from shared.messages.internal import FlowPoll
from shared.topology import RETRY

# One hour of 1-second polls; after that the lifecycle follower reads the acknowledgement
# when a later status about the invoice arrives (follower.py, ``_acknowledged``).
MAX_POLLS = 3600


class LifecycleService:
    def __init__(self, transmit: TransmitService) -> None:
        self.t = transmit
        self.rt = transmit.rt

    async def poll(self, msg: FlowPoll) -> None:
        async with self.rt.pool.connection() as conn:
            row = await repo.get(conn, msg.invoice_id)
        if row is None or row.state in ("accepted", "rejected"):
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=msg.invoice_id)
            return
        creds = await self.t.credentials(msg.tenant)
        status = None
        # While the PA's circuit is not closed, polls wait: the probe is an upload's to take.
        if self.t.pa.breaker_state(creds.endpoint) is BreakerState.CLOSED:
            with contextlib.suppress(RetryableError):
                status = await self.t.pa.get_flow(creds, msg.flow_id)
        if status is None or status.ack_status == "Pending":
            if msg.polls < MAX_POLLS:
                again = msg.model_copy(update={"polls": msg.polls + 1})
                await self.rt.publish(exchange=RETRY, routing_key=self.rt.topology.poll_queue,
                                      body=again.model_dump_json().encode(),
                                      message_id=str(msg.invoice_id))
            return
        await self.acknowledge(msg.tenant, msg.invoice_id, msg.flow_id, status)

    async def acknowledge(self, tenant: str, invoice_id: uuid.UUID, flow_id: str,
                          status: FlowStatus) -> None:
        """Record a final acknowledgement (``Ok`` → 200, ``Error`` → 213 with the PA's
        reasons) and publish it, grouped with the others that arrive meanwhile
        (:mod:`services.transmit.acknowledgements`). Idempotent: the event id is derived,
        the state the same; raises when the batch failed (the caller retries)."""
        await self.t.acks.record(Acknowledged(tenant, invoice_id, flow_id, status))

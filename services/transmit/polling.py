"""Acknowledgement polling driven by the database: due flows claimed in batches, read together.

An upload commits its flow ``uploaded`` with the first poll due ``POLL_DELAY_SECONDS`` later
(:mod:`services.transmit.uploads`). Every transmit process runs :meth:`AckPoller.drain` on a
short period: one statement claims up to ``batch`` due flows (:mod:`.adapters.due_polls`: a
lease of one poll delay, shared out between processes by ``SKIP LOCKED``), their tenants'
credentials are read once per tenant, the flows are read from the PA concurrently (at most
``concurrency`` requests at once), and the final ones — ``Ok`` → 200 Déposée, ``Error`` → 213
Rejetée — are acknowledged through the group-committed :mod:`.acknowledgements`. No message
per poll goes through the broker.

Failure semantics, per flow: a flow still ``Pending``, a read that failed, a PA whose circuit
is not closed (the probe is an upload's to take), a tenant whose credentials cannot be read:
nothing is done, the flow is due again when its lease ends. A failed acknowledgement (the
database gone) leaves it due the same way; one flow's failure never stops the others. A
process killed mid-pass loses nothing: every flow it claimed is due again a second later, and
an acknowledgement recorded twice publishes nothing twice (derived event ids).
"""

from __future__ import annotations

import asyncio

from services.transmit.acknowledgements import Acknowledged
from services.transmit.adapters import due_polls
from services.transmit.adapters.due_polls import DuePoll
from services.transmit.adapters.pa_models import PaCredentials
from services.transmit.domain.breaker import BreakerState
from services.transmit.service import TransmitService
from shared.errors import EfactureError
from shared.logging import get_logger
from shared.pooled import autocommit
from shared.topology import POLL_DELAY_SECONDS

log = get_logger(__name__)

# One hour of 1-second polls; after that the lifecycle follower reads the acknowledgement
# when a later status about the invoice arrives (follower.py, ``_acknowledged``).
MAX_POLLS = 3600


class AckPoller:
    """Reads the due acknowledgements; :meth:`drain` is the service's periodic job."""

    def __init__(self, transmit: TransmitService, *, batch: int = 200,
                 concurrency: int = 16) -> None:
        self.t = transmit
        self.rt = transmit.rt
        self.batch = batch
        self._gate = asyncio.Semaphore(concurrency)
        self.polled = 0  # flows read so far (for tests and metrics)

    async def drain(self, max_rounds: int = 10) -> int:
        """Claim and read due flows until fewer than a full batch were due (at most
        ``max_rounds`` batches per call); returns how many flows were claimed. Raises only
        when the claim itself fails (the database gone): the next period tries again."""
        claimed = 0
        for _ in range(max_rounds):
            async with autocommit(self.rt.pool) as conn:  # one statement, its own transaction
                due = await due_polls.claim(conn, limit=self.batch, delay_s=POLL_DELAY_SECONDS,
                                            max_polls=MAX_POLLS)
            claimed += len(due)
            if due:
                await self._read_all(due)
            if len(due) < self.batch:
                break
        return claimed

    async def _read_all(self, due: list[DuePoll]) -> None:
        creds: dict[str, PaCredentials | None] = {}
        for tenant in {d.tenant for d in due}:
            try:
                creds[tenant] = await self.t.credentials(tenant)
            except EfactureError as exc:  # unknown tenant, no credentials: not this pass
                log.warning("poll-credentials-unavailable", tenant=tenant, error=str(exc))
                creds[tenant] = None
        await asyncio.gather(*(self._read(d, creds[d.tenant]) for d in due))

    async def _read(self, due: DuePoll, creds: PaCredentials | None) -> None:
        if creds is None or self.t.pa.breaker_state(creds.endpoint) is not BreakerState.CLOSED:
            return
        try:
            async with self._gate:
                status = await self.t.pa.get_flow(creds, due.flow_id)
            self.polled += 1
            if status.ack_status == "Pending":
                return
            await self.t.acks.record(
                Acknowledged(due.tenant, due.invoice_id, due.flow_id, status))
        except Exception as exc:  # this flow only: it is due again when its lease ends
            log.warning("poll-failed", invoice_id=str(due.invoice_id), flow_id=due.flow_id,
                        polls=due.polls, error=f"{type(exc).__name__}: {exc}")

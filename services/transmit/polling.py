"""Acknowledgement polling driven by the database: due flows claimed in batches, read together.

An upload commits its flow ``uploaded`` with the first poll due ``POLL_DELAY_SECONDS`` later
(:mod:`services.transmit.uploads`). Every transmit process runs :meth:`AckPoller.drain` on a
short period. Each round, one statement claims up to ``batch`` due flows (:mod:`.adapters.
due_polls`: a lease of ``lease_s``, shared out between processes by ``SKIP LOCKED``), their
tenants' credentials are read once per tenant, the flows are read from the PA concurrently (at
most ``concurrency`` requests at once), the final ones — ``Ok`` → 200 Déposée, ``Error`` → 213
Rejetée — are acknowledged through the group-committed :mod:`.acknowledgements`, and one
statement sets the next poll of the others one poll delay ahead. No message per poll goes
through the broker.

Failure semantics, per flow: a flow still ``Pending``, a read that failed, a PA whose circuit
is not closed (the probe is an upload's to take), a tenant whose credentials cannot be read, a
failed acknowledgement: nothing is recorded, the flow is polled again one delay later. One
flow's failure never stops the others. A process killed mid-round loses nothing: the flows it
claimed are due again when their lease ends, and an acknowledgement recorded twice publishes
nothing twice (derived event ids). The lease is longer than a round takes, so a flow is read
by one process at a time.
"""

from __future__ import annotations

import asyncio
import uuid

from services.transmit.acknowledgements import Acknowledged
from services.transmit.adapters import due_polls
from services.transmit.adapters.due_polls import DuePoll
from services.transmit.adapters.pa_models import PaCredentials
from services.transmit.domain.breaker import BreakerState
from services.transmit.service import TransmitService
from shared.logging import get_logger
from shared.pooled import autocommit
from shared.topology import POLL_DELAY_SECONDS

log = get_logger(__name__)

# One hour of 1-second polls; after that the lifecycle follower reads the acknowledgement
# when a later status about the invoice arrives (follower.py, ``_acknowledged``).
MAX_POLLS = 3600
LEASE_S = 10.0  # a round of ``batch`` reads at ``concurrency`` takes well under this


class AckPoller:
    """Reads the due acknowledgements; :meth:`drain` is the service's periodic job."""

    def __init__(self, transmit: TransmitService, *, batch: int = 64, concurrency: int = 16,
                 lease_s: float = LEASE_S) -> None:
        self.t = transmit
        self.rt = transmit.rt
        self.batch = batch
        self.lease_s = lease_s
        self._gate = asyncio.Semaphore(concurrency)

    async def drain(self, max_rounds: int = 20) -> int:
        """Claim and read due flows until fewer than a full batch were due (at most
        ``max_rounds`` rounds per call); returns how many flows were claimed. Raises when the
        database does (the next period tries again; claimed flows wait for their lease)."""
        claimed = 0
        for _ in range(max_rounds):
            async with autocommit(self.rt.pool) as conn:  # one statement, its own transaction
                due = await due_polls.claim(conn, limit=self.batch, delay_s=self.lease_s,
                                            max_polls=MAX_POLLS)
            claimed += len(due)
            if due:
                final = await self._read_all(due)
                async with autocommit(self.rt.pool) as conn:
                    await due_polls.rearm(conn, [d.invoice_id for d in due
                                                 if d.invoice_id not in final],
                                          POLL_DELAY_SECONDS)
            if len(due) < self.batch:
                break
        return claimed

    async def _read_all(self, due: list[DuePoll]) -> set[uuid.UUID]:
        """Read every claimed flow; returns the invoice ids whose acknowledgement was recorded."""
        creds: dict[str, PaCredentials | None] = {}
        for tenant in {d.tenant for d in due}:
            try:
                creds[tenant] = await self.t.credentials(tenant)
            except Exception as exc:  # unknown tenant, no credentials, database: not this round
                log.warning("poll-credentials-unavailable", tenant=tenant,
                            error=f"{type(exc).__name__}: {exc}")
                creds[tenant] = None
        done = await asyncio.gather(*(self._read(d, creds[d.tenant]) for d in due))
        return {d.invoice_id for d, ok in zip(due, done, strict=True) if ok}

    async def _read(self, due: DuePoll, creds: PaCredentials | None) -> bool:
        if creds is None:
            return False
        try:
            async with self._gate:
                # Checked once a request slot is free: a half-open circuit's probe is an
                # upload's to take, never a poll's.
                if self.t.pa.breaker_state(creds.endpoint) is not BreakerState.CLOSED:
                    return False
                status = await self.t.pa.get_flow(creds, due.flow_id)
            if status.ack_status == "Pending":
                return False
            await self.t.acks.record(
                Acknowledged(due.tenant, due.invoice_id, due.flow_id, status))
            return True
        except Exception as exc:  # this flow only: it is polled again one delay later
            log.warning("poll-failed", invoice_id=str(due.invoice_id), flow_id=due.flow_id,
                        polls=due.polls, error=f"{type(exc).__name__}: {exc}")
            return False

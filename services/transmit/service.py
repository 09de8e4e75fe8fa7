"""Transmit's service layer: upload each archived invoice to its tenant's PA exactly once.

Never twice: the attempt is counted and committed BEFORE the upload; any
later delivery of the same invoice (redelivered, retried or replayed) whose
row shows an earlier attempt first asks the PA (``POST /v1/flows/search`` by
``trackingId``) and adopts the flow it already holds. 409
``AlreadyExistingFlow`` is success too.

Failures: permanent (400/413/422, no credentials, untransmittable profile) →
dead letter marked permanent + ``transmission_failed`` at once; transient →
the message is parked in the next delay queue (``EFACTURE_TRANSMIT_RETRY_DELAYS``);
after the last attempt → dead letter + ``transmission_failed``. While the PA's
circuit breaker is open, messages are parked without spending an attempt.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from pydantic import SecretStr

from services.transmit.acknowledgements import Acknowledgements
from services.transmit.adapters import repository as repo
from services.transmit.adapters.credentials import SANDBOX_SECRET, open_secret
from services.transmit.adapters.pa_client import PaClient, PaCredentials, PaEndpoint
from services.transmit.domain.breaker import BreakerState, CircuitBreaker
from services.transmit.domain.flow import flow_info
from services.transmit.uploads import Uploaded, Uploads
from shared import outbox, tenants
from shared.errors import PermanentError, RetryableError
from shared.logging import get_logger
from shared.messages.base import derived_id, utcnow
from shared.messages.internal import InvoiceArchived
from shared.messages.status import EventReason, make_event
from shared.outbox import Outgoing
from shared.pooled import autocommit
from shared.runtime import Runtime
from shared.topology import DEAD, Q_TRANSMIT, RETRY, dlq_name
from shared.vault.reader import Vault

log = get_logger(__name__)
# How long a tenant's PA credentials are kept in memory: one read per tenant and few seconds,
# not one per upload and per poll.


@dataclass(frozen=True)
class Delivery:
    """Where a transmit message came from: replays carry their own counter; a PA's 429
    ``Retry-After`` travels as ``not_before`` (epoch seconds) with the parked message."""

    replays: int = 0
    not_before: float | None = None


class TransmitService:
    """Opened at service start (PA client, archive reader), closed at stop."""

    pa: PaClient
    vault: Vault
    uploads: Uploads
    acks: Acknowledgements

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def open(self) -> None:
        cooldown = self.rt.settings.breaker_cooldown_seconds
        self.pa = PaClient(breaker_factory=lambda: CircuitBreaker(cooldown_s=cooldown))
        self.vault = Vault(self.rt.settings)
        self.uploads = Uploads(self.rt)
        self.acks = Acknowledgements(self.rt)

    async def close(self) -> None:
        await self.uploads.close()
        await self.acks.close()
        await self.pa.aclose()

    async def credentials(self, tenant_siret: str) -> PaCredentials:
        async with autocommit(self.rt.pool) as conn:
            return await self.credentials_in(conn, tenant_siret)

    async def credentials_in(self, conn: psycopg.AsyncConnection[Any],
                             tenant_siret: str) -> PaCredentials:
        """The tenant's PA credentials and endpoint, read on ``conn`` for every upload and poll.

        Never kept in memory: a rotated secret or a sandbox/production switch takes effect on
        the next message (a kept secret would meet the PA's 401, a permanent refusal, and a
        kept endpoint would send a production invoice to the sandbox). Raises
        ``PermanentError`` for an unknown tenant or a tenant without credentials."""
        tenant = await tenants.get(conn, tenant_siret, with_secret=True)
        if tenant is None:
            raise PermanentError(f"tenant {tenant_siret} is not registered", code="unknown-tenant")
        endpoint = PaEndpoint.for_tenant(self.rt.settings, sandbox=tenant.sandbox)
        if tenant.sandbox or not self.rt.settings.pa_url:
            return PaCredentials(endpoint=endpoint, client_id=tenant.siret,
                                 client_secret=SecretStr(SANDBOX_SECRET))
        if not tenant.pa_client_id or tenant.pa_secret_wrapped is None:
            raise PermanentError(f"tenant {tenant.siret} has no PA credentials "
                                 "(efacture tenant set-credentials)", code="no-credentials")
        secret = open_secret(tenant.siret, tenant.pa_secret_wrapped, self.rt.settings)
        return PaCredentials(endpoint=endpoint, client_id=tenant.pa_client_id,
                             client_secret=SecretStr(secret))

    async def handle(self, msg: InvoiceArchived, delivery: Delivery) -> None:
        wait = (delivery.not_before - time.time()) if delivery.not_before else 0.0
        creds: PaCredentials | None = None
        refused: PermanentError | None = None
        started = False
        # One transaction claims the row, reads the credentials and counts the attempt (the
        # usual path): the count is committed before the upload, as before, in fewer trips.
        async with self.rt.pool.connection() as conn, conn.transaction():
            row = await repo.claim(conn, msg.invoice_id, msg.tenant)
            repeated = row.state in ("uploaded", "accepted", "rejected") or (
                row.state == "failed" and delivery.replays <= row.replays)
            if not repeated and wait <= 0:
                try:
                    creds = await self.credentials_in(conn, msg.tenant)
                except PermanentError as exc:
                    refused = exc
                if creds is not None and (
                        self.pa.breaker_state(creds.endpoint) is not BreakerState.OPEN):
                    # Counted before the search too: a search the PA fails must spend an
                    # attempt, or a PA that is down would keep the message circling the same
                    # delay queue.
                    row = await repo.start_attempt(conn, msg.invoice_id, delivery.replays)
                    started = True
        if repeated:
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=msg.invoice_id)
            log.info("transmit-repeated", state=row.state)
            return
        last = len(self.rt.topology.retry_delays)
        if wait > 0:
            # The PA asked for more time (Retry-After) than the delay queue gave: wait on.
            await self._park(msg, min(max(row.round_attempts, 1), last), None, delivery,
                             spend=False, wait=wait)
            return
        if refused is not None:
            await self._dead_letter(msg, row.attempts, refused, permanent=True, delivery=delivery)
            return
        if not started:
            # The breaker is open. Clamped: a replayed letter's round_attempts may already be
            # past the last delay.
            await self._park(msg, min(max(row.round_attempts, 1), last), None, delivery,
                             spend=False)
            return
        assert creds is not None
        try:
            # From the counter just incremented under the row's lock, not from the read
            # before it: of two copies of the message handled at once, the second searches.
            if row.attempts > 1:
                held = await self.pa.find_by_tracking_id(creds, str(msg.invoice_id))
                if held is not None:
                    log.info("flow-found-at-pa", flow_id=held.get("flowId"))
                    await self._succeeded(msg, str(held["flowId"]), row.attempts - 1)
                    return
            async with autocommit(self.rt.pool) as conn:  # reads only
                document, cat = await self.vault.original(conn, msg.invoice_id)
            info = flow_info(tracking_id=msg.invoice_id, name=_filename(msg, cat),
                             syntax=msg.syntax or "", profile=msg.profile or "",
                             sha256=msg.sha256)
            result = await self.pa.upload(creds, info, _filename(msg, cat), document)
            await self._succeeded(msg, result.flow_id, row.attempts)
        except PermanentError as exc:
            await self._dead_letter(msg, row.attempts, exc, permanent=True, delivery=delivery)
        except RetryableError as exc:
            await self._park(msg, row.round_attempts, exc, delivery, spend=True)

    async def _succeeded(self, msg: InvoiceArchived, flow_id: str, attempts: int) -> None:
        # Group commit with the other uploads that finished meanwhile (services/transmit/
        # uploads.py): returns once the state and its messages are durable and confirmed.
        await self.uploads.record(Uploaded(msg, flow_id, attempts))
        log.info("invoice-transmitted", flow_id=flow_id, attempts=attempts)

    async def _park(self, msg: InvoiceArchived, attempt: int, exc: RetryableError | None,
                    delivery: Delivery, *, spend: bool, wait: float | None = None) -> None:
        after = exc.retry_after if exc else wait
        queue = self.rt.topology.retry_queue_for(max(attempt, 1), after)
        if queue is None:
            assert exc is not None
            await self._dead_letter(msg, attempt, exc, permanent=False, delivery=delivery)
            return
        headers: dict[str, Any] = {
            "x-efacture-replay-count": delivery.replays,
            "x-efacture-last-error": str(exc) if exc else (
                "waiting for Retry-After" if wait else "circuit open")}
        # Integer milliseconds: an AMQP float header may travel as a 32-bit float, which is
        # minutes off at today's epoch.
        if exc is not None and exc.retry_after:
            headers["x-efacture-not-before-ms"] = math.ceil((time.time() + exc.retry_after) * 1000)
        elif wait and delivery.not_before:
            headers["x-efacture-not-before-ms"] = math.ceil(delivery.not_before * 1000)
        await self.rt.publish(
            exchange=RETRY, routing_key=queue, body=msg.model_dump_json().encode(),
            message_id=str(msg.invoice_id), headers=headers)
        log.warning("transmit-retry-scheduled", queue=queue, attempt=attempt, spend=spend,
                    error=headers["x-efacture-last-error"])

    async def _dead_letter(self, msg: InvoiceArchived, attempts: int, exc: Exception,
                           *, permanent: bool, delivery: Delivery) -> None:
        error = f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"
        event = make_event(
            "transmission_failed", tenant=msg.tenant, submission_id=msg.submission_id,
            invoice_id=msg.invoice_id, invoice_number=msg.invoice_number,
            reasons=[EventReason(code=getattr(exc, "code", "error"), message=str(exc))],
            detail={"attempts": attempts, "last_error": error, "permanent": permanent},
            discriminator=f"replay-{delivery.replays}",
        )
        headers: dict[str, Any] = {
            "x-efacture-error": error[:1000], "x-efacture-attempts": attempts,
            "x-efacture-permanent": permanent, "x-efacture-tenant": msg.tenant,
            "x-efacture-invoice-number": msg.invoice_number or "",
            "x-efacture-replay-count": delivery.replays,
            "x-efacture-first-failed-at": utcnow().isoformat(),
        }
        dead = Outgoing(event_id=derived_id(msg.invoice_id, "dead", delivery.replays),
                        exchange=DEAD, routing_key=dlq_name(Q_TRANSMIT),
                        body=msg.model_dump_json().encode(), tenant=msg.tenant,
                        invoice_id=msg.invoice_id, headers=headers)
        async with self.rt.pool.connection() as conn, conn.transaction():
            await repo.set_state(conn, msg.invoice_id, "failed", error=error, permanent=permanent)
            ids = await outbox.add(conn, [dead, Outgoing.status(event)])
        await outbox.flush(self.rt.pool, self.rt.publish, ids)
        log.error("transmission-dead-lettered", permanent=permanent, attempts=attempts, error=error)


def _filename(msg: InvoiceArchived, cat: dict[str, Any]) -> str:
    ext = ".pdf" if cat.get("content_type") == "application/pdf" else ".xml"
    base = (msg.invoice_number or str(msg.invoice_id)).replace("/", "_")
    return f"{base}{ext}"

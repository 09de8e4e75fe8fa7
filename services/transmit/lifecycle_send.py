"""Statuses the seller owes (212 Encaissée, and 207 En litige / 210 Refusée), sent as CDARs.

:meth:`LifecycleSender.send` builds the CDAR (schema-checked before it leaves), uploads it
as an outbound flow (``flowSyntax: CDAR``) and publishes a ``lifecycle`` event with
``detail.direction = "sent"``. Exactly once under retries and replays, like invoices:

- the flow's ``trackingId`` is derived from (invoice, code, amount, VAT rate, date,
  reason), so the same command always names the same flow;
- the attempt is counted and committed in ``transmit.lifecycle_sent`` BEFORE the upload; a
  later run whose row shows an earlier attempt first searches the PA by ``trackingId``
  and adopts the flow it holds (409 ``AlreadyExistingFlow`` is success too);
- the event goes through the outbox with an id derived from the trackingId: a run after
  success only republishes that same event (partners deduplicate on ``event_id``).

Failures: :class:`SendRefused` (a status the rules refuse, an unknown invoice) before
anything is sent; the PA's ``RetryableError`` / ``PermanentError`` propagate, the row
stays ``pending`` and running the command again is safe.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from psycopg_pool import AsyncConnectionPool

from services.transmit.adapters.cdar_schema import CdarInvalid, parse_valid
from services.transmit.adapters.pa_client import PaClient, PaCredentials
from services.transmit.domain.cdar import (
    CdarError,
    CdarStatus,
    Party,
    Payment,
    Reason,
    build_cdar,
    to_bytes,
)
from services.transmit.domain.flow import sha256_hex
from shared import outbox
from shared.messages.base import derived_id
from shared.messages.status import EventReason, make_event
from shared.outbox import Outgoing, Publisher

SENDABLE = frozenset({207, 210, 212})
_NS = uuid.UUID("6f0f4bde-3a43-4c55-9a55-5b1a3c1f2d12")


class SendRefused(ValueError):
    """Nothing was sent: ``code`` says why (machine-readable), the message in one sentence."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SendRequest:
    invoice_id: uuid.UUID
    code: int
    on: date
    amount: Decimal | None = None
    vat_rate: Decimal | None = None
    reason_code: str | None = None
    reason_text: str = ""

    def tracking_id(self) -> uuid.UUID:
        key = "|".join(str(x) for x in (self.invoice_id, self.code, self.amount, self.vat_rate,
                                         self.on.isoformat(), self.reason_code))
        return uuid.uuid5(_NS, key)


@dataclass(frozen=True)
class SendResult:
    tracking_id: uuid.UUID
    flow_id: str
    event_id: uuid.UUID
    already_sent: bool
    tenant: str
    invoice_number: str | None


class LifecycleSender:
    def __init__(self, pool: AsyncConnectionPool, publish: Publisher, pa: PaClient) -> None:
        self.pool, self.publish, self.pa = pool, publish, pa

    async def _invoice(self, invoice_id: uuid.UUID) -> tuple[str, str, str | None, date | None,
                                                             str | None]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT a.tenant, a.submission_id, a.invoice_number, a.issue_date, t.state"
                " FROM archive.invoice a LEFT JOIN transmit.transmission t USING (invoice_id)"
                " WHERE a.invoice_id = %s", (invoice_id,))
            row = await cur.fetchone()
        if row is None:
            raise SendRefused(f"invoice {invoice_id} is not in the archive", code="unknown-invoice")
        return row[0], row[1], row[2], row[3], row[4]

    def document(self, req: SendRequest, tenant: str, number: str, issued: date | None
                 ) -> bytes:
        """The CDAR bytes of ``req`` (deterministic); raises :class:`SendRefused`."""
        siren = tenant[:9]
        payments = ((Payment(req.amount, req.vat_rate),)
                    if req.amount is not None and req.vat_rate is not None else ())
        reasons = (Reason(req.reason_code, req.reason_text),) if req.reason_code else ()
        # The sender carries no GlobalID: BR-FR-CDV-CL-09 (210, B2G variant) refuses any
        # sender GlobalID outside scheme 0238 (see pa_sim/README.md).
        status = CdarStatus(
            document_id=str(req.tracking_id()), issued_at=datetime.combine(req.on, time(),
                                                                           tzinfo=UTC),
            code=req.code, invoice_number=number, invoice_date=issued, seller_siren=siren,
            sender=Party(role="SE"), issuer=Party(role="SE", siren=siren),
            recipient=Party(role="DFH"), reasons=reasons, payments=payments)
        try:
            data = to_bytes(build_cdar(status))
            parse_valid(data)
        except CdarError as exc:
            raise SendRefused(str(exc), code=exc.code) from exc
        except CdarInvalid as exc:  # a bug of ours: never send what the schema refuses
            raise SendRefused(str(exc), code=exc.code) from exc
        return data

    async def send(self, req: SendRequest, creds: PaCredentials) -> SendResult:
        if req.code not in SENDABLE:
            raise SendRefused(f"status {req.code} is not one the seller sends (207, 210, 212)",
                              code="not-sendable")
        tenant, submission_id, number, issued, state = await self._invoice(req.invoice_id)
        if req.code == 212 and state not in ("uploaded", "accepted"):
            raise SendRefused("212 Encaissée needs an invoice the platform accepted",
                              code="not-transmitted")
        data = self.document(req, tenant, number or str(req.invoice_id), issued)
        tracking = req.tracking_id()
        event = make_event(
            "lifecycle", tenant=tenant, submission_id=submission_id, invoice_id=req.invoice_id,
            invoice_number=number, lifecycle_code=req.code,
            reasons=[EventReason(code=r, message=req.reason_text)
                     for r in ([req.reason_code] if req.reason_code else [])],
            detail={"direction": "sent", "tracking_id": str(tracking),
                    "amount": None if req.amount is None else str(req.amount),
                    "vat_rate": None if req.vat_rate is None else str(req.vat_rate),
                    "date": req.on.isoformat()},
            discriminator=f"sent-{tracking}")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO transmit.lifecycle_sent (tracking_id, invoice_id, tenant, code)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (tracking, req.invoice_id, tenant, req.code))
            cur = await conn.execute(
                "UPDATE transmit.lifecycle_sent SET attempts = attempts + CASE WHEN state ="
                " 'pending' THEN 1 ELSE 0 END, updated_at = now() WHERE tracking_id = %s"
                " RETURNING state, attempts, flow_id", (tracking,))
            row = await cur.fetchone()
        assert row is not None
        state_sent, attempts, flow_id = row
        if state_sent == "uploaded":
            await outbox.flush_for(self.pool, self.publish, invoice_id=req.invoice_id)
            return SendResult(tracking, str(flow_id), event.event_id, True, tenant, number)
        held = await self.pa.find_by_tracking_id(creds, str(tracking)) if attempts > 1 else None
        if held is not None:
            flow_id = str(held["flowId"])
        else:
            name = f"CDAR-{req.code}-{(number or 'invoice').replace('/', '_')}.xml"
            result = await self.pa.upload(creds, {
                "trackingId": str(tracking), "name": name, "processingRule": "B2B",
                "flowSyntax": "CDAR", "sha256": sha256_hex(data)}, name, data)
            flow_id = result.flow_id
        event = event.model_copy(update={"detail": {**event.detail, "flow_id": flow_id}})
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE transmit.lifecycle_sent SET state = 'uploaded', flow_id = %s,"
                " event_id = %s, updated_at = now() WHERE tracking_id = %s",
                (flow_id, event.event_id, tracking))
            ids = await outbox.add(conn, [Outgoing.status(event)])
        await outbox.flush(self.pool, self.publish, ids)
        return SendResult(tracking, flow_id, event.event_id, False, tenant, number)


def event_id_for(tracking: uuid.UUID, invoice_id: uuid.UUID, code: int) -> uuid.UUID:
    """The ``event_id`` a sent status publishes (as :func:`make_event` derives it)."""
    return derived_id(invoice_id, "lifecycle", code, f"sent-{tracking}")

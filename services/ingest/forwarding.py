"""The message that hands an accepted submission to the archive, and its publish.

Pure apart from :func:`publish`: :func:`accepted_message` builds ``InvoiceAccepted`` from the
submission, its analysis and the document. The message is published directly (confirmed),
never through the outbox: the document travels once, and ``ingest.submission.forwarded_at``
records that it went out, so a redelivery that finds it unset forwards again (the archive
keeps one copy per ``invoice_id``).
"""

from __future__ import annotations

import uuid
from typing import Any

from services.ingest.domain.analysis import Analysis
from services.ingest.domain.submission import Submission
from shared.messages.base import utcnow
from shared.messages.internal import InvoiceAccepted
from shared.runtime import Runtime
from shared.topology import INTERNAL, RK_ACCEPTED


def accepted_message(
    body: bytes, sub: Submission, sha: str, invoice_id: uuid.UUID, analysis: Analysis
) -> InvoiceAccepted:
    """The archive's input for an accepted ``sub`` (``sub.message_id`` must be set)."""
    assert sub.message_id is not None
    inv = analysis.invoice
    return InvoiceAccepted(
        invoice_id=invoice_id,
        tenant=sub.tenant,
        submission_id=sub.message_id,
        sha256=sha,
        content_type=sub.content_type or "application/octet-stream",
        kind=analysis.kind,
        syntax=analysis.syntax,
        profile=analysis.profile,
        invoice_number=inv.number if inv else sub.invoice_number,
        type_code=inv.type_code if inv else None,
        issue_date=inv.issue_date if inv else sub.issue_date,
        recipient_id=_buyer_id(inv) if inv else sub.recipient_id,
        recipient_name=inv.buyer.name if inv else None,
        recipient_email=sub.recipient_email or (inv.buyer.email if inv else None),
        amount_payable=str(inv.totals.payable)
        if inv and inv.totals.payable is not None
        else None,
        currency=inv.currency if inv else None,
        transmit=sub.transmit,
        received_at=utcnow(),
        document=body,
    )


async def publish(rt: Runtime, msg: InvoiceAccepted) -> None:
    """Publish ``msg`` to the archive and wait for the broker's confirm; raises otherwise."""
    await rt.publish(
        exchange=INTERNAL,
        routing_key=RK_ACCEPTED,
        body=msg.model_dump_json().encode(),
        message_id=str(msg.invoice_id),
    )


def _buyer_id(inv: Any) -> str | None:
    b = inv.buyer
    return b.siret or b.siren or b.legal_id or b.vat_id

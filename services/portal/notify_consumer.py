"""Consumer of ``efacture.portal.notify``: an archived invoice with a recipient e-mail gets one
row in the notification outbox (``portal.notification``), keyed by its invoice id.

Per delivery, one transaction: read the catalogue row, insert the outbox row (``ON CONFLICT
(invoice_id) DO NOTHING``), commit; then ack. A crash before the commit leaves nothing and the
redelivery does the work; a crash between the commit and the ack makes the redelivery find the
row and insert nothing. Either way the invoice has exactly one row, so the sender sends one
message for it (see ``notify_sender`` for the send itself).

An ``invoice.purged`` event on the same queue destroys the invoice's cached PDF renderings
(:func:`purged`), so a rendering never outlives the original it was made from.

Outcomes: an event that is not an ``InvoiceArchived``, names an invoice the catalogue does not
hold, or names it under another tenant → :class:`PermanentError` (dead letter); no recipient
e-mail, or an invoice already purged → ack and nothing; a database error → requeued
(``shared.consumer.settle``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from services.portal.notify import message_id
from services.portal.rendering import pdf
from shared import faults
from shared.consumer import settle
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.topology import RK_PURGED
from shared.vault.blobstore import BlobStore

log = get_logger(__name__)

def decode(body: bytes) -> InvoiceArchived:
    try:
        return InvoiceArchived.model_validate_json(body)
    except ValidationError as exc:
        raise PermanentError("undecodable archived event", code="bad-message") from exc


async def record(pool: AsyncConnectionPool, event: InvoiceArchived, mail_from: str) -> bool:
    """Insert the invoice's outbox row if it has a recipient; True when a row was inserted."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT tenant, recipient_email, state FROM archive.invoice WHERE invoice_id = %s",
            (event.invoice_id,))
        row = await cur.fetchone()
        if row is None:
            raise PermanentError(f"no archived invoice {event.invoice_id}", code="unknown-invoice")
        tenant, email, state = row
        if tenant != event.tenant:
            raise PermanentError("archived event names another tenant", code="tenant-mismatch")
        if not email or not str(email).strip() or state != "archived":
            return False
        cur = await conn.execute(
            "INSERT INTO portal.notification (invoice_id, tenant, email, message_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (invoice_id) DO NOTHING",
            (event.invoice_id, tenant, str(email).strip(),
             message_id(event.invoice_id, mail_from)))
        return cur.rowcount == 1


async def purged(pool: AsyncConnectionPool, blobs: BlobStore, event: InvoicePurged) -> int:
    """The invoice left the archive: its renderings are destroyed, an unsent notification is
    dropped (failed_at, reason ``purged``). Idempotent: a redelivery finds nothing left."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE portal.notification SET failed_at = now(), last_error = 'purged',"
            " subject = NULL, body_text = NULL, body_html = NULL"
            " WHERE invoice_id = %s AND sent_at IS NULL AND failed_at IS NULL",
            (event.invoice_id,))
        return await pdf.forget(conn, blobs, event.invoice_id)


def make_handler(pool_of: Callable[[], AsyncConnectionPool], mail_from: str,
                 blobs_of: Callable[[], BlobStore] | None = None,
                 ) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    """The subscriber's handler (wire it with ``decoder=raw_body``); ``pool_of`` returns the
    process's pool once started, ``blobs_of`` the blob store (for purged invoices)."""

    async def on_archived(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "portal"):
            if msg.raw_message.routing_key == RK_PURGED:
                try:
                    gone = InvoicePurged.model_validate_json(body)
                except ValidationError as exc:
                    raise PermanentError("undecodable purged event", code="bad-message") from exc
                if blobs_of is not None:
                    await purged(pool_of(), blobs_of(), gone)
                return
            event = decode(body)
            inserted = await record(pool_of(), event, mail_from)
            faults.reach("portal.notify.after_record")
            if inserted:
                log.info("notification-recorded", invoice_id=str(event.invoice_id))

    return on_archived

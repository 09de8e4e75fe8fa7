"""Archive's service layer: encrypt, timestamp, log, catalogue — exactly once per invoice.

Contract: for an invoice not yet catalogued, the blob is written (fsync'd)
and then, in ONE transaction, the Merkle leaf, the catalogue row and the
outgoing messages (``archived`` event, the claim check for transmit and
metering) are committed; they are published after the commit and the input
is acked after the confirms. For an invoice already catalogued, only what is
still pending is published. The blob key is fixed per invoice, so a crash
between the blob write and the commit leaves no orphan: the redelivery
rewrites the same blob. A TSA or database outage raises and is retried.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from services.archive.adapters import catalogue, merkle_store
from services.archive.adapters.blobstore import BlobStore, FileBlobStore
from services.archive.adapters.document_sealer import DocumentSealer
from services.archive.adapters.log_key import load_or_create_log_key
from services.archive.adapters.master_key import load_master_key
from services.archive.adapters.tsa_client import TsaClient
from services.archive.domain.blob_key import blob_key
from services.archive.domain.leaf import invoice_leaf_data
from services.archive.domain.retention import retain_until
from shared import outbox
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.messages.base import derived_id
from shared.messages.internal import InvoiceAccepted, InvoiceArchived
from shared.messages.status import make_event
from shared.outbox import Outgoing
from shared.runtime import Runtime
from shared.topology import INTERNAL, RK_ARCHIVED_KEEP, RK_ARCHIVED_TRANSMIT

log = get_logger(__name__)


class ArchiveService:
    """Opened at service start (keys, TSA client, blob store, log key), closed at stop."""

    sealer: DocumentSealer
    blobs: BlobStore
    tsa: TsaClient
    signer: Any

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def open(self) -> None:
        s = self.rt.settings
        self.sealer = DocumentSealer(load_master_key(s))
        self.blobs = FileBlobStore(s.data_dir / "blobs")
        self.tsa = TsaClient.from_settings(s)
        self.signer = load_or_create_log_key(s.data_dir)

    async def close(self) -> None:
        await self.tsa.aclose()

    async def handle(self, msg: InvoiceAccepted) -> bool:
        """Archive ``msg``; returns False when it was archived before (nothing new created)."""
        async with self.rt.pool.connection() as conn:
            done = await catalogue.exists(conn, msg.invoice_id)
        if done:
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=msg.invoice_id)
            log.info("archive-repeated")
            return False
        if hashlib.sha256(msg.document).hexdigest() != msg.sha256:
            raise PermanentError("the document does not match its SHA-256", code="sha256-mismatch")
        token = await self.tsa.stamp(bytes.fromhex(msg.sha256))
        ids = await self._commit(msg, token)
        if ids is None:
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=msg.invoice_id)
            return False
        await outbox.flush(self.rt.pool, self.rt.publish, ids)
        log.info("invoice-archived")
        return True

    async def _commit(self, msg: InvoiceAccepted, token: Any) -> list[int] | None:
        key = blob_key(msg.tenant, msg.invoice_id)
        async with self.rt.pool.connection() as conn, conn.transaction():
            # One writer per invoice: a concurrent duplicate waits here, then sees the row.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (str(msg.invoice_id),))
            if await catalogue.exists(conn, msg.invoice_id):
                return None
            sealed = await self.sealer.seal_document(conn, msg.tenant, msg.invoice_id, msg.document)
            await asyncio.to_thread(self.blobs.put, key, sealed.ciphertext)
            leaf = invoice_leaf_data(msg.invoice_id, msg.tenant, msg.sha256, token.gen_time)
            [index] = await merkle_store.append(conn, [leaf])
            row = catalogue.CatalogueRow(
                invoice_id=msg.invoice_id, tenant=msg.tenant, submission_id=msg.submission_id,
                invoice_number=msg.invoice_number, type_code=msg.type_code,
                issue_date=msg.issue_date, recipient_id=msg.recipient_id,
                recipient_name=msg.recipient_name, recipient_email=msg.recipient_email,
                amount_payable=msg.amount_payable, currency=msg.currency, kind=msg.kind,
                syntax=msg.syntax, profile=msg.profile, content_type=msg.content_type,
                size_bytes=len(msg.document), sha256=msg.sha256, blob_key=key,
                wrapped_data_key=sealed.wrapped_data_key,
                tenant_key_version=sealed.tenant_key_version, tsa_token=token.response_der,
                tsa_time=token.gen_time, log_index=index,
                retain_until=retain_until(msg.issue_date, token.gen_time.date(),
                                          self.rt.settings.retention_years),
                transmit=msg.transmit,
            )
            await catalogue.insert(conn, row)
            event = make_event(
                "archived", tenant=msg.tenant, submission_id=msg.submission_id,
                invoice_id=msg.invoice_id, invoice_number=msg.invoice_number,
                detail={"sha256": msg.sha256, "timestamp": token.gen_time.isoformat(),
                        "log_index": index, "retain_until": row.retain_until.isoformat()},
            )
            archived = InvoiceArchived(
                invoice_id=msg.invoice_id, tenant=msg.tenant, submission_id=msg.submission_id,
                invoice_number=msg.invoice_number, sha256=msg.sha256, syntax=msg.syntax,
                profile=msg.profile, transmit=msg.transmit, archived_at=token.gen_time,
            )
            rk = RK_ARCHIVED_TRANSMIT if msg.transmit else RK_ARCHIVED_KEEP
            return await outbox.add(conn, [
                Outgoing.status(event),
                Outgoing.internal(INTERNAL, rk, archived, derived_id(msg.invoice_id, "archived-msg"),
                                  tenant=msg.tenant, invoice_id=msg.invoice_id),
            ])

    async def checkpoint(self) -> None:
        """Sign a checkpoint of the log if it grew (called every few seconds)."""
        async with self.rt.pool.connection() as conn, conn.transaction():
            await merkle_store.checkpoint(conn, self.signer)

"""Archive's service layer: encrypt, timestamp, log, catalogue — exactly once per invoice.

Contract: for an invoice not yet catalogued, the TSA token is obtained, the
document is encrypted and its blob written (fsync'd); then the invoice joins a
batch, and ONE transaction per batch appends the Merkle leaves, inserts the
catalogue rows and the outgoing messages (``archived`` event, the claim check
for transmit and metering). They are published after the commit, and each
input is acked after its batch's confirms. For an invoice already catalogued,
only what is still pending is published. The blob key is the content address
of the ciphertext (a fresh data key per attempt), recorded in
``archive.pending_blob`` before the put: no attempt ever overwrites another's
blob (S3 puts are create-only), and the catalogue row names the key it
committed. A crash between the blob write and the commit leaves that attempt's
blob; the redelivery writes its own, commits, and sweeps the crashed one
(:mod:`services.archive.orphans`) before publishing. Two copies handled by two
processes (or hosts) meet at the commit: each batch first takes a transaction-scoped
advisory lock per invoice id (:func:`catalogue.lock_and_find`), so the second waits for
the first's commit and finds the row; that loser deletes its own blob and publishes
nothing new. Only the log append, the catalogue and outbox inserts and the commit run
under the log's global lock (sealing, blob writes and the TSA run before,
concurrently). A TSA or database outage raises and is retried. Batching is what keeps
the log (one writer at a time) off the critical path: appends cost three round trips per
batch, whatever its size.

Poison stays alone: each invoice is checked before it joins a batch
(:mod:`services.archive.domain.admission`), and a batch whose transaction still fails on a
row (a data or constraint error) is split in halves until the culprit is alone; that invoice
is answered with a ``rejected`` event and its reason code (acked, its blob removed), and every
other invoice of the batch commits on the same delivery. Infrastructure errors (database
down) still fail the whole batch, to be retried.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.archive import orphans
from services.archive.adapters import catalogue, merkle_store, pending_blobs
from services.archive.adapters.log_key import load_log_key
from services.archive.adapters.tsa_client import TimeStampToken, TsaClient
from services.archive.adapters.tsa_trust import TrustedTokens
from services.archive.domain.admission import ArchiveRefusal, admit, retention_date
from services.archive.domain.leaf import invoice_leaf_data
from shared import faults, outbox
from shared.batcher import Batcher
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.messages.base import derived_id
from shared.messages.internal import InvoiceAccepted, InvoiceArchived
from shared.messages.status import EventReason, make_event
from shared.metrics import REJECTED
from shared.outbox import Outgoing
from shared.pooled import ROW_ERRORS
from shared.runtime import Runtime
from shared.topology import INTERNAL, RK_ARCHIVED_KEEP, RK_ARCHIVED_TRANSMIT
from shared.vault.blob_factory import blob_store_from_settings
from shared.vault.blobstore import BlobStore
from shared.vault.document_sealer import DocumentSealer, SealedDocument
from shared.vault.master_source import MasterKeySource

log = get_logger(__name__)


@dataclass(eq=False)
class Prepared:
    """An invoice whose token and blob are ready, waiting for its batch's commit.

    ``refusal`` is set by the commit when this row alone made its batch fail; ``lost`` when
    another attempt at the same invoice committed first (this one's blob is then discarded).
    """

    msg: InvoiceAccepted
    token: TimeStampToken
    sealed: SealedDocument
    blob_key: str
    refusal: ArchiveRefusal | None = field(default=None)
    lost: bool = field(default=False)


class ArchiveService:
    """Opened at service start (keys, TSA client, blob store, log key), closed at stop."""

    sealer: DocumentSealer
    blobs: BlobStore
    tsa: TsaClient
    trusted: TrustedTokens
    signer: Any

    def __init__(self, rt: Runtime, clock: Callable[[], datetime] | None = None) -> None:
        self.rt = rt
        self.clock = clock or (lambda: datetime.now(UTC))
        self.batcher: Batcher[Prepared] = Batcher(self._commit, max_size=64)
        # One handler per invoice at a time in this process: spares a concurrent duplicate
        # a TSA stamp and a blob. Correctness does not rest on it: across processes the
        # commit decides (see _commit_once) and blob keys never collide.
        self._inflight: dict[Any, tuple[asyncio.Lock, int]] = {}

    async def open(self) -> None:
        s = self.rt.settings
        self.sealer = DocumentSealer(MasterKeySource(s))
        self.blobs = blob_store_from_settings(s)
        self.tsa = TsaClient.from_settings(s)
        self.signer = load_log_key(s)
        self.trusted = TrustedTokens(s)

    async def close(self) -> None:
        await self.batcher.close()
        await self.tsa.aclose()

    async def handle(self, msg: InvoiceAccepted) -> None:
        """Archive ``msg`` (or finish publishing what a crash left pending)."""
        lock, users = self._inflight.get(msg.invoice_id, (asyncio.Lock(), 0))
        self._inflight[msg.invoice_id] = (lock, users + 1)
        try:
            async with lock:
                await self._handle(msg)
        finally:
            lock, users = self._inflight[msg.invoice_id]
            if users == 1:
                del self._inflight[msg.invoice_id]
            else:
                self._inflight[msg.invoice_id] = (lock, users - 1)

    async def _handle(self, msg: InvoiceAccepted) -> None:
        async with self.rt.pool.connection() as conn:
            done = await catalogue.exists(conn, msg.invoice_id)
        if done:
            await self._clean([], [msg.invoice_id])
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=msg.invoice_id)
            log.info("archive-repeated")
            return
        if hashlib.sha256(msg.document).hexdigest() != msg.sha256:
            raise PermanentError("the document does not match its SHA-256", code="sha256-mismatch")
        try:
            admit(msg, self.clock().date(), self.rt.settings.retention_years)
        except ArchiveRefusal as refusal:
            await self._refuse(msg, refusal)
            return
        token = await self.tsa.stamp(bytes.fromhex(msg.sha256))
        self.trusted.check(token.response_der, msg.document)
        async with self.rt.pool.connection() as conn, conn.transaction():
            sealed = await self.sealer.seal_document(conn, msg.tenant, msg.invoice_id, msg.document)
            key = sealed.blob_key
            await pending_blobs.record(conn, key, msg.invoice_id, msg.tenant)
        await asyncio.to_thread(self.blobs.put, key, sealed.ciphertext)
        faults.reach("archive.after_blob")
        prepared = Prepared(msg, token, sealed, key)
        await self.batcher.submit(prepared)
        if prepared.refusal is not None:
            await orphans.discard(self.rt.pool, self.blobs, [key])
            await self._refuse(msg, prepared.refusal)
            return
        if prepared.lost:
            log.info("archive-duplicate-lost")
            return
        faults.reach("archive.after_commit")
        log.info("invoice-archived")

    async def _refuse(self, msg: InvoiceAccepted, refusal: ArchiveRefusal) -> None:
        """Answer one invoice that can never be archived: a ``rejected`` event with its code
        (same event id on a redelivery), then the message is acked by the caller."""
        event = make_event(
            "rejected", tenant=msg.tenant, submission_id=msg.submission_id,
            invoice_id=msg.invoice_id, invoice_number=msg.invoice_number,
            reasons=[EventReason(code=refusal.code, message=str(refusal))],
            detail={"stage": "archive"},
        )
        async with self.rt.pool.connection() as conn, conn.transaction():
            ids = await outbox.add(conn, [Outgoing.status(event)])
        await outbox.flush(self.rt.pool, self.rt.publish, ids)
        REJECTED.labels(refusal.code).inc()
        log.warning("archive-refused", code=refusal.code, error=str(refusal))

    async def _commit(self, batch: Sequence[Prepared]) -> None:
        """Commit ``batch``; a row error is bisected down to the one invoice that caused it."""
        try:
            ids, fresh = await self._commit_once(batch)
        except (*ROW_ERRORS, ArchiveRefusal) as exc:
            if len(batch) == 1:
                log.warning("archive-row-refused", error=f"{type(exc).__name__}: {exc}")
                batch[0].refusal = exc if isinstance(exc, ArchiveRefusal) else ArchiveRefusal(
                    f"the catalogue refused this invoice ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})",
                    code="archive-row-refused")
                return
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
            return
        losers = [p for p in batch if p not in fresh]
        for p in losers:
            p.lost = True
        await self._clean([p.blob_key for p in losers], [p.msg.invoice_id for p in fresh])
        await outbox.flush(self.rt.pool, self.rt.publish, ids, pipelined=True)
        for p in losers:  # archived by another attempt: finish its messages, add none
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=p.msg.invoice_id)

    async def _clean(self, lost: Sequence[str], archived: Sequence[Any]) -> None:
        """Before publishing (once ``archived`` is out, no blob should lack its row): discard
        the ``lost`` attempts' blobs, sweep the orphans of the ``archived`` invoice ids. The
        commit stands if this fails: every such blob is recorded, the periodic sweep retries."""
        try:
            if lost:
                await orphans.discard(self.rt.pool, self.blobs, lost)
            if archived:
                await orphans.sweep(self.rt.pool, self.blobs, archived)
        except Exception as exc:  # cleanup only: sweep_orphans retries
            log.warning("archive-orphan-sweep-failed", error=f"{type(exc).__name__}: {exc}")

    async def _commit_once(self, batch: Sequence[Prepared]) -> tuple[list[int], list[Prepared]]:
        """One transaction for the batch; returns its outbox ids and the rows it inserted."""
        async with self.rt.pool.connection() as conn, conn.transaction():
            # Each invoice's own lock first (any process, any host): a batch holding the same
            # invoice waits here until this one commits, then finds it catalogued below. Other
            # batches go on; only the log's append is serialised (merkle_store.append).
            seen = await catalogue.lock_and_find(conn, [p.msg.invoice_id for p in batch])
            fresh: list[Prepared] = []
            for p in batch:
                if p.msg.invoice_id not in seen:
                    seen.add(p.msg.invoice_id)
                    fresh.append(p)
            if not fresh:
                return [], []
            await pending_blobs.forget(conn, [p.blob_key for p in fresh])
            leaves = [invoice_leaf_data(p.msg.invoice_id, p.msg.tenant, p.msg.sha256,
                                        p.token.gen_time) for p in fresh]
            # From here to the commit the log's lock is held: three statements and the commit.
            indexes = await merkle_store.append(conn, leaves)
            rows = [self._row(p, index) for p, index in zip(fresh, indexes, strict=True)]
            await catalogue.insert_many(conn, rows)
            items = [m for p, row in zip(fresh, rows, strict=True) for m in self._messages(p, row)]
            ids = await outbox.add(conn, items)
        return ids, fresh

    def _row(self, p: Prepared, index: int) -> catalogue.CatalogueRow:
        m = p.msg
        return catalogue.CatalogueRow(
            invoice_id=m.invoice_id, tenant=m.tenant, submission_id=m.submission_id,
            invoice_number=m.invoice_number, type_code=m.type_code, issue_date=m.issue_date,
            recipient_id=m.recipient_id, recipient_name=m.recipient_name,
            recipient_email=m.recipient_email, amount_payable=m.amount_payable,
            currency=m.currency, kind=m.kind, syntax=m.syntax, profile=m.profile,
            content_type=m.content_type, size_bytes=len(m.document), sha256=m.sha256,
            blob_key=p.blob_key, wrapped_data_key=p.sealed.wrapped_data_key,
            tenant_key_version=p.sealed.tenant_key_version, tsa_token=p.token.response_der,
            tsa_time=p.token.gen_time, log_index=index,
            retain_until=retention_date(m.issue_date, p.token.gen_time.date(),
                                        self.rt.settings.retention_years),
            transmit=m.transmit,
        )

    @staticmethod
    def _messages(p: Prepared, row: catalogue.CatalogueRow) -> list[Outgoing]:
        m = p.msg
        event = make_event(
            "archived", tenant=m.tenant, submission_id=m.submission_id, invoice_id=m.invoice_id,
            invoice_number=m.invoice_number,
            detail={"sha256": m.sha256, "timestamp": p.token.gen_time.isoformat(),
                    "log_index": row.log_index, "retain_until": row.retain_until.isoformat()},
        )
        archived = InvoiceArchived(
            invoice_id=m.invoice_id, tenant=m.tenant, submission_id=m.submission_id,
            invoice_number=m.invoice_number, sha256=m.sha256, syntax=m.syntax,
            profile=m.profile, transmit=m.transmit, archived_at=p.token.gen_time,
        )
        rk = RK_ARCHIVED_TRANSMIT if m.transmit else RK_ARCHIVED_KEEP
        return [
            Outgoing.status(event),
            Outgoing.internal(INTERNAL, rk, archived, derived_id(m.invoice_id, "archived-msg"),
                              tenant=m.tenant, invoice_id=m.invoice_id),
        ]

    async def checkpoint(self) -> None:
        """Sign a checkpoint of the log if it grew (called every few seconds)."""
        async with self.rt.pool.connection() as conn, conn.transaction():
            await merkle_store.checkpoint(conn, self.signer)

    async def sweep_orphans(self) -> None:
        """Delete the blobs of attempts that crashed or lost (called every few seconds)."""
        await orphans.sweep(self.rt.pool, self.blobs)

"""Purge: remove archived invoices whose retention has passed (crypto-shredding).

For each invoice, ONE transaction destroys its data key (``wrapped_data_key = NULL``),
appends a tombstone leaf to the log (old checkpoints and consistency proofs stay valid: the
log only grows), marks the catalogue row ``purged`` and adds to the outbox the ``purged``
status event and the ``InvoicePurged`` message for metering. After the commit the blob is
deleted (it is unreadable already: its key is gone) and the outbox rows are published with
confirms. A crash after the commit leaves at worst an undecryptable blob and pending outbox
rows, which the services' outbox sweep publishes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from services.archive.adapters import merkle_store
from services.archive.domain.leaf import tombstone_leaf_data
from shared import outbox
from shared.messages.base import derived_id
from shared.messages.internal import InvoicePurged
from shared.messages.status import make_event
from shared.outbox import Outgoing, Publisher
from shared.topology import INTERNAL, RK_PURGED
from shared.vault.blobstore import BlobStore


@dataclass(frozen=True)
class Candidate:
    """An archived invoice past its retention date."""

    invoice_id: uuid.UUID
    tenant: str
    invoice_number: str | None
    retain_until: date

    def public(self) -> dict[str, Any]:
        return {"invoice_id": str(self.invoice_id), "tenant": self.tenant,
                "invoice_number": self.invoice_number,
                "retain_until": self.retain_until.isoformat()}


class ShareExceededError(Exception):
    """Purging would remove more than the allowed share of some tenant's archive."""


async def candidates(conn: psycopg.AsyncConnection[Any], today: date) -> list[Candidate]:
    """Archived invoices with ``retain_until < today``, oldest first."""
    cur = await conn.execute(
        "SELECT invoice_id, tenant, invoice_number, retain_until FROM archive.invoice"
        " WHERE state = 'archived' AND retain_until < %s ORDER BY retain_until, log_index",
        (today,),
    )
    return [Candidate(*row) for row in await cur.fetchall()]


async def over_share(
    conn: psycopg.AsyncConnection[Any], found: list[Candidate], max_share: float
) -> dict[str, tuple[int, int]]:
    """Tenants whose purge would exceed ``max_share``: tenant → (to purge, archived)."""
    per_tenant = Counter(c.tenant for c in found)
    if not per_tenant:
        return {}
    cur = await conn.execute(
        "SELECT tenant, count(*) FROM archive.invoice WHERE state = 'archived'"
        " AND tenant = ANY(%s) GROUP BY tenant",
        (list(per_tenant),),
    )
    totals = {tenant: int(n) for tenant, n in await cur.fetchall()}
    return {t: (n, totals.get(t, n)) for t, n in per_tenant.items()
            if n > max_share * totals.get(t, n)}


async def _shred(conn: psycopg.AsyncConnection[Any], c: Candidate,
                 now: datetime) -> tuple[list[int], str] | None:
    """The transaction of one purge; None if the invoice is no longer purgeable."""
    cur = await conn.execute(
        "SELECT sha256, blob_key, submission_id FROM archive.invoice"
        " WHERE invoice_id = %s AND state = 'archived' FOR UPDATE",
        (c.invoice_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    sha256, key, submission_id = row[0].strip(), row[1], row[2]
    [index] = await merkle_store.append(
        conn, [tombstone_leaf_data(c.invoice_id, c.tenant, sha256, now)]
    )
    await conn.execute(
        "UPDATE archive.invoice SET wrapped_data_key = NULL, state = 'purged',"
        " purged_at = %s, tombstone_index = %s WHERE invoice_id = %s",
        (now, index, c.invoice_id),
    )
    event = make_event(
        "purged", tenant=c.tenant, submission_id=submission_id, invoice_id=c.invoice_id,
        invoice_number=c.invoice_number, occurred_at=now,
        detail={"retain_until": c.retain_until.isoformat(), "tombstone_index": index},
    )
    message = InvoicePurged(invoice_id=c.invoice_id, tenant=c.tenant, purged_at=now)
    ids = await outbox.add(conn, [
        Outgoing.status(event),
        Outgoing.internal(INTERNAL, RK_PURGED, message, derived_id(c.invoice_id, "purged-msg"),
                          tenant=c.tenant, invoice_id=c.invoice_id),
    ])
    return ids, key


async def purge_one(
    pool: AsyncConnectionPool, publish: Publisher, blobs: BlobStore, c: Candidate
) -> bool:
    """Purge one invoice; False if it was purged (or is gone) already. Raises on failure."""
    now = datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        done = await _shred(conn, c, now)
    if done is None:
        return False
    ids, key = done
    await asyncio.to_thread(blobs.delete, key)
    await outbox.flush(pool, publish, ids)
    return True


async def purge_all(
    pool: AsyncConnectionPool, publish: Publisher, blobs: BlobStore, found: list[Candidate],
    on_progress: Callable[[Candidate], Awaitable[None] | None] | None = None,
) -> int:
    """Purge ``found`` one by one (each its own transaction); returns how many were purged."""
    purged = 0
    for c in found:
        if await purge_one(pool, publish, blobs, c):
            purged += 1
        if on_progress is not None:
            result = on_progress(c)
            if result is not None:
                await result
    return purged

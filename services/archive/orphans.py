"""Removing the blobs no catalogue row owns (the orphans of crashed or losing attempts).

Every blob archive writes is recorded in ``archive.pending_blob`` first
(:mod:`services.archive.adapters.pending_blobs`); once the catalogue committed some key for
an invoice, every other recorded key of that invoice is garbage. :func:`sweep` deletes those
blobs (idempotent: a blob already gone is fine) and then their records past a grace period,
so a concurrent attempt that recorded its key but has not put its blob yet is swept again
later rather than forgotten. Run inline right after a commit (for that batch's invoices, so
the orphan is gone before the ``archived`` event is published) and periodically (for any
invoice: an inline sweep that failed, a loser that crashed).

Failure semantics: a blob-store or database error propagates; nothing is forgotten whose
blob was not deleted, so the next sweep retries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from psycopg_pool import AsyncConnectionPool

from services.archive.adapters import pending_blobs
from shared.logging import get_logger
from shared.vault.blobstore import BlobStore

log = get_logger(__name__)

# Far beyond one blob put: a record younger than this may belong to an attempt still in flight.
GRACE_SECONDS = 600.0


async def sweep(pool: AsyncConnectionPool, blobs: BlobStore,
                invoice_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Delete the orphan blobs of ``invoice_ids`` (or of every invoice); returns how many."""
    async with pool.connection() as conn:
        keys = await pending_blobs.orphans(conn, invoice_ids)
    if not keys:
        return 0
    for key in keys:
        await asyncio.to_thread(blobs.delete, key)
    async with pool.connection() as conn, conn.transaction():
        await pending_blobs.forget_settled(conn, keys, GRACE_SECONDS)
    log.info("archive-orphans-swept", count=len(keys))
    return len(keys)


async def discard(pool: AsyncConnectionPool, blobs: BlobStore, keys: Sequence[str]) -> None:
    """Delete blobs this process wrote and no row will own (a refused or losing attempt)."""
    for key in keys:
        await asyncio.to_thread(blobs.delete, key)
    async with pool.connection() as conn, conn.transaction():
        await pending_blobs.forget(conn, keys)

"""Ingest's tables: submissions (idempotency key) and invoice keys (DOUBLON rule)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class StoredSubmission:
    invoice_id: uuid.UUID
    state: str
    sha256: str
    forwarded: bool


async def find(
    conn: psycopg.AsyncConnection[Any], tenant: str, message_id: str
) -> StoredSubmission | None:
    cur = await conn.execute(
        "SELECT invoice_id, state, sha256, forwarded_at IS NOT NULL FROM ingest.submission"
        " WHERE tenant = %s AND message_id = %s",
        (tenant, message_id),
    )
    row = await cur.fetchone()
    return StoredSubmission(row[0], row[1], row[2].strip(), row[3]) if row else None


async def claim_invoice_key(
    conn: psycopg.AsyncConnection[Any], seller_key: str, number: str, invoice_id: uuid.UUID
) -> bool:
    """Reserve (seller, number) for ``invoice_id``; False when another invoice holds it."""
    cur = await conn.execute(
        "INSERT INTO ingest.invoice_key (seller_key, invoice_number, invoice_id)"
        " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        (seller_key, number, invoice_id),
    )
    return cur.rowcount == 1


async def insert(
    conn: psycopg.AsyncConnection[Any], *, tenant: str, message_id: str, invoice_id: uuid.UUID,
    state: str, sha256: str, invoice_number: str | None, reasons: list[dict[str, Any]],
    warnings: list[dict[str, Any]],
) -> None:
    """Record the verdict; raises ``UniqueViolation`` if a concurrent consumer got there first."""
    await conn.execute(
        "INSERT INTO ingest.submission (tenant, message_id, invoice_id, state, sha256,"
        " invoice_number, reasons, warnings) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
        (tenant, message_id, invoice_id, state, sha256, invoice_number, Jsonb(reasons),
         Jsonb(warnings)),
    )


async def mark_forwarded(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE ingest.submission SET forwarded_at = now() WHERE invoice_id = %s", (invoice_id,)
    )

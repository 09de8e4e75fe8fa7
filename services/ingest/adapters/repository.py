"""Ingest's tables: submissions (idempotency key) and invoice keys (DOUBLON rule).

The ``*_many`` functions are the batched forms (one statement for a whole batch, see
:mod:`services.ingest.lookups` and :mod:`services.ingest.recorder`); the single-row ones
serve the redelivery path and the outcome of a submission another consumer recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Known:
    """What ingest reads before deciding a submission: its stored verdict, if any, and its
    tenant's flags (an unregistered tenant reads as inactive, not sandbox)."""

    existing: StoredSubmission | None
    tenant_active: bool
    sandbox: bool


async def lookup_many(
    conn: psycopg.AsyncConnection[Any], keys: Sequence[tuple[str, str]]
) -> list[Known]:
    """For each (tenant, message_id) of ``keys``, in order: one statement for all of them.

    Reads ``core.tenant``'s ``active`` and ``sandbox`` itself (the two flags ingest needs, no
    second round trip through :func:`shared.tenants.get`)."""
    cur = await conn.execute(
        "SELECT s.invoice_id, s.state, s.sha256, s.forwarded_at IS NOT NULL,"
        " coalesce(t.active, false), coalesce(t.sandbox, false)"
        " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS q(tenant, message_id, n)"
        " LEFT JOIN ingest.submission s ON s.tenant = q.tenant AND s.message_id = q.message_id"
        # bpchar without a length: the SIRET column's type, never truncating the input.
        " LEFT JOIN core.tenant t ON t.siret = q.tenant::bpchar"
        " ORDER BY q.n",
        ([k[0] for k in keys], [k[1] for k in keys]),
    )
    return [
        Known(StoredSubmission(r[0], r[1], r[2].strip(), r[3]) if r[0] is not None else None,
              r[4], r[5])
        for r in await cur.fetchall()
    ]


async def claim_many(
    conn: psycopg.AsyncConnection[Any], claims: Sequence[tuple[str, str, uuid.UUID]]
) -> set[uuid.UUID]:
    """Reserve each (seller_key, number) for its invoice id, in the order given; returns the
    invoice ids that got theirs. Of two claims of one key in ``claims`` the first wins; a key
    another invoice holds is not taken (a concurrent holder is waited for, then respected)."""
    if not claims:
        return set()
    cur = await conn.execute(
        "INSERT INTO ingest.invoice_key (seller_key, invoice_number, invoice_id)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[])"
        " ON CONFLICT DO NOTHING RETURNING invoice_id",
        ([c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims]),
    )
    return {row[0] for row in await cur.fetchall()}


@dataclass(frozen=True)
class Row:
    """One verdict to insert (:func:`insert_many`)."""

    tenant: str
    message_id: str
    invoice_id: uuid.UUID
    state: str
    sha256: str
    invoice_number: str | None
    reasons: list[dict[str, Any]]
    warnings: list[dict[str, Any]]


_INSERT = (
    "INSERT INTO ingest.submission (tenant, message_id, invoice_id, state, sha256,"
    " invoice_number, reasons, warnings) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
)


async def insert_many(conn: psycopg.AsyncConnection[Any], rows: Sequence[Row]) -> None:
    """Record the verdicts (pipelined); raises ``UniqueViolation`` if a concurrent consumer
    recorded one of them first (the caller's transaction is then aborted)."""
    params = [(r.tenant, r.message_id, r.invoice_id, r.state, r.sha256, r.invoice_number,
               Jsonb(r.reasons), Jsonb(r.warnings)) for r in rows]
    async with conn.cursor() as cur:
        if len(params) == 1:  # pipeline mode costs more than it saves for one row
            await cur.execute(_INSERT, params[0])
        else:
            await cur.executemany(_INSERT, params)


async def mark_forwarded(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE ingest.submission SET forwarded_at = now() WHERE invoice_id = %s", (invoice_id,)
    )


async def mark_sent(
    conn: psycopg.AsyncConnection[Any], outbox_ids: Sequence[int],
    forwarded: Sequence[uuid.UUID],
) -> None:
    """Mark a batch's outbox rows published and its forwarded invoices forwarded, in one
    statement (an autocommit ``conn``: one round trip, one transaction)."""
    await conn.execute(
        "WITH published AS (UPDATE core.outbox SET published_at = now()"
        " WHERE id = ANY(%s) AND published_at IS NULL)"
        " UPDATE ingest.submission SET forwarded_at = now() WHERE invoice_id = ANY(%s)",
        (list(outbox_ids), list(forwarded)),
    )

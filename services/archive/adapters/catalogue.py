"""The archive catalogue in PostgreSQL (schema ``archive``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

COLUMNS = (
    "invoice_id, tenant, submission_id, invoice_number, type_code, issue_date, recipient_id,"
    " recipient_name, recipient_email, amount_payable, currency, kind, syntax, profile,"
    " content_type, size_bytes, sha256, blob_key, wrapped_data_key, tenant_key_version,"
    " tsa_token, tsa_time, log_index, retain_until, transmit"
)


@dataclass(frozen=True)
class CatalogueRow:
    invoice_id: uuid.UUID
    tenant: str
    submission_id: str
    invoice_number: str | None
    type_code: str | None
    issue_date: date | None
    recipient_id: str | None
    recipient_name: str | None
    recipient_email: str | None
    amount_payable: str | None
    currency: str | None
    kind: str
    syntax: str | None
    profile: str | None
    content_type: str
    size_bytes: int
    sha256: str
    blob_key: str
    wrapped_data_key: bytes | None
    tenant_key_version: int
    tsa_token: bytes
    tsa_time: datetime
    log_index: int
    retain_until: date
    transmit: bool


async def exists(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> bool:
    cur = await conn.execute("SELECT 1 FROM archive.invoice WHERE invoice_id = %s", (invoice_id,))
    return await cur.fetchone() is not None


async def insert(conn: psycopg.AsyncConnection[Any], row: CatalogueRow) -> bool:
    """Insert in the caller's transaction; False if the invoice is already catalogued."""
    values = [getattr(row, c.strip()) for c in COLUMNS.split(",")]
    placeholders = ",".join(["%s"] * len(values))
    cur = await conn.execute(
        f"INSERT INTO archive.invoice ({COLUMNS}) VALUES ({placeholders})"  # noqa: S608
        " ON CONFLICT (invoice_id) DO NOTHING",
        values,
    )
    return cur.rowcount == 1


INVOICE_LOCK_SPACE = 7_420_021
"""Seed of the invoice-id advisory lock keys (``hashtextextended``), distinct from the log's."""


async def lock_and_find(conn: psycopg.AsyncConnection[Any],
                        invoice_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Take a transaction-scoped advisory lock on each invoice id (in key order, so two
    batches sharing invoices cannot deadlock), then return those already catalogued.

    Held until the caller's transaction ends: another process committing the same invoice
    commits before this check reads, or waits for this transaction. READ COMMITTED needed.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(i::text, %s)"
        " AS k FROM unnest(%s::uuid[]) AS i ORDER BY k) AS keys",
        (INVOICE_LOCK_SPACE, invoice_ids))
    cur = await conn.execute(
        "SELECT invoice_id FROM archive.invoice WHERE invoice_id = ANY(%s)", (invoice_ids,))
    return {row[0] for row in await cur.fetchall()}


async def insert_many(conn: psycopg.AsyncConnection[Any], rows: list[CatalogueRow]) -> None:
    """Insert ``rows`` in the caller's transaction, pipelined (one round trip); an invoice
    already catalogued is left as it is (callers hold its lock and checked first)."""
    names = [c.strip() for c in COLUMNS.split(",")]
    placeholders = ",".join(["%s"] * len(names))
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO archive.invoice ({COLUMNS}) VALUES ({placeholders})"  # noqa: S608
            " ON CONFLICT (invoice_id) DO NOTHING",
            [[getattr(row, n) for n in names] for row in rows])


def fetch_sync(conn: psycopg.Connection[Any], invoice_id: uuid.UUID) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT *, state FROM archive.invoice WHERE invoice_id = %s", (invoice_id,)
        )
        return cur.fetchone()


async def fetch(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM archive.invoice WHERE invoice_id = %s", (invoice_id,))
        return await cur.fetchone()


def list_invoices(
    conn: psycopg.Connection[Any], tenant: str, recipient: str | None = None
) -> list[dict[str, Any]]:
    """The ``invoice list --json`` shape of contract section 4, oldest first."""
    query = (
        "SELECT invoice_id, submission_id, invoice_number, issue_date, recipient_id,"
        " recipient_name, sha256, archived_at, state FROM archive.invoice WHERE tenant = %s"
    )
    params: list[Any] = [tenant]
    if recipient:
        query += " AND recipient_id = %s"
        params.append(recipient)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query + " ORDER BY archived_at, invoice_id", params)
        rows = cur.fetchall()
    for r in rows:
        r["invoice_id"] = str(r["invoice_id"])
        r["sha256"] = r["sha256"].strip()
        r["issue_date"] = r["issue_date"].isoformat() if r["issue_date"] else None
        r["archived_at"] = r["archived_at"].isoformat()
    return rows

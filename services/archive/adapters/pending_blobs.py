"""``archive.pending_blob``: blobs written but not (yet) owned by a catalogue row.

Contract: :func:`record` is committed before the blob is put, so no blob archive writes is
ever unknown to the database. The key leaves the table when the catalogue commits it
(:func:`forget`, in the commit's transaction) or when its blob was removed. A recorded key
whose invoice the catalogue names with another key is an orphan (a crashed or losing
attempt): :func:`orphans` lists them for the sweep. Keys of invoices never catalogued stay
recorded (a dead-lettered invoice may still be replayed, its blob is then swept).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import psycopg


async def record(conn: psycopg.AsyncConnection[Any], key: str, invoice_id: uuid.UUID,
                 tenant: str) -> None:
    """Record ``key`` in the caller's transaction (commit it before the put)."""
    await conn.execute(
        "INSERT INTO archive.pending_blob (blob_key, invoice_id, tenant) VALUES (%s, %s, %s)"
        " ON CONFLICT (blob_key) DO NOTHING", (key, invoice_id, tenant))


async def forget(conn: psycopg.AsyncConnection[Any], keys: Sequence[str]) -> None:
    """The blobs of ``keys`` are owned by a catalogue row, or gone."""
    if keys:
        await conn.execute("DELETE FROM archive.pending_blob WHERE blob_key = ANY(%s)",
                           (list(keys),))


async def orphans(conn: psycopg.AsyncConnection[Any], invoice_ids: Sequence[uuid.UUID] | None,
                  limit: int = 500) -> list[str]:
    """Recorded keys whose invoice is catalogued under another key (of ``invoice_ids``, or
    of any invoice when None), oldest first."""
    query = ("SELECT p.blob_key FROM archive.pending_blob p"
             " JOIN archive.invoice i ON i.invoice_id = p.invoice_id"
             " WHERE p.blob_key <> i.blob_key")
    params: list[Any] = []
    if invoice_ids is not None:
        query += " AND p.invoice_id = ANY(%s)"
        params.append(list(invoice_ids))
    cur = await conn.execute(query + " ORDER BY p.created_at LIMIT %s", (*params, limit))
    return [row[0] for row in await cur.fetchall()]


async def forget_settled(conn: psycopg.AsyncConnection[Any], keys: Sequence[str],
                         grace_seconds: float) -> None:
    """Forget the orphan ``keys`` recorded more than ``grace_seconds`` ago.

    A young one stays recorded (its blob already deleted): a concurrent attempt may have
    recorded it and not yet put its blob, which the next sweep then removes.
    """
    if keys:
        await conn.execute(
            "DELETE FROM archive.pending_blob WHERE blob_key = ANY(%s)"
            " AND created_at < now() - make_interval(secs => %s)", (list(keys), grace_seconds))

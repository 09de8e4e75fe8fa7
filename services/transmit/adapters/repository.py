"""Transmit's table: one row per invoice, the idempotency key of every upload."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class Transmission:
    invoice_id: uuid.UUID
    state: str
    attempts: int
    round_attempts: int
    replays: int
    flow_id: str | None


async def claim(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tenant: str
) -> Transmission:
    """The invoice's row, created if new, locked for the caller's transaction."""
    await conn.execute(
        "INSERT INTO transmit.transmission (invoice_id, tenant) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING",
        (invoice_id, tenant),
    )
    cur = await conn.execute(
        "SELECT invoice_id, state, attempts, round_attempts, replays, flow_id"
        " FROM transmit.transmission WHERE invoice_id = %s FOR UPDATE",
        (invoice_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return Transmission(*row)


async def start_attempt(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, replays: int
) -> Transmission:
    """Count one more upload (committed before the upload, so a crash is remembered).

    A higher replay count than recorded starts a new round of retries.
    """
    cur = await conn.execute(
        "UPDATE transmit.transmission SET attempts = attempts + 1,"
        " round_attempts = CASE WHEN %s > replays THEN 1 ELSE round_attempts + 1 END,"
        " replays = GREATEST(replays, %s), state = 'pending', updated_at = now()"
        " WHERE invoice_id = %s"
        " RETURNING invoice_id, state, attempts, round_attempts, replays, flow_id",
        (replays, replays, invoice_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return Transmission(*row)


async def set_state(
    conn: psycopg.AsyncConnection[Any],
    invoice_id: uuid.UUID,
    state: str,
    *,
    flow_id: str | None = None,
    error: str | None = None,
    permanent: bool | None = None,
) -> None:
    await conn.execute(
        "UPDATE transmit.transmission SET state = %s, flow_id = COALESCE(%s, flow_id),"
        " last_error = COALESCE(%s, last_error), permanent = COALESCE(%s, permanent),"
        " first_failed_at = CASE WHEN %s = 'failed' THEN COALESCE(first_failed_at, now())"
        " ELSE first_failed_at END, updated_at = now() WHERE invoice_id = %s",
        (state, flow_id, error, permanent, state, invoice_id),
    )


async def set_uploaded(
    conn: psycopg.AsyncConnection[Any], uploads: Sequence[tuple[uuid.UUID, str]],
    first_poll_s: float,
) -> None:
    """Mark each (invoice_id, flow_id) ``uploaded`` in one statement (``set_state`` for many),
    its acknowledgement due to be read ``first_poll_s`` from now (:mod:`.due_polls`)."""
    if not uploads:
        return
    await conn.execute(
        "UPDATE transmit.transmission t SET state = 'uploaded', flow_id = v.flow_id,"
        " updated_at = now(), poll_at = now() + make_interval(secs => %s), polls = 0"
        " FROM unnest(%s::uuid[], %s::text[]) AS v(invoice_id, flow_id)"
        " WHERE t.invoice_id = v.invoice_id",
        (first_poll_s, [i for i, _ in uploads], [f for _, f in uploads]),
    )


async def set_acknowledged(
    conn: psycopg.AsyncConnection[Any], acks: Sequence[tuple[uuid.UUID, str]]
) -> None:
    """Set each (invoice_id, state) — ``accepted`` or ``rejected`` — in one statement."""
    if not acks:
        return
    await conn.execute(
        "UPDATE transmit.transmission t SET state = v.state, updated_at = now()"
        " FROM unnest(%s::uuid[], %s::text[]) AS v(invoice_id, state)"
        " WHERE t.invoice_id = v.invoice_id",
        ([i for i, _ in acks], [s for _, s in acks]),
    )


async def get(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> Transmission | None:
    cur = await conn.execute(
        "SELECT invoice_id, state, attempts, round_attempts, replays, flow_id"
        " FROM transmit.transmission WHERE invoice_id = %s",
        (invoice_id,),
    )
    row = await cur.fetchone()
    return Transmission(*row) if row else None


async def uploaded_before(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID,
                          seconds: float) -> bool:
    """True when the invoice was uploaded (and is still unacknowledged) over ``seconds`` ago."""
    cur = await conn.execute(
        "SELECT 1 FROM transmit.transmission WHERE invoice_id = %s AND state = 'uploaded'"
        " AND updated_at < now() - make_interval(secs => %s)", (invoice_id, seconds))
    return await cur.fetchone() is not None

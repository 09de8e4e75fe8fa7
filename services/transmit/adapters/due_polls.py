"""The acknowledgement polls due now, claimed from ``transmit.transmission`` in one statement.

A flow is due while it is ``uploaded`` and its ``poll_at`` has passed. :func:`claim` takes up to
``limit`` of them (oldest first, ``FOR UPDATE SKIP LOCKED``: two transmit processes never take
the same flow) and, in the same statement, moves each one's ``poll_at`` a lease ahead and
counts the poll. A process that dies before reading the flow leaves it due again at the end
of the lease; nothing else has to be undone. :func:`rearm` then sets the next poll of the
flows still pending, one poll delay after the read. The poll that reaches
``max_polls`` clears ``poll_at``: the flow is not read again by this path (the lifecycle
follower reads its acknowledgement when a later status about it arrives).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class DuePoll:
    invoice_id: uuid.UUID
    tenant: str
    flow_id: str
    polls: int  # this poll included


_CLAIM = (
    "UPDATE transmit.transmission t SET polls = t.polls + 1,"
    " poll_at = CASE WHEN t.polls + 1 >= %(max)s THEN NULL"
    " ELSE now() + make_interval(secs => %(delay)s) END"
    " FROM (SELECT invoice_id FROM transmit.transmission"
    "       WHERE state = 'uploaded' AND poll_at <= now()"
    "       ORDER BY poll_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED) AS due"
    " WHERE t.invoice_id = due.invoice_id"
    " RETURNING t.invoice_id, t.tenant, t.flow_id, t.polls"
)


async def claim(conn: psycopg.AsyncConnection[Any], *, limit: int, delay_s: float,
                max_polls: int) -> list[DuePoll]:
    """Claim the due polls (``conn`` in autocommit: the statement is its own transaction)."""
    cur = await conn.execute(_CLAIM, {"limit": limit, "delay": delay_s, "max": max_polls})
    return [DuePoll(r[0], r[1], r[2], r[3]) for r in await cur.fetchall() if r[2]]


async def rearm(conn: psycopg.AsyncConnection[Any], invoice_ids: list[uuid.UUID],
                delay_s: float) -> None:
    """The flows read and still pending (or not read): next poll ``delay_s`` from now, in one
    statement; a flow whose polls gave up (no ``poll_at``) or that was acknowledged meanwhile
    is left as it is."""
    if invoice_ids:
        await conn.execute(
            "UPDATE transmit.transmission SET poll_at = now() + make_interval(secs => %s)"
            " WHERE invoice_id = ANY(%s) AND state = 'uploaded' AND poll_at IS NOT NULL",
            (delay_s, invoice_ids))


async def make_due(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> None:
    """A flow an earlier version followed by a queued poll message: due now, if not already."""
    await conn.execute(
        "UPDATE transmit.transmission SET poll_at = now()"
        " WHERE invoice_id = %s AND state = 'uploaded' AND poll_at IS NULL AND polls = 0",
        (invoice_id,))

"""The acknowledgement polls due now, claimed from ``transmit.transmission`` in one statement.

A flow is due while it is ``uploaded`` and its ``poll_at`` has passed. :func:`claim` takes up to
``limit`` of them (oldest first, ``FOR UPDATE SKIP LOCKED``: two transmit processes never take
the same flow) and, in the same statement, moves each one's ``poll_at`` one delay ahead and
counts the poll: the claim is a lease. A process that dies before reading the flow leaves it
due again at the end of the lease; nothing else has to be undone. The poll that reaches
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


async def make_due(conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID) -> None:
    """A flow an earlier version followed by a queued poll message: due now, if not already."""
    await conn.execute(
        "UPDATE transmit.transmission SET poll_at = now()"
        " WHERE invoice_id = %s AND state = 'uploaded' AND poll_at IS NULL AND polls = 0",
        (invoice_id,))

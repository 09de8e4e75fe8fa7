"""Per-address throttling of failed sign-ins (whatever account they aimed at).

Past :data:`LIMIT` failures from one address within :data:`WINDOW`, sign-in attempts from it
are answered 429 without being checked; the per-account lockout (ten in a row) is separate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]

WINDOW = timedelta(minutes=15)
LIMIT = 100


async def blocked(conn: Conn, address: str, now: datetime, limit: int = LIMIT) -> bool:
    cur = await conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM portal.login_failure WHERE address = %s"
        " AND at > %s LIMIT %s) f", (address, now - WINDOW, limit))
    row = await cur.fetchone()
    return row is not None and int(row[0]) >= limit


async def record(conn: Conn, address: str, now: datetime) -> None:
    await conn.execute("INSERT INTO portal.login_failure (address, at) VALUES (%s, %s)",
                       (address, now))

"""Reads metering's counters (``metering.period_count``, ``metering.tenant_count``).

Periods, plan and tranches come from :mod:`shared.billing`, the rule metering counts with, so
the portal shows the same figures as ``efacture usage``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg

from shared import billing

Conn = psycopg.AsyncConnection[Any]


async def _count(conn: Conn, tenant: str, start: date) -> int:
    cur = await conn.execute("SELECT count FROM metering.period_count WHERE tenant = %s"
                             " AND period_start = %s", (tenant, start))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def report(conn: Conn, tenant: str, now: datetime) -> dict[str, Any] | None:
    """The section 6 document for ``tenant`` today (None for an unknown tenant), plus the
    previous period's statement (its count, plan and tranches)."""
    cur = await conn.execute("SELECT subscribed_on FROM core.tenant WHERE siret = %s", (tenant,))
    row = await cur.fetchone()
    if row is None:
        return None
    subscribed_on: date = row[0]
    day = max(billing.day_of(now), subscribed_on)
    index = billing.period_index(subscribed_on, day)
    current = billing.period_at(subscribed_on, index)
    start, end = current.start, current.end
    count = await _count(conn, tenant, start)
    previous: dict[str, Any] | None = None
    previous_count = 0
    if index > 0:
        last = billing.period_at(subscribed_on, index - 1)
        previous_count = await _count(conn, tenant, last.start)
        before = await _count(conn, tenant, billing.period_at(subscribed_on, index - 2).start) \
            if index > 1 else 0
        previous = {"period_start": last.start, "period_end": last.end, "count": previous_count,
                    "plan": billing.plan(before), "tranches": billing.tranches(previous_count)}
    cur = await conn.execute("SELECT stored, cumulative FROM metering.tenant_count"
                             " WHERE tenant = %s", (tenant,))
    totals = await cur.fetchone()
    stored, cumulative = (int(totals[0]), int(totals[1])) if totals else (0, 0)
    return {"tenant": tenant, "subscribed_on": subscribed_on, "period_start": start,
            "period_end": end, "period_count": count, "previous_period_count": previous_count,
            "stored": stored, "cumulative": cumulative, "plan": billing.plan(previous_count),
            "tranches": billing.tranches(count), "previous_statement": previous}

"""Reads metering's counters (``metering.period_count``, ``metering.tenant_count``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg

from services.portal.domain import usage as rule

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
    day = max(rule.day_of(now), subscribed_on)
    index = rule.period_index(subscribed_on, day)
    start, end = rule.period(subscribed_on, index)
    count = await _count(conn, tenant, start)
    previous: dict[str, Any] | None = None
    previous_count = 0
    if index > 0:
        p_start, p_end = rule.period(subscribed_on, index - 1)
        previous_count = await _count(conn, tenant, p_start)
        before = await _count(conn, tenant, rule.period(subscribed_on, index - 2)[0]) \
            if index > 1 else 0
        previous = {"period_start": p_start, "period_end": p_end, "count": previous_count,
                    "plan": rule.plan(before), "tranches": rule.tranches(previous_count)}
    cur = await conn.execute("SELECT stored, cumulative FROM metering.tenant_count"
                             " WHERE tenant = %s", (tenant,))
    totals = await cur.fetchone()
    stored, cumulative = (int(totals[0]), int(totals[1])) if totals else (0, 0)
    return {"tenant": tenant, "subscribed_on": subscribed_on, "period_start": start,
            "period_end": end, "period_count": count, "previous_period_count": previous_count,
            "stored": stored, "cumulative": cumulative, "plan": rule.plan(previous_count),
            "tranches": rule.tranches(count), "previous_statement": previous}

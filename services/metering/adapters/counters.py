"""Metering's counters: the ledger row and the counter updates, in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import psycopg

from services.metering.domain.period import Period


async def count_archived(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tenant: str,
    archived_at: datetime, period: Period,
) -> bool:
    """Count one archived invoice; False (and nothing changed) if it was counted before."""
    cur = await conn.execute(
        "INSERT INTO metering.counted (invoice_id, tenant, archived_at, period_start)"
        " VALUES (%s,%s,%s,%s) ON CONFLICT DO NOTHING",
        (invoice_id, tenant, archived_at, period.start))
    if cur.rowcount != 1:
        return False
    await conn.execute(
        "INSERT INTO metering.period_count (tenant, period_start, period_end, count)"
        " VALUES (%s,%s,%s,1) ON CONFLICT (tenant, period_start)"
        " DO UPDATE SET count = metering.period_count.count + 1",
        (tenant, period.start, period.end))
    await conn.execute(
        "INSERT INTO metering.tenant_count (tenant, stored, cumulative) VALUES (%s,1,1)"
        " ON CONFLICT (tenant) DO UPDATE SET stored = metering.tenant_count.stored + 1,"
        " cumulative = metering.tenant_count.cumulative + 1", (tenant,))
    return True


async def count_purged(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tenant: str, purged_at: datetime
) -> bool:
    """One invoice left the archive: ``stored`` goes down once, ``cumulative`` never does."""
    cur = await conn.execute(
        "INSERT INTO metering.purged (invoice_id, tenant, purged_at) VALUES (%s,%s,%s)"
        " ON CONFLICT DO NOTHING", (invoice_id, tenant, purged_at))
    if cur.rowcount != 1:
        return False
    await conn.execute(
        "UPDATE metering.tenant_count SET stored = stored - 1 WHERE tenant = %s", (tenant,))
    return True


def period_count_sync(conn: psycopg.Connection[Any], tenant: str, start: date) -> int:
    row = conn.execute(
        "SELECT count FROM metering.period_count WHERE tenant = %s AND period_start = %s",
        (tenant, start)).fetchone()
    return int(row[0]) if row else 0


def totals_sync(conn: psycopg.Connection[Any], tenant: str) -> tuple[int, int]:
    row = conn.execute(
        "SELECT stored, cumulative FROM metering.tenant_count WHERE tenant = %s", (tenant,)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)

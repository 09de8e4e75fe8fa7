"""Metering's counters: the ledger rows and the counter updates, in the caller's transaction.

The ledgers (``metering.counted``, ``metering.purged``) hold one row per invoice under a
primary key: a repeated event finds its row and changes nothing, and because the ledger row and
the counters commit together, a crash leaves either both or neither.

The batch functions take rows in a fixed order (invoice ids, then tenant and period keys, all
sorted), so two consumers committing overlapping batches wait for each other instead of
deadlocking; a deadlock would still only fail the batch, which is redelivered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg

from shared.billing import Period


@dataclass(frozen=True)
class ArchivedRow:
    """One archived invoice to count, with the billing period it counts in."""

    invoice_id: uuid.UUID
    tenant: str
    archived_at: datetime
    period: Period


@dataclass(frozen=True)
class PurgedRow:
    """One invoice that left the archive."""

    invoice_id: uuid.UUID
    tenant: str
    purged_at: datetime


async def count_archived(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tenant: str,
    archived_at: datetime, period: Period,
) -> bool:
    """Count one archived invoice; False (and nothing changed) if it was counted before."""
    counted, _ = await count_batch(
        conn, [ArchivedRow(invoice_id, tenant, archived_at, period)], [])
    return bool(counted)


async def count_purged(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tenant: str, purged_at: datetime
) -> bool:
    """One invoice left the archive: ``stored`` goes down once, ``cumulative`` never does."""
    _, purged = await count_batch(conn, [], [PurgedRow(invoice_id, tenant, purged_at)])
    return bool(purged)


_COUNT_BATCH = """
WITH new AS (
    INSERT INTO metering.counted (invoice_id, tenant, archived_at, period_start)
    SELECT * FROM unnest(%(ids)s::uuid[], %(tenants)s::text[], %(ats)s::timestamptz[],
                         %(starts)s::date[]) ORDER BY 1
    ON CONFLICT DO NOTHING RETURNING invoice_id, tenant, period_start
), gone AS (
    INSERT INTO metering.purged (invoice_id, tenant, purged_at)
    SELECT * FROM unnest(%(pids)s::uuid[], %(ptenants)s::text[], %(pats)s::timestamptz[])
    ORDER BY 1
    ON CONFLICT DO NOTHING RETURNING invoice_id, tenant
), periods AS (
    INSERT INTO metering.period_count (tenant, period_start, period_end, count)
    SELECT n.tenant, n.period_start, x.period_end, count(*)
    FROM new n JOIN unnest(%(ids)s::uuid[], %(ends)s::date[]) AS x(id, period_end)
         ON x.id = n.invoice_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (tenant, period_start)
    DO UPDATE SET count = metering.period_count.count + EXCLUDED.count
), totals AS (
    INSERT INTO metering.tenant_count (tenant, stored, cumulative)
    SELECT tenant, sum(stored), sum(cumulative) FROM (
        SELECT tenant, 1 AS stored, 1 AS cumulative FROM new
        UNION ALL SELECT tenant, -1, 0 FROM gone) AS d
    GROUP BY tenant ORDER BY tenant
    ON CONFLICT (tenant) DO UPDATE SET
        stored = metering.tenant_count.stored + EXCLUDED.stored,
        cumulative = metering.tenant_count.cumulative + EXCLUDED.cumulative
)
SELECT true, invoice_id FROM new UNION ALL SELECT false, invoice_id FROM gone
"""


async def count_batch(
    conn: psycopg.AsyncConnection[Any], archived: Sequence[ArchivedRow],
    purged: Sequence[PurgedRow],
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Count a batch of events in one statement; returns the ids newly counted and purged.

    Ids already in a ledger (a redelivery, a replay, a repeat inside the batch) are skipped.
    Purges lower ``stored`` (never ``cumulative``); an invoice archived and purged in the same
    batch nets to zero on ``stored``. One statement is atomic on its own, so the caller may run
    it in autocommit mode (one round trip) or inside its own transaction.
    """
    rows = _unique(archived)
    gone = _unique(purged)
    cur = await conn.execute(_COUNT_BATCH, {
        "ids": [r.invoice_id for r in rows], "tenants": [r.tenant for r in rows],
        "ats": [r.archived_at for r in rows], "starts": [r.period.start for r in rows],
        "ends": [r.period.end for r in rows],
        "pids": [p.invoice_id for p in gone], "ptenants": [p.tenant for p in gone],
        "pats": [p.purged_at for p in gone]})
    new_archived: set[uuid.UUID] = set()
    new_purged: set[uuid.UUID] = set()
    for is_archive, invoice_id in await cur.fetchall():
        (new_archived if is_archive else new_purged).add(invoice_id)
    return new_archived, new_purged


R = TypeVar("R", ArchivedRow, PurgedRow)


def _unique(rows: Sequence[R]) -> list[R]:
    """The first row of each invoice id, sorted by id (the lock order)."""
    return sorted({r.invoice_id: r for r in reversed(rows)}.values(), key=lambda r: r.invoice_id)


def period_count_sync(conn: psycopg.Connection[Any], tenant: str, start: date) -> int:
    """Invoices counted in the tenant's period starting on ``start`` (0 when none)."""
    row = conn.execute(
        "SELECT count FROM metering.period_count WHERE tenant = %s AND period_start = %s",
        (tenant, start)).fetchone()
    return int(row[0]) if row else 0


def totals_sync(conn: psycopg.Connection[Any], tenant: str) -> tuple[int, int]:
    """``(stored, cumulative)`` of a tenant now ((0, 0) when nothing was ever counted)."""
    row = conn.execute(
        "SELECT stored, cumulative FROM metering.tenant_count WHERE tenant = %s", (tenant,)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def totals_at_sync(conn: psycopg.Connection[Any], tenant: str, day: date) -> tuple[int, int]:
    """``(stored, cumulative)`` at the end of the Europe/Paris civil ``day``, from the ledgers."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM metering.counted WHERE tenant = %(t)s"
        "        AND (archived_at AT TIME ZONE 'Europe/Paris')::date <= %(d)s),"
        "       (SELECT count(*) FROM metering.purged WHERE tenant = %(t)s"
        "        AND (purged_at AT TIME ZONE 'Europe/Paris')::date <= %(d)s)",
        {"t": tenant, "d": day}).fetchone()
    cumulative, purged = (int(row[0]), int(row[1])) if row else (0, 0)
    return cumulative - purged, cumulative

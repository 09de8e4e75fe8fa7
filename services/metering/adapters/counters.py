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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg

from services.metering.domain.period import Period


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


async def count_batch(
    conn: psycopg.AsyncConnection[Any], archived: Sequence[ArchivedRow],
    purged: Sequence[PurgedRow],
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Count a batch of events in the caller's transaction; returns the ids newly counted.

    Ids already in a ledger (a redelivery, a replay, a repeat inside the batch) are skipped.
    Purges lower ``stored`` (never ``cumulative``); an invoice archived and purged in the same
    batch nets to zero on ``stored``.
    """
    new_archived = await _insert_archived(conn, archived) if archived else set()
    new_purged = await _insert_purged(conn, purged) if purged else set()
    periods: Counter[tuple[str, date, date]] = Counter()
    deltas: dict[str, list[int]] = {}
    for row in _unique(archived):
        if row.invoice_id in new_archived:
            periods[(row.tenant, row.period.start, row.period.end)] += 1
            delta = deltas.setdefault(row.tenant, [0, 0])
            delta[0] += 1
            delta[1] += 1
    for p in _unique(purged):
        if p.invoice_id in new_purged:
            deltas.setdefault(p.tenant, [0, 0])[0] -= 1
    if periods:
        keys = sorted(periods)
        await conn.execute(
            "INSERT INTO metering.period_count (tenant, period_start, period_end, count)"
            " SELECT * FROM unnest(%s::text[], %s::date[], %s::date[], %s::int[])"
            " ON CONFLICT (tenant, period_start)"
            " DO UPDATE SET count = metering.period_count.count + EXCLUDED.count",
            ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
             [periods[k] for k in keys]))
    if deltas:
        tenants = sorted(deltas)
        await conn.execute(
            "INSERT INTO metering.tenant_count (tenant, stored, cumulative)"
            " SELECT * FROM unnest(%s::text[], %s::int[], %s::int[])"
            " ON CONFLICT (tenant) DO UPDATE SET"
            " stored = metering.tenant_count.stored + EXCLUDED.stored,"
            " cumulative = metering.tenant_count.cumulative + EXCLUDED.cumulative",
            (tenants, [deltas[t][0] for t in tenants], [deltas[t][1] for t in tenants]))
    return new_archived, new_purged


R = TypeVar("R", ArchivedRow, PurgedRow)


def _unique(rows: Sequence[R]) -> list[R]:
    """The first row of each invoice id, sorted by id (the lock order)."""
    return sorted({r.invoice_id: r for r in reversed(rows)}.values(), key=lambda r: r.invoice_id)


async def _insert_archived(
    conn: psycopg.AsyncConnection[Any], rows: Sequence[ArchivedRow]
) -> set[uuid.UUID]:
    unique = _unique(rows)
    cur = await conn.execute(
        "INSERT INTO metering.counted (invoice_id, tenant, archived_at, period_start)"
        " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::date[])"
        " ORDER BY 1 ON CONFLICT DO NOTHING RETURNING invoice_id",
        ([r.invoice_id for r in unique], [r.tenant for r in unique],
         [r.archived_at for r in unique], [r.period.start for r in unique]))
    return {row[0] for row in await cur.fetchall()}


async def _insert_purged(
    conn: psycopg.AsyncConnection[Any], rows: Sequence[PurgedRow]
) -> set[uuid.UUID]:
    unique = _unique(rows)
    cur = await conn.execute(
        "INSERT INTO metering.purged (invoice_id, tenant, purged_at)"
        " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[])"
        " ORDER BY 1 ON CONFLICT DO NOTHING RETURNING invoice_id",
        ([r.invoice_id for r in unique], [r.tenant for r in unique],
         [r.purged_at for r in unique]))
    return {row[0] for row in await cur.fetchall()}


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

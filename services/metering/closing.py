"""Period close: one ``metering.period_closed`` event per tenant and ended billing period.

:meth:`PeriodCloser.run` (a periodic job of the metering service) finds, for every tenant, the
periods that ended before today (Europe/Paris, after a short grace so late events of the last
day are counted) and that were open while the tenant was registered, and closes each one not
closed yet.

Published once, even across restarts and concurrent metering processes: closing a period
inserts its ``metering.period_closed`` row (primary key tenant + period start) and its
``core.outbox`` row, publishes the event and waits for the broker's confirm, and only then
commits. A second closer blocks on the row and then finds it taken; a crash before the commit
rolls everything back and the next run publishes again with the same ``event_id`` (a UUIDv5 of
tenant and period), so a consumer deduplicates the rare repeat. The outbox row commits already
marked published: it is the event's history, never left for the outbox sweep.

Where it goes: exchange ``efacture.internal``, routing key ``metering.period_closed``, published
with ``mandatory=False`` — the topology binds no queue to it (billing subscribes when it
exists), and the sweep's mandatory publish of internal rows would fail on an unroutable key,
which is why the row is never left pending. It is not a contract status event, so it does not
go to ``efacture.status``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import psycopg

from services.metering.adapters import counters
from services.metering.domain.tariff import Tariff, load_tariff
from services.metering.domain.usage import Statement, statement
from shared import outbox
from shared.billing import Period, Plan, day_of, period_containing, previous_period
from shared.logging import get_logger
from shared.messages.base import Message, derived_id, utcnow
from shared.runtime import Runtime
from shared.topology import INTERNAL

log = get_logger(__name__)

RK_PERIOD_CLOSED = "metering.period_closed"
GRACE = timedelta(minutes=10)
"""A period is closed this long after its last day ends, so late events of that day count."""


class PeriodClosed(Message):
    """metering → billing: the statement of a billing period that has ended."""

    schema_version: Literal["efacture.period-closed.v1"] = "efacture.period-closed.v1"
    event_id: uuid.UUID
    tenant: str
    subscribed_on: date
    period_start: date
    period_end: date
    count: int
    previous_period_count: int
    plan: Plan
    tranches: int
    amount: Decimal
    currency: str
    closed_at: datetime

    @classmethod
    def of(cls, st: Statement, closed_at: datetime) -> PeriodClosed:
        return cls(event_id=derived_id("period_closed", st.tenant, st.period_start),
                   closed_at=closed_at, **st.model_dump())


def due_periods(subscribed_on: date, registered_on: date, today: date) -> list[Period]:
    """Periods that ended before ``today`` and had not ended when the tenant was registered."""
    if today <= subscribed_on:
        return []
    last = previous_period(subscribed_on, period_containing(subscribed_on, today))
    periods: list[Period] = []
    while last is not None and last.end >= registered_on:
        periods.append(last)
        last = previous_period(subscribed_on, last)
    return list(reversed(periods))


def statement_of(
    conn: psycopg.Connection[Any], tenant: str, subscribed_on: date, period: Period,
    tariff: Tariff, today: date,
) -> Statement:
    """The statement of a closed period from the counters (ValueError when it is not closed)."""
    before = previous_period(subscribed_on, period)
    return statement(
        tenant=tenant, subscribed_on=subscribed_on, period=period,
        count=counters.period_count_sync(conn, tenant, period.start),
        previous_period_count=counters.period_count_sync(conn, tenant, before.start) if before
        else 0, tariff=tariff, today=today)


async def _count(conn: psycopg.AsyncConnection[Any], tenant: str, start: date) -> int:
    cur = await conn.execute(
        "SELECT count FROM metering.period_count WHERE tenant = %s AND period_start = %s",
        (tenant, start))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


class PeriodCloser:
    """The periodic job; ``today`` and ``tariff`` can be fixed for tests."""

    def __init__(self, rt: Runtime, tariff: Tariff | None = None) -> None:
        self.rt = rt
        self._tariff = tariff

    async def run(self, today: date | None = None) -> int:
        """Close every due period; returns how many events this call published."""
        day = today if today is not None else day_of(utcnow() - GRACE)
        tariff = self._tariff or load_tariff(self.rt.settings.tariff_file)
        async with self.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT siret::text, subscribed_on, created_at,"
                " ARRAY(SELECT period_start FROM metering.period_closed c WHERE c.tenant = t.siret)"
                " FROM core.tenant t ORDER BY siret")
            tenants = await cur.fetchall()
        published = 0
        for siret, subscribed_on, created_at, closed in tenants:
            done = set(closed)
            for period in due_periods(subscribed_on, day_of(created_at), day):
                if period.start not in done:
                    published += await self.close(siret.strip(), subscribed_on, period, tariff, day)
        return published

    async def close(
        self, tenant: str, subscribed_on: date, period: Period, tariff: Tariff, today: date
    ) -> int:
        """Close one period: 1 when this call published its event, 0 when it was closed before."""
        async with self.rt.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO metering.period_closed (tenant, period_start) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING", (tenant, period.start))
            if cur.rowcount != 1:
                return 0
            before = previous_period(subscribed_on, period)
            st = statement(
                tenant=tenant, subscribed_on=subscribed_on, period=period,
                count=await _count(conn, tenant, period.start),
                previous_period_count=await _count(conn, tenant, before.start) if before else 0,
                tariff=tariff, today=today)
            event = PeriodClosed.of(st, utcnow())
            item = outbox.Outgoing.internal(INTERNAL, RK_PERIOD_CLOSED, event, event.event_id,
                                            tenant=tenant)
            ids = await outbox.add(conn, [item])
        # After the commit: an event must never announce a close that was rolled back. A
        # process dying here leaves the row pending for the outbox sweep.
        await self.rt.publish(exchange=INTERNAL, routing_key=RK_PERIOD_CLOSED,
                              body=item.body, message_id=str(event.event_id), mandatory=False)
        async with self.rt.pool.connection() as conn:
            await conn.execute("UPDATE core.outbox SET published_at = now() WHERE id = ANY(%s)",
                               (list(ids),))
        log.info("period-closed", tenant=tenant, period_start=str(period.start), count=st.count)
        return 1

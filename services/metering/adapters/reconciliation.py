"""Reconciliation: the metering counters against the archive catalogue, per tenant and period.

The archive catalogue (``archive.invoice``: tenant, archived_at, state) is the truth of what was
archived. For each tenant, every invoice it holds (purged ones included) counts in the period of
its Europe/Paris archive day, by the rule the counters use
(:func:`services.metering.service.period_for`); ``stored`` is the invoices still in state
``archived``, ``cumulative`` all of them. Any count that differs is a :class:`Difference`.

Invoices whose metering event is still in flight show up as differences too: run it on a quiet
system, or run it again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import psycopg

from services.metering.service import period_for


@dataclass(frozen=True)
class Difference:
    """One count on which the archive and the counters disagree."""

    tenant: str
    counter: str  # "period", "stored" or "cumulative"
    period_start: date | None
    period_end: date | None
    archive: int
    metering: int

    def describe(self) -> str:
        what = (f"period {self.period_start}..{self.period_end}" if self.counter == "period"
                else self.counter)
        return (f"tenant {self.tenant} {what}: archive has {self.archive}, "
                f"metering counted {self.metering}")

    def public(self) -> dict[str, Any]:
        return asdict(self)


def _archive_side(
    conn: psycopg.Connection[Any], subscriptions: dict[str, date]
) -> tuple[Counter[tuple[str, date, date]], dict[str, tuple[int, int]]]:
    rows = conn.execute(
        "SELECT tenant, (archived_at AT TIME ZONE 'Europe/Paris')::date, count(*),"
        " count(*) FILTER (WHERE state = 'archived')"
        " FROM archive.invoice GROUP BY 1, 2").fetchall()
    periods: Counter[tuple[str, date, date]] = Counter()
    totals: dict[str, tuple[int, int]] = {}
    for tenant, day, total, stored in rows:
        tenant = tenant.strip()
        period = period_for(subscriptions.get(tenant), day)
        periods[(tenant, period.start, period.end)] += int(total)
        old_stored, old_total = totals.get(tenant, (0, 0))
        totals[tenant] = (old_stored + int(stored), old_total + int(total))
    return periods, totals


def reconcile(conn: psycopg.Connection[Any]) -> list[Difference]:
    """Every difference between the counters and the archive, ordered by tenant and period."""
    subscriptions = {r[0].strip(): r[1] for r in conn.execute(
        "SELECT siret::text, subscribed_on FROM core.tenant").fetchall()}
    archive_periods, archive_totals = _archive_side(conn, subscriptions)
    metering_periods: Counter[tuple[str, date, date]] = Counter({
        (r[0], r[1], r[2]): int(r[3]) for r in conn.execute(
            "SELECT tenant, period_start, period_end, count FROM metering.period_count"
            " WHERE count <> 0").fetchall()})
    metering_totals = {r[0]: (int(r[1]), int(r[2])) for r in conn.execute(
        "SELECT tenant, stored, cumulative FROM metering.tenant_count").fetchall()}
    differences: list[Difference] = []
    for key in sorted(set(archive_periods) | set(metering_periods)):
        if archive_periods[key] != metering_periods[key]:
            differences.append(Difference(key[0], "period", key[1], key[2],
                                          archive_periods[key], metering_periods[key]))
    for tenant in sorted(set(archive_totals) | set(metering_totals)):
        arch = archive_totals.get(tenant, (0, 0))
        metr = metering_totals.get(tenant, (0, 0))
        for i, name in enumerate(("stored", "cumulative")):
            if arch[i] != metr[i]:
                differences.append(Difference(tenant, name, None, None, arch[i], metr[i]))
    differences.sort(key=lambda d: (d.tenant, d.counter != "period", d.period_start or date.min))
    return differences

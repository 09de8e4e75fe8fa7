"""Contract section 6 as the portal shows it, from metering's counters (pure).

The period rule is the contract's (the monthly anniversary of the subscription, clamped to the
month's last day; civil days in Europe/Paris). Metering owns the counting; the portal only
reads its counters, so it shows the same numbers as ``efacture usage`` (services never import
each other, hence this small restatement of the rule; ``tests/unit/portal`` checks it
against the contract's example).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
FREE_LIMIT = 10
BLOCK = 900


def day_of(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


def _start(subscribed_on: date, index: int) -> date:
    months = subscribed_on.year * 12 + subscribed_on.month - 1 + index
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(subscribed_on.day, last))


def period_index(subscribed_on: date, day: date) -> int:
    """Index of the period holding ``day`` (0 starts on the subscription day); ValueError
    before the subscription."""
    if day < subscribed_on:
        raise ValueError(f"{day} is before the subscription on {subscribed_on}")
    index = (day.year - subscribed_on.year) * 12 + day.month - subscribed_on.month
    return index - 1 if _start(subscribed_on, index) > day else index


def period(subscribed_on: date, index: int) -> tuple[date, date]:
    return _start(subscribed_on, index), _start(subscribed_on, index + 1) - timedelta(days=1)


def tranches(count: int) -> int:
    return 0 if count <= FREE_LIMIT else -(-count // BLOCK)


def plan(previous_count: int) -> str:
    return "free" if previous_count <= FREE_LIMIT else "paid"

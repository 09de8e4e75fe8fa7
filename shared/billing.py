"""Billing periods and plan rule of a subscription (contract section 6), pure.

Shared by metering (which counts and closes periods) and the portal (which shows the same
figures): one statement of the contract's rule, so the two can never disagree.

A tenant's periods run from one monthly anniversary of its subscription date to the day before
the next. The anniversary in a given month is the subscription's day of the month, or the month's
last day when the month is shorter: subscribed on 2026-01-31, the periods are Jan 31–Feb 27,
Feb 28–Mar 30, Mar 31–Apr 29, …

Periods are sets of civil days in Europe/Paris (the seller's legal calendar, whatever the
server's zone); an instant is first mapped to its Paris date by :func:`day_of`.

Period ``k`` (k ≥ 0) starts on the anniversary ``k`` months after the subscription month, so the
first period starts on the subscription date itself and the periods tile every day from then on,
with no gap and no overlap. Days before the subscription date belong to no period: the functions
here raise :class:`ValueError` for them rather than guess (the caller decides what an invoice
archived before its tenant's subscription means).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

PARIS = ZoneInfo("Europe/Paris")
_ONE_DAY = timedelta(days=1)

FREE_LIMIT = 10
"""A period counting at most this many invoices is free (no tranche, no price)."""

BLOCK_SIZE = 900
"""Invoices per tranche; above this count, each started block is billed at the block price."""

Plan = Literal["free", "paid"]


class Period(BaseModel):
    """One billing period: the civil days ``start`` to ``end``, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        """Number of civil days in the period (28 to 31)."""
        return (self.end - self.start).days + 1


def anniversary(subscribed_on: date, year: int, month: int) -> date:
    """The subscription's anniversary in ``year``-``month``.

    It is the subscription's day of the month, clamped to the month's last day (a subscription
    on the 31st has its anniversary on Feb 28, or Feb 29 in a leap year). Raises ValueError for
    a month outside 1–12 or a year outside :class:`date`'s range.
    """
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(subscribed_on.day, last_day))


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _start_of(subscribed_on: date, index: int) -> date:
    year, month = _shift_month(subscribed_on.year, subscribed_on.month, index)
    return anniversary(subscribed_on, year, month)


def period_at(subscribed_on: date, index: int) -> Period:
    """The ``index``-th period of the subscription (0 is the one starting on ``subscribed_on``).

    Raises ValueError for a negative index.
    """
    if index < 0:
        raise ValueError(f"period index must be >= 0, got {index}")
    start = _start_of(subscribed_on, index)
    end = _start_of(subscribed_on, index + 1) - _ONE_DAY
    return Period(start=start, end=end)


def period_index(subscribed_on: date, day: date) -> int:
    """Index of the period holding ``day`` (see :func:`period_at`).

    Raises ValueError when ``day`` is before ``subscribed_on``.
    """
    if day < subscribed_on:
        raise ValueError(f"{day} is before the subscription date {subscribed_on}")
    index = (day.year - subscribed_on.year) * 12 + (day.month - subscribed_on.month)
    # The anniversary of day's own month may still be ahead of it: then day is in the
    # period that started the month before.
    if _start_of(subscribed_on, index) > day:
        index -= 1
    return index


def period_containing(subscribed_on: date, day: date) -> Period:
    """The billing period that holds the civil day ``day``.

    Raises ValueError when ``day`` is before ``subscribed_on`` (it belongs to no period).
    """
    return period_at(subscribed_on, period_index(subscribed_on, day))


def previous_period(subscribed_on: date, period: Period) -> Period | None:
    """The period just before ``period``, or None for the first period.

    Raises ValueError when ``period`` is not one of this subscription's periods.
    """
    index = period_index(subscribed_on, period.start)
    if period_at(subscribed_on, index) != period:
        raise ValueError(f"{period} is not a billing period of a subscription on {subscribed_on}")
    if index == 0:
        return None
    return period_at(subscribed_on, index - 1)


def next_period(subscribed_on: date, period: Period) -> Period:
    """The period just after ``period``.

    Raises ValueError when ``period`` is not one of this subscription's periods.
    """
    index = period_index(subscribed_on, period.start)
    if period_at(subscribed_on, index) != period:
        raise ValueError(f"{period} is not a billing period of a subscription on {subscribed_on}")
    return period_at(subscribed_on, index + 1)


def day_of(instant: datetime) -> date:
    """The Europe/Paris civil date of an aware instant.

    Raises ValueError for a naive datetime: its moment is unknown, so its day is too.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()} has no defined Paris date")
    return instant.astimezone(PARIS).date()


def period_of_instant(subscribed_on: date, instant: datetime) -> Period:
    """The billing period holding an aware instant (e.g. an invoice's archive time).

    Raises ValueError for a naive instant or one whose Paris date precedes ``subscribed_on``.
    """
    return period_containing(subscribed_on, day_of(instant))


def tranches(count: int) -> int:
    """Tranches of a period counting ``count`` invoices: 0 up to 10, else ``ceil(count / 900)``.

    Raises ValueError for a negative count.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if count <= FREE_LIMIT:
        return 0
    return -(-count // BLOCK_SIZE)


def plan(previous_count: int) -> Plan:
    """The plan in force during a period, from the previous period's count (0 when none).

    ``free`` while the previous period counted at most 10 invoices, ``paid`` otherwise.
    Raises ValueError for a negative count.
    """
    if previous_count < 0:
        raise ValueError(f"count must be >= 0, got {previous_count}")
    return "free" if previous_count <= FREE_LIMIT else "paid"

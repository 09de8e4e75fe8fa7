"""What ``efacture usage`` reports, and the statement of a closed period (contract section 6).

Both are computed from counts the caller has already read (pure: no database here). The caller
finds the period with :func:`~shared.billing.period_containing` and its
predecessor with :func:`~shared.billing.previous_period`, counts the invoices
archived in each, and passes the counts in.

Billing is in arrears, like the seed's "relevé du mois précédent": the plan in force during a
period is decided by the period before it, and a period's price (``amount``) follows its own
count. ``amount`` is a :class:`~decimal.Decimal` of euros; in JSON (``model_dump(mode="json")``)
it is a string such as ``"39.00"``, so no float ever carries money.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.metering.domain.tariff import Tariff, amount
from shared.billing import Period, Plan, period_containing, plan, previous_period, tranches


class Usage(BaseModel):
    """``efacture usage SIRET --json``: the contract's keys, plus the period's amount so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    subscribed_on: date
    period_start: date
    period_end: date
    period_count: int = Field(ge=0)
    previous_period_count: int = Field(ge=0)
    stored: int = Field(ge=0)
    cumulative: int = Field(ge=0)
    plan: Plan
    tranches: int = Field(ge=0)
    amount: Decimal
    currency: str


class Statement(BaseModel):
    """The bill of one closed period: its count, the plan it ran under, tranches and price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: str
    subscribed_on: date
    period_start: date
    period_end: date
    count: int = Field(ge=0)
    previous_period_count: int = Field(ge=0)
    plan: Plan
    tranches: int = Field(ge=0)
    amount: Decimal
    currency: str

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period ends before it starts")
        return self


def usage(
    *,
    tenant: str,
    subscribed_on: date,
    day: date,
    period_count: int,
    previous_period_count: int,
    stored: int,
    cumulative: int,
    tariff: Tariff,
) -> Usage:
    """The usage report of the period holding ``day`` (a Europe/Paris civil date).

    ``period_count`` and ``previous_period_count`` are the invoices archived in that period and
    in the one before it (0 when there is none); ``stored`` is what the archive holds now and
    ``cumulative`` all ever archived, purged ones included. Raises ValueError when ``day`` is
    before ``subscribed_on``, a count is negative, or the first period is given a non-zero
    previous count.
    """
    period = period_containing(subscribed_on, day)
    if previous_period(subscribed_on, period) is None and previous_period_count != 0:
        raise ValueError("the first period has no previous period to count invoices in")
    return Usage(
        tenant=tenant,
        subscribed_on=subscribed_on,
        period_start=period.start,
        period_end=period.end,
        period_count=period_count,
        previous_period_count=previous_period_count,
        stored=stored,
        cumulative=cumulative,
        plan=plan(previous_period_count),
        tranches=tranches(period_count),
        amount=amount(period_count, tariff),
        currency=tariff.currency,
    )


def statement(
    *,
    tenant: str,
    subscribed_on: date,
    period: Period,
    count: int,
    previous_period_count: int,
    tariff: Tariff,
    today: date,
) -> Statement:
    """The statement of ``period``, which must be closed: it ended before ``today``.

    ``count`` is the invoices archived in the period, ``previous_period_count`` those of the
    period before it (0 for the first). Raises ValueError when the period is not one of this
    subscription's periods, has not ended before ``today``, a count is negative, or the first
    period is given a non-zero previous count.
    """
    before = previous_period(subscribed_on, period)
    if period.end >= today:
        raise ValueError(f"period {period.start}–{period.end} is not closed on {today}")
    if before is None and previous_period_count != 0:
        raise ValueError("the first period has no previous period to count invoices in")
    return Statement(
        tenant=tenant,
        subscribed_on=subscribed_on,
        period_start=period.start,
        period_end=period.end,
        count=count,
        previous_period_count=previous_period_count,
        plan=plan(previous_period_count),
        tranches=tranches(count),
        amount=amount(count, tariff),
        currency=tariff.currency,
    )

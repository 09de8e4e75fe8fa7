"""The usage report and closed-period statements, from counts (contract §6)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from services.metering.domain.tariff import Tariff, amount, load_tariff
from services.metering.domain.usage import statement, usage
from shared.billing import Period, period_containing

pytestmark = pytest.mark.unit

TENANT = "73282932000074"
SUBSCRIBED = date(2026, 1, 31)
CONTRACT_KEYS = {
    "tenant",
    "subscribed_on",
    "period_start",
    "period_end",
    "period_count",
    "previous_period_count",
    "stored",
    "cumulative",
    "plan",
    "tranches",
}


@pytest.fixture(scope="module")
def tariff() -> Tariff:
    return load_tariff()


def test_usage_json_has_every_contract_key_with_iso_dates(tariff: Tariff) -> None:
    report = usage(
        tenant=TENANT,
        subscribed_on=SUBSCRIBED,
        day=date(2026, 3, 15),
        period_count=12,
        previous_period_count=3,
        stored=14,
        cumulative=15,
        tariff=tariff,
    )
    document = json.loads(report.model_dump_json())
    assert document.keys() >= CONTRACT_KEYS
    assert document["subscribed_on"] == "2026-01-31"
    assert document["period_start"] == "2026-02-28"
    assert document["period_end"] == "2026-03-30"
    assert document["period_count"] == 12
    assert document["previous_period_count"] == 3
    assert (document["stored"], document["cumulative"]) == (14, 15)
    assert document["plan"] == "free"
    assert document["tranches"] == 1
    # Money travels as a decimal string, never a float.
    assert document["amount"] == str(amount(12, tariff))
    assert Decimal(document["amount"]) > 0


def test_usage_plan_turns_paid_when_previous_period_counted_11(tariff: Tariff) -> None:
    report = usage(
        tenant=TENANT,
        subscribed_on=SUBSCRIBED,
        day=date(2026, 3, 31),
        period_count=0,
        previous_period_count=11,
        stored=11,
        cumulative=11,
        tariff=tariff,
    )
    assert report.plan == "paid"
    assert report.tranches == 0
    assert report.amount == Decimal("0.00")
    assert (report.period_start, report.period_end) == (date(2026, 3, 31), date(2026, 4, 29))


def test_usage_in_first_period_refuses_a_previous_count(tariff: Tariff) -> None:
    with pytest.raises(ValueError, match="first period"):
        usage(
            tenant=TENANT,
            subscribed_on=SUBSCRIBED,
            day=date(2026, 2, 1),
            period_count=1,
            previous_period_count=5,
            stored=1,
            cumulative=1,
            tariff=tariff,
        )


def test_usage_before_subscription_is_refused(tariff: Tariff) -> None:
    with pytest.raises(ValueError, match="before the subscription"):
        usage(
            tenant=TENANT,
            subscribed_on=SUBSCRIBED,
            day=date(2026, 1, 30),
            period_count=0,
            previous_period_count=0,
            stored=0,
            cumulative=0,
            tariff=tariff,
        )


def test_usage_refuses_negative_counters(tariff: Tariff) -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        usage(
            tenant=TENANT,
            subscribed_on=SUBSCRIBED,
            day=date(2026, 2, 1),
            period_count=0,
            previous_period_count=0,
            stored=-1,
            cumulative=0,
            tariff=tariff,
        )


def test_statement_of_closed_period_bills_its_own_count(tariff: Tariff) -> None:
    period = period_containing(SUBSCRIBED, date(2026, 3, 1))
    bill = statement(
        tenant=TENANT,
        subscribed_on=SUBSCRIBED,
        period=period,
        count=1801,
        previous_period_count=4,
        tariff=tariff,
        today=date(2026, 3, 31),
    )
    assert (bill.period_start, bill.period_end) == (date(2026, 2, 28), date(2026, 3, 30))
    assert bill.count == 1801
    assert bill.plan == "free"
    assert bill.tranches == 3
    assert bill.amount == tariff.block_price * 3


def test_statement_of_a_period_still_running_is_refused(tariff: Tariff) -> None:
    period = period_containing(SUBSCRIBED, date(2026, 3, 1))
    with pytest.raises(ValueError, match="not closed"):
        statement(
            tenant=TENANT,
            subscribed_on=SUBSCRIBED,
            period=period,
            count=3,
            previous_period_count=0,
            tariff=tariff,
            today=date(2026, 3, 30),
        )


def test_statement_of_a_period_not_on_the_subscription_calendar_is_refused(
    tariff: Tariff,
) -> None:
    stranger = Period(start=date(2026, 2, 1), end=date(2026, 2, 28))
    with pytest.raises(ValueError, match="not a billing period"):
        statement(
            tenant=TENANT,
            subscribed_on=SUBSCRIBED,
            period=stranger,
            count=3,
            previous_period_count=0,
            tariff=tariff,
            today=date(2026, 6, 1),
        )

"""Billing periods: monthly anniversaries, end-of-month clamping, leap years (contract §6)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.billing import (
    Period,
    anniversary,
    day_of,
    next_period,
    period_at,
    period_containing,
    period_of_instant,
    previous_period,
)

pytestmark = pytest.mark.unit

ONE_DAY = timedelta(days=1)
# Kept clear of date.min/date.max so "the next period" always exists.
subscriptions = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
offsets = st.integers(min_value=0, max_value=40 * 366)
aware_instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
)


def _p(start: str, end: str) -> Period:
    return Period(start=date.fromisoformat(start), end=date.fromisoformat(end))


def test_subscription_on_the_31st_clamps_to_month_ends_as_the_contract_shows() -> None:
    subscribed = date(2026, 1, 31)
    periods = [period_at(subscribed, k) for k in range(5)]
    assert periods == [
        _p("2026-01-31", "2026-02-27"),
        _p("2026-02-28", "2026-03-30"),
        _p("2026-03-31", "2026-04-29"),
        _p("2026-04-30", "2026-05-30"),
        _p("2026-05-31", "2026-06-29"),
    ]
    assert period_containing(subscribed, date(2026, 2, 27)) == periods[0]
    assert period_containing(subscribed, date(2026, 2, 28)) == periods[1]
    assert period_containing(subscribed, date(2026, 3, 30)) == periods[1]
    assert period_containing(subscribed, date(2026, 3, 31)) == periods[2]


def test_leap_february_holds_the_29th_anniversary() -> None:
    subscribed = date(2023, 1, 31)
    assert period_containing(subscribed, date(2024, 2, 15)) == _p("2024-01-31", "2024-02-28")
    assert period_containing(subscribed, date(2024, 2, 29)) == _p("2024-02-29", "2024-03-30")


def test_subscription_on_february_29_returns_to_the_29th_every_month_after() -> None:
    subscribed = date(2024, 2, 29)
    assert period_at(subscribed, 0) == _p("2024-02-29", "2024-03-28")
    assert period_at(subscribed, 1) == _p("2024-03-29", "2024-04-28")
    assert period_containing(subscribed, date(2025, 2, 28)) == _p("2025-02-28", "2025-03-28")
    assert period_containing(subscribed, date(2025, 2, 27)) == _p("2025-01-29", "2025-02-27")
    assert period_containing(subscribed, date(2028, 2, 29)) == _p("2028-02-29", "2028-03-28")


def test_period_across_new_year_runs_to_the_day_before_the_january_anniversary() -> None:
    assert period_containing(date(2025, 12, 15), date(2026, 1, 2)) == _p("2025-12-15", "2026-01-14")


def test_day_before_subscription_belongs_to_no_period() -> None:
    with pytest.raises(ValueError, match="before the subscription"):
        period_containing(date(2026, 3, 10), date(2026, 3, 9))


def test_first_period_has_no_previous_period() -> None:
    subscribed = date(2026, 3, 10)
    assert previous_period(subscribed, period_containing(subscribed, date(2026, 3, 20))) is None


def test_foreign_period_is_refused_by_previous_and_next() -> None:
    subscribed = date(2026, 1, 31)
    stranger = _p("2026-02-01", "2026-02-28")
    with pytest.raises(ValueError, match="not a billing period"):
        previous_period(subscribed, stranger)
    with pytest.raises(ValueError, match="not a billing period"):
        next_period(subscribed, stranger)


def test_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        _p("2026-02-02", "2026-02-01")


def test_anniversary_is_the_day_of_month_clamped_to_the_month_end() -> None:
    assert anniversary(date(2026, 1, 31), 2026, 4) == date(2026, 4, 30)
    assert anniversary(date(2026, 1, 30), 2026, 2) == date(2026, 2, 28)
    assert anniversary(date(2026, 1, 30), 2028, 2) == date(2028, 2, 29)
    assert anniversary(date(2026, 1, 15), 2026, 2) == date(2026, 2, 15)


@given(subscriptions, offsets)
def test_every_day_from_subscription_falls_in_the_period_found_for_it(
    subscribed: date, offset: int
) -> None:
    day = subscribed + timedelta(days=offset)
    period = period_containing(subscribed, day)
    assert day in period
    assert 28 <= period.days <= 31
    # Starting on an anniversary is what makes the period the subscription's own.
    last = calendar.monthrange(period.start.year, period.start.month)[1]
    assert period.start.day == min(subscribed.day, last)
    assert period_containing(subscribed, period.start) == period
    assert period_containing(subscribed, period.end) == period


@given(subscriptions, offsets)
def test_periods_follow_each_other_with_no_gap_and_no_overlap(
    subscribed: date, offset: int
) -> None:
    period = period_containing(subscribed, subscribed + timedelta(days=offset))
    after = period_containing(subscribed, period.end + ONE_DAY)
    assert after.start == period.end + ONE_DAY
    assert next_period(subscribed, period) == after
    assert previous_period(subscribed, after) == period
    before = previous_period(subscribed, period)
    if period.start == subscribed:
        assert before is None
    else:
        assert before is not None
        assert before.end + ONE_DAY == period.start
        assert period_containing(subscribed, period.start - ONE_DAY) == before


@given(subscriptions, st.integers(min_value=0, max_value=6000), st.integers(1, 120))
def test_each_day_of_a_stretch_lies_in_exactly_one_enumerated_period(
    subscribed: date, skip: int, length: int
) -> None:
    first = subscribed + timedelta(days=skip)
    last = first + timedelta(days=length)
    periods = []
    period = period_containing(subscribed, first)
    while period.start <= last:
        periods.append(period)
        period = next_period(subscribed, period)
    day = first
    while day <= last:
        holders = [p for p in periods if day in p]
        assert len(holders) == 1
        assert holders[0] == period_containing(subscribed, day)
        day += ONE_DAY


@given(subscriptions, st.integers(min_value=0, max_value=600))
def test_the_kth_period_starts_on_the_kth_monthly_anniversary(subscribed: date, index: int) -> None:
    period = period_at(subscribed, index)
    months = subscribed.year * 12 + subscribed.month - 1 + index
    assert period.start == anniversary(subscribed, months // 12, months % 12 + 1)
    assert period_at(subscribed, index + 1).start == period.end + ONE_DAY


@given(aware_instants)
def test_an_instant_maps_to_the_same_paris_day_whatever_zone_it_is_written_in(
    instant: datetime,
) -> None:
    assert day_of(instant) == day_of(instant.astimezone(UTC))
    assert day_of(instant) == day_of(instant.astimezone(timezone(timedelta(hours=-11))))


@given(subscriptions, aware_instants)
def test_every_instant_after_subscription_falls_in_exactly_one_period(
    subscribed: date, instant: datetime
) -> None:
    day = day_of(instant)
    if day < subscribed:
        with pytest.raises(ValueError, match="before the subscription"):
            period_of_instant(subscribed, instant)
        return
    period = period_of_instant(subscribed, instant)
    assert day in period
    assert day not in next_period(subscribed, period)
    before = previous_period(subscribed, period)
    assert before is None or day not in before


@pytest.mark.parametrize(
    ("utc", "paris_day"),
    [
        # Winter (CET, UTC+1): Paris midnight is 23:00 UTC the day before.
        ("2026-01-30T22:59:59+00:00", "2026-01-30"),
        ("2026-01-30T23:00:00+00:00", "2026-01-31"),
        # Summer (CEST, UTC+2): Paris midnight is 22:00 UTC the day before.
        ("2026-06-30T21:59:59+00:00", "2026-06-30"),
        ("2026-06-30T22:00:00+00:00", "2026-07-01"),
        # The night clocks go forward (2026-03-29) and back (2026-10-25).
        ("2026-03-28T23:00:00+00:00", "2026-03-29"),
        ("2026-10-25T22:59:59+00:00", "2026-10-25"),
        ("2026-10-25T23:00:00+00:00", "2026-10-26"),
    ],
)
def test_instant_counts_on_its_paris_civil_day(utc: str, paris_day: str) -> None:
    assert day_of(datetime.fromisoformat(utc)) == date.fromisoformat(paris_day)


def test_late_utc_evening_on_the_eve_of_an_anniversary_counts_in_the_new_period() -> None:
    subscribed = date(2026, 1, 31)
    instant = datetime(2026, 2, 27, 23, 30, tzinfo=UTC)  # 00:30 on Feb 28 in Paris
    assert period_of_instant(subscribed, instant) == _p("2026-02-28", "2026-03-30")


def test_naive_instant_has_no_paris_day() -> None:
    with pytest.raises(ValueError, match="naive"):
        day_of(datetime(2026, 1, 31, 12, 0))  # a naive input is the point

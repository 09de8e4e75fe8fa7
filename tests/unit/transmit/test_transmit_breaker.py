"""Circuit breaker state machine, driven by a fake clock."""

from __future__ import annotations

import pytest

from services.transmit.domain.breaker import BreakerState, CircuitBreaker

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(window_s=60, min_calls=10, cooldown_s=30, clock=clock)


def record(b: CircuitBreaker, failures: int, successes: int) -> None:
    for _ in range(failures):
        assert b.allow()
        b.record_failure()
    for _ in range(successes):
        assert b.allow()
        b.record_success()


def test_breaker_stays_closed_below_the_minimum_number_of_calls() -> None:
    b = breaker(FakeClock())
    record(b, failures=9, successes=0)
    assert b.state is BreakerState.CLOSED


def test_breaker_opens_when_more_than_half_of_the_calls_fail() -> None:
    b = breaker(FakeClock())
    record(b, failures=5, successes=5)
    assert b.state is BreakerState.CLOSED  # exactly half is not more than half
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()


def test_old_failures_leave_the_sliding_window() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, failures=9, successes=0)
    clock.now += 61
    record(b, failures=1, successes=9)
    assert b.state is BreakerState.CLOSED


def test_after_the_cooldown_exactly_one_probe_goes_through() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, failures=10, successes=0)
    clock.now += 29
    assert not b.allow()
    assert b.retry_in() == pytest.approx(1.0)
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()
    assert not b.allow()


def test_successful_probe_closes_the_breaker() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, failures=10, successes=0)
    clock.now += 30
    assert b.allow()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow()


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, failures=10, successes=0)
    clock.now += 30
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    clock.now += 29
    assert not b.allow()
    clock.now += 1
    assert b.allow()

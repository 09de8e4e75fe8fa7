"""A platform's Retry-After is bounded: it can delay a transmission, never park it forever
or crash its every delivery (a transmission waits out Retry-After without spending an
attempt, and the wait travels as an integer AMQP header)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from services.transmit.domain.failure import MAX_RETRY_AFTER_S, parse_retry_after

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("header", ["1e12", "99999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_retry_after_is_capped(header: str) -> None:
    assert parse_retry_after(header, now=NOW) == MAX_RETRY_AFTER_S


@pytest.mark.parametrize("header", ["inf", "Infinity", "nan", "-inf"])
def test_a_non_finite_retry_after_is_ignored(header: str) -> None:
    value = parse_retry_after(header, now=NOW)
    assert value is None or (math.isfinite(value) and 0 <= value <= MAX_RETRY_AFTER_S)


def test_the_cap_fits_the_not_before_header() -> None:
    # transmit's _park writes ceil((now + retry_after) * 1000) into a 64-bit AMQP header
    value = parse_retry_after("1e300", now=NOW)
    assert value is not None
    assert math.ceil((NOW.timestamp() + value) * 1000) < 2**63

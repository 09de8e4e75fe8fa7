"""Plan, tranches and prices from the tariff file (contract §6)."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.metering.domain.tariff import Tariff, amount, load_tariff, parse_tariff
from shared.billing import plan, tranches

pytestmark = pytest.mark.unit

TIERS = """
currency = "EUR"
block_price = "{block}"

[[tiers]]
first = 11
last = {first_last}
price = "{first_price}"

[[tiers]]
first = {second_first}
last = 900
price = "{second_price}"
"""


def _tariff_text(
    *,
    block: str = "100.00",
    first_last: int = 500,
    first_price: str = "10.00",
    second_first: int = 501,
    second_price: str = "50.00",
) -> str:
    return TIERS.format(
        block=block,
        first_last=first_last,
        first_price=first_price,
        second_first=second_first,
        second_price=second_price,
    )


@pytest.fixture(scope="module")
def shipped() -> Tariff:
    return load_tariff()


@pytest.fixture(scope="module")
def custom() -> Tariff:
    return parse_tariff(_tariff_text())


def test_shipped_tariff_covers_11_to_900_in_euros(shipped: Tariff) -> None:
    assert shipped.currency == "EUR"
    assert shipped.tiers[0].first == 11
    assert shipped.tiers[-1].last == 900
    assert shipped.block_price > 0


def test_tariff_is_read_from_the_given_file(tmp_path: Path) -> None:
    path = tmp_path / "tariff.toml"
    path.write_text(_tariff_text(block="123.45"), encoding="utf-8")
    assert load_tariff(path).block_price == Decimal("123.45")


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, 0), (1, 0), (10, 0), (11, 1), (899, 1), (900, 1), (901, 2), (1800, 2), (1801, 3)],
)
def test_tranches_are_zero_up_to_10_then_one_per_started_block_of_900(
    count: int, expected: int
) -> None:
    assert tranches(count) == expected


@given(st.integers(min_value=11, max_value=10**7))
def test_tranches_are_the_fewest_blocks_of_900_that_hold_the_count(count: int) -> None:
    blocks = tranches(count)
    assert blocks == math.ceil(count / 900)
    assert (blocks - 1) * 900 < count <= blocks * 900


@pytest.mark.parametrize(("previous", "expected"), [(0, "free"), (10, "free"), (11, "paid")])
def test_plan_is_free_while_previous_period_counted_at_most_10(
    previous: int, expected: str
) -> None:
    assert plan(previous) == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "0.00"),
        (10, "0.00"),
        (11, "10.00"),
        (500, "10.00"),
        (501, "50.00"),
        (900, "50.00"),
        (901, "200.00"),
        (1800, "200.00"),
        (1801, "300.00"),
    ],
)
def test_amount_is_the_tier_price_below_900_then_block_price_per_started_block(
    custom: Tariff, count: int, expected: str
) -> None:
    assert amount(count, custom) == Decimal(expected)


@given(st.integers(min_value=0, max_value=5000))
def test_shipped_amount_never_drops_when_the_count_grows(count: int) -> None:
    tariff = load_tariff()
    assert amount(count, tariff) <= amount(count + 1, tariff)
    assert amount(count, tariff) == amount(count, tariff).quantize(Decimal("0.01"))


def test_shipped_amount_above_900_is_block_price_times_tranches(shipped: Tariff) -> None:
    assert amount(2701, shipped) == shipped.block_price * 4


def test_negative_counts_are_refused(shipped: Tariff) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        tranches(-1)
    with pytest.raises(ValueError, match=">= 0"):
        plan(-1)
    with pytest.raises(ValueError, match=">= 0"):
        amount(-1, shipped)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_tariff_text(second_first=502), "without gap"),
        (_tariff_text(second_first=500), "without gap"),
        (_tariff_text(first_price="60.00"), "cheaper"),
        (_tariff_text(block="40.00"), "block_price is cheaper"),
        (_tariff_text(first_price="10.005"), "two decimals"),
        (_tariff_text(first_price="-1.00"), ">= 0"),
        (_tariff_text().replace('block_price = "100.00"', "block_price = 100.5"), "strings"),
        (_tariff_text().replace('currency = "EUR"', 'currency = "USD"'), "currency"),
        (_tariff_text() + "\nsurprise = 1\n", "surprise"),
        ("block_price = ", "not valid TOML"),
    ],
)
def test_invalid_tariff_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_tariff(text)


def test_tiers_that_stop_short_of_900_are_refused() -> None:
    text = _tariff_text().replace("last = 900", "last = 899")
    with pytest.raises(ValueError, match="must end at 900"):
        parse_tariff(text)


def test_invalid_tariff_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(_tariff_text(second_first=600), encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.toml"):
        load_tariff(path)

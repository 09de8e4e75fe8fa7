"""Plan, tranches and price of a billing period (contract section 6).

The thresholds are the contract's: a period that counts at most :data:`FREE_LIMIT` invoices is
free and has no tranche; above it, ``tranches = ceil(count / BLOCK_SIZE)``. The plan of a period
is ``free`` while the *previous* period counted at most :data:`FREE_LIMIT` invoices.

Prices are not in code: they come from a tariff file (TOML, ``services/metering/tariff.toml`` by
default, ``EFACTURE_TARIFF_FILE`` to override) with tiers below :data:`BLOCK_SIZE` and one block
price above. :func:`parse_tariff` is pure; :func:`load_tariff` is the one function here that
reads a file, and only when called.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.billing import BLOCK_SIZE, FREE_LIMIT, tranches

CENT = Decimal("0.01")
DEFAULT_TARIFF_PATH = Path(__file__).resolve().parent.parent / "tariff.toml"


def _exact_money(value: object) -> object:
    # A TOML float is binary: 0.1 + 0.2 style drift has no place in an invoice.
    if isinstance(value, float):
        raise ValueError('write prices as strings (e.g. "9.00"), not floats')
    if isinstance(value, bool):
        raise ValueError("a price must be a decimal amount")
    return value


def _check_price(price: Decimal) -> Decimal:
    if not price.is_finite() or price < 0:
        raise ValueError(f"price must be a finite amount >= 0, got {price}")
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValueError(f"price {price} has more than two decimals")
    return price


class Tier(BaseModel):
    """Flat price of a period whose count is between ``first`` and ``last`` (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: int = Field(gt=FREE_LIMIT, le=BLOCK_SIZE)
    last: int = Field(gt=FREE_LIMIT, le=BLOCK_SIZE)
    price: Decimal

    @field_validator("price", mode="before")
    @classmethod
    def _exact_price(cls, value: object) -> object:
        return _exact_money(value)

    @field_validator("price")
    @classmethod
    def _valid_price(cls, price: Decimal) -> Decimal:
        return _check_price(price)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.last < self.first:
            raise ValueError(f"tier {self.first}–{self.last} ends before it starts")
        return self


class Tariff(BaseModel):
    """Prices of the paid plan: tiers covering 11–900 invoices, then a price per block of 900.

    Construction fails (pydantic ``ValidationError``, a ``ValueError``) when the tiers leave a
    gap or overlap, do not span exactly ``FREE_LIMIT + 1`` to ``BLOCK_SIZE``, get cheaper as the
    count grows, or when a price is a float, negative, or has more than two decimals.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: Literal["EUR"] = "EUR"
    tiers: tuple[Tier, ...] = Field(min_length=1)
    block_price: Decimal

    @field_validator("block_price", mode="before")
    @classmethod
    def _exact_price(cls, value: object) -> object:
        return _exact_money(value)

    @field_validator("block_price")
    @classmethod
    def _valid_price(cls, price: Decimal) -> Decimal:
        return _check_price(price)

    @model_validator(mode="after")
    def _tiers_tile_the_first_block(self) -> Self:
        expected_first = FREE_LIMIT + 1
        previous_price = Decimal(0)
        for tier in self.tiers:
            if tier.first != expected_first:
                raise ValueError(
                    f"tier {tier.first}–{tier.last} should start at {expected_first} "
                    "(tiers must follow each other without gap or overlap)"
                )
            if tier.price < previous_price:
                raise ValueError(f"tier {tier.first}–{tier.last} is cheaper than the tier below")
            expected_first = tier.last + 1
            previous_price = tier.price
        if expected_first != BLOCK_SIZE + 1:
            raise ValueError(f"tiers must end at {BLOCK_SIZE}, last ends at {expected_first - 1}")
        if self.block_price < previous_price:
            raise ValueError("block_price is cheaper than the last tier")
        return self


def amount(count: int, tariff: Tariff) -> Decimal:
    """Price of a period counting ``count`` invoices, in euros, to the cent.

    0.00 up to 10 invoices; the price of the tier holding ``count`` up to 900; above,
    ``tranches(count) × block_price``. Raises ValueError for a negative count.
    """
    blocks = tranches(count)
    if blocks == 0:
        return Decimal(0).quantize(CENT)
    if count > BLOCK_SIZE:
        return (tariff.block_price * blocks).quantize(CENT)
    for tier in tariff.tiers:
        if tier.first <= count <= tier.last:
            return tier.price.quantize(CENT)
    raise AssertionError("unreachable: a validated tariff covers every count up to the block")


def parse_tariff(document: str) -> Tariff:
    """A tariff from TOML text. Raises ValueError (TOML syntax or a rule of :class:`Tariff`)."""
    try:
        data: dict[str, Any] = tomllib.loads(document)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"tariff is not valid TOML: {error}") from error
    return Tariff.model_validate(data)


def load_tariff(path: Path | None = None) -> Tariff:
    """Read and validate the tariff file (default: the shipped ``services/metering/tariff.toml``).

    Raises OSError when the file cannot be read, ValueError when it is not a valid tariff.
    """
    source = DEFAULT_TARIFF_PATH if path is None else path
    try:
        return parse_tariff(source.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from error

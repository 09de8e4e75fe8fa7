"""``efacture lifecycle send`` with a number that parses but is not one (NaN, Infinity, a
huge exponent) is bad usage: exit 2 with one sentence, before any connection is opened."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from efacture.cli.main import cli

pytestmark = pytest.mark.unit

INVOICE = "0b8f8a8e-5d6c-4c1e-9d3f-2f7c1f6a9b10"


@pytest.mark.parametrize(("option", "value"), [
    ("--amount", "NaN"), ("--amount", "Infinity"), ("--amount", "sNaN"),
    ("--amount", "1e999999"), ("--vat-rate", "NaN"), ("--vat-rate", "sNaN"),
])
def test_non_finite_numbers_are_bad_usage(option: str, value: str) -> None:
    args = {"--amount": "120.00", "--vat-rate": "20", option: value}
    result = CliRunner().invoke(cli, ["lifecycle", "send", INVOICE, "--code", "212",
                                      "--amount", args["--amount"],
                                      "--vat-rate", args["--vat-rate"]])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "is not a number" in result.output

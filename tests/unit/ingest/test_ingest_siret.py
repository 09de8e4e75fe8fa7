"""SIREN/SIRET check digits, La Poste exception included."""

import pytest

from services.ingest.domain.siret import luhn_ok, siren_ok, siret_ok

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("siren", ["732829320", "552032534", "356000000"])
def test_real_sirens_pass_the_luhn_check(siren: str) -> None:
    assert siren_ok(siren)


@pytest.mark.parametrize("siren", ["732829321", "12345678", "73282932A", "", "7328293200"])
def test_wrong_or_malformed_sirens_fail(siren: str) -> None:
    assert not siren_ok(siren)


def test_real_siret_passes_and_a_changed_digit_fails() -> None:
    assert siret_ok("73282932000074")
    assert not siret_ok("73282932000075")


def test_la_poste_siret_is_valid_when_its_digit_sum_is_a_multiple_of_five() -> None:
    # 35600000000001 fails Luhn but its digits add up to 15.
    assert not luhn_ok("35600000000001")
    assert siret_ok("35600000000001")
    assert not siret_ok("35600000000002")


def test_siret_rejects_non_ascii_digits() -> None:
    assert not siret_ok("７３２８２９３２００００７４")

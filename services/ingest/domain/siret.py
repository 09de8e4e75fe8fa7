"""French company identifiers: SIREN (9 digits) and SIRET (14 digits) check digits."""

from __future__ import annotations

_LA_POSTE_SIREN = "356000000"


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` is a non-empty string of ASCII digits passing the Luhn check."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def siren_ok(siren: str) -> bool:
    """True for 9 digits passing the Luhn check."""
    return len(siren) == 9 and luhn_ok(siren)


def siret_ok(siret: str) -> bool:
    """True for 14 digits passing the Luhn check.

    La Poste's establishments (SIREN 356000000) are numbered past what Luhn allows: their SIRET
    is valid when the plain sum of its digits is a multiple of 5.
    """
    if len(siret) != 14 or not siret.isascii() or not siret.isdigit():
        return False
    if siret.startswith(_LA_POSTE_SIREN):
        return sum(int(c) for c in siret) % 5 == 0
    return luhn_ok(siret)

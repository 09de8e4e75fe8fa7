"""Valid invoices made from a corpus file, each with its own number (for load and kill tests)."""

from __future__ import annotations

from functools import lru_cache

from tests.support.system import CORPUS

TEMPLATE = CORPUS / "cii" / "mustang__validV2FR.xml"
TEMPLATE_NUMBER = b"FAC-20171118-506"
# The template's seller is French (VAT FR44552081317, SIREN 552081317): a sandbox tenant
# with this SIREN owns it.
TENANT = "55208131700010"


@lru_cache(maxsize=1)
def _template() -> bytes:
    data = TEMPLATE.read_bytes()
    assert data.count(TEMPLATE_NUMBER) == 2  # the number and the payment reference
    return data


def cii_invoice(number: str) -> bytes:
    """A valid EN 16931 CII invoice of seller SIREN 552081317 numbered ``number``."""
    return _template().replace(TEMPLATE_NUMBER, number.encode())

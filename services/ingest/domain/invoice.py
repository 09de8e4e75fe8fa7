"""The EN 16931 core of an invoice, the same whatever the syntax it came in (CII, UBL, Factur-X)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Party(BaseModel):
    """Seller (BG-4) or buyer (BG-7).

    ``siren``/``siret`` are filled from a French legal id (scheme 0002 = SIREN, 0009 = SIRET) or
    from an identifier that has the right shape under one of those schemes; ``legal_id`` and
    ``legal_id_scheme`` keep BT-30/BT-47 as written.
    """

    model_config = _FROZEN

    name: str | None = None
    siren: str | None = None
    siret: str | None = None
    legal_id: str | None = None
    legal_id_scheme: str | None = None
    vat_id: str | None = None
    country: str | None = None
    email: str | None = None


class VatBreakdown(BaseModel):
    """One VAT breakdown (BG-23): category code, rate, taxable amount and tax amount."""

    model_config = _FROZEN

    category: str
    rate: Decimal | None = None
    taxable: Decimal
    tax: Decimal


class Totals(BaseModel):
    """Document totals (BG-22): BT-106 … BT-115; ``None`` when the document omits one."""

    model_config = _FROZEN

    line_net: Decimal | None = None
    allowances: Decimal | None = None
    charges: Decimal | None = None
    tax_exclusive: Decimal | None = None
    vat: Decimal | None = None
    tax_inclusive: Decimal | None = None
    prepaid: Decimal | None = None
    payable: Decimal | None = None


class Invoice(BaseModel):
    """The invoice as the broker understands it (number, dates, parties, totals, VAT)."""

    model_config = _FROZEN

    number: str
    type_code: str
    issue_date: date
    due_date: date | None = None
    currency: str
    seller: Party
    buyer: Party
    totals: Totals
    vat: tuple[VatBreakdown, ...] = ()
    line_count: int = 0

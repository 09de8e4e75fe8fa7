"""Syntax-neutral facts read from an invoice: what the business rules and the model need.

The extractors (:mod:`cii`, :mod:`ubl`) fill these; :mod:`rules` and :mod:`french` judge them;
:func:`Facts.invoice` projects them onto the public :class:`Invoice` model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from services.ingest.domain.invoice import Invoice, Party, Totals, VatBreakdown


def to_decimal(text: str | None) -> Decimal | None:
    """A Decimal from XML text, ``None`` when absent or not a finite number."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


@dataclass(frozen=True)
class PartyFacts:
    """A party plus what rules need beyond the model: address, identifiers, FC registration."""

    party: Party
    has_address: bool = False
    identifiers: tuple[str, ...] = ()
    tax_registration: str | None = None


@dataclass(frozen=True)
class LineFacts:
    """An invoice line (BG-25): net amount (BT-131) and VAT category/rate (BT-151/152)."""

    net: Decimal | None
    category: str | None
    rate: Decimal | None


@dataclass(frozen=True)
class AllowanceCharge:
    """A document-level allowance (BG-20) or charge (BG-21)."""

    charge: bool
    amount: Decimal | None
    category: str | None
    rate: Decimal | None


@dataclass(frozen=True)
class VatFacts:
    """A VAT breakdown (BG-23) with whether it carries an exemption reason (BT-120/121)."""

    category: str | None
    rate: Decimal | None
    taxable: Decimal | None
    tax: Decimal | None
    exemption: bool = False


@dataclass(frozen=True)
class Facts:
    """Everything read from one invoice document."""

    spec_id: str | None = None
    number: str | None = None
    type_code: str | None = None
    issue_date: date | None = None
    due_date: date | None = None
    currency: str | None = None
    seller: PartyFacts | None = None
    buyer: PartyFacts | None = None
    tax_representative_vat: str | None = None
    lines: tuple[LineFacts, ...] = ()
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    totals: Totals = field(default_factory=Totals)
    rounding: Decimal | None = None
    vat: tuple[VatFacts, ...] = ()
    has_delivery_date: bool = False
    has_invoicing_period: bool = False
    deliver_to_country: str | None = None
    has_payment_terms: bool = False
    has_payment_means: bool = False
    has_seller_contact: bool = False
    has_buyer_reference: bool = False
    amounts: tuple[tuple[str, Decimal], ...] = ()

    def invoice(self) -> Invoice | None:
        """The public model, or ``None`` when the mandatory core (BR-02…BR-05) is missing."""
        if not (self.number and self.type_code and self.issue_date and self.currency):
            return None
        empty = Party()
        seller = self.seller.party if self.seller else empty
        if self.seller is not None and seller.siren is None:
            siren = siren_in_tax_ids(seller.vat_id, self.seller.tax_registration, seller.country)
            if siren is not None:
                seller = seller.model_copy(update={"siren": siren})
        return Invoice(
            number=self.number,
            type_code=self.type_code,
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.currency,
            seller=seller,
            buyer=self.buyer.party if self.buyer else empty,
            totals=self.totals,
            vat=tuple(
                VatBreakdown(
                    category=v.category or "",
                    rate=v.rate,
                    taxable=v.taxable if v.taxable is not None else Decimal(0),
                    tax=v.tax if v.tax is not None else Decimal(0),
                )
                for v in self.vat
            ),
            line_count=len(self.lines),
        )


def french_ids(
    legal_id: str | None, scheme: str | None, country: str | None
) -> tuple[str | None, str | None]:
    """``(siren, siret)`` from a legal id under scheme 0002/0009 (or a bare French one)."""
    if not legal_id:
        return None, None
    digits = legal_id.replace(" ", "")
    french = scheme in ("0002", "0009") or (scheme is None and country == "FR")
    if not french or not digits.isdigit():
        return None, None
    if len(digits) == 14:
        return digits[:9], digits
    if len(digits) == 9:
        return digits, None
    return None, None


# FR + a 2-character key (digits or letters, never I or O) + the SIREN.
_FR_VAT = re.compile(r"^FR[0-9A-HJ-NP-Z]{2}(\d{9})$")


def siren_in_tax_ids(
    vat_id: str | None, tax_registration: str | None, country: str | None = None
) -> str | None:
    """The SIREN a seller without a legal id claims through its tax identifiers, else ``None``.

    An FR VAT number (BT-31) is ``FR`` + key + SIREN; a tax registration (BT-32, scheme FC)
    may be such a VAT number, or a bare SIREN or SIRET for a seller in France. Other
    countries' numbers carry no SIREN.
    Used so that a seller identified only this way is still compared with the tenant.
    """
    for value in (vat_id, tax_registration):
        text = (value or "").replace(" ", "").replace(".", "").upper()
        match = _FR_VAT.match(text)
        if match:
            return match.group(1)
    reg = (tax_registration or "").replace(" ", "")
    if country == "FR" and reg.isascii() and reg.isdigit() and len(reg) in (9, 14):
        return reg[:9]
    return None

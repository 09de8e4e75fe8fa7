"""What a readable rendering shows of an invoice (pure): parties, lines, VAT, totals.

Values stay the XML's text (amounts are not recomputed: the rendering shows what the legal
document says, nothing the renderer inferred). Missing elements are ``None`` or empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree


@dataclass(frozen=True)
class Party:
    name: str | None = None
    legal_id: str | None = None  # SIREN/SIRET or another registration id
    vat_id: str | None = None
    address: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True)
class Line:
    line_id: str | None
    name: str | None
    description: str | None
    quantity: str | None
    unit: str | None
    unit_price: str | None
    net_amount: str | None
    vat_category: str | None
    vat_rate: str | None


@dataclass(frozen=True)
class VatRow:
    category: str | None
    rate: str | None
    basis: str | None
    amount: str | None
    exemption: str | None = None


@dataclass(frozen=True)
class InvoiceFacts:
    syntax: str  # "CII" or "UBL"
    number: str | None = None
    type_code: str | None = None
    issue_date: str | None = None  # ISO YYYY-MM-DD when the XML's date was readable
    due_date: str | None = None
    currency: str | None = None
    buyer_reference: str | None = None
    order_reference: str | None = None
    seller: Party = field(default_factory=Party)
    buyer: Party = field(default_factory=Party)
    lines: tuple[Line, ...] = ()
    vat: tuple[VatRow, ...] = ()
    line_total: str | None = None
    allowances: str | None = None
    charges: str | None = None
    tax_basis: str | None = None
    tax_total: str | None = None
    grand_total: str | None = None
    prepaid: str | None = None
    payable: str | None = None
    payment_terms: str | None = None
    iban: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def text(node: etree._Element | None, path: str, ns: dict[str, str]) -> str | None:
    """First non-blank text at ``path`` under ``node``, stripped; None otherwise."""
    if node is None:
        return None
    for found in node.xpath(path, namespaces=ns):
        value = found if isinstance(found, str) else found.text
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def texts(node: etree._Element | None, path: str, ns: dict[str, str]) -> tuple[str, ...]:
    if node is None:
        return ()
    out = []
    for found in node.xpath(path, namespaces=ns):
        value = found if isinstance(found, str) else found.text
        if isinstance(value, str) and value.strip():
            out.append(" ".join(value.split()))
    return tuple(out)


def first(node: etree._Element | None, path: str, ns: dict[str, str]) -> etree._Element | None:
    if node is None:
        return None
    found = node.xpath(path, namespaces=ns)
    return found[0] if found and isinstance(found[0], etree._Element) else None


def iso_date(value: str | None) -> str | None:
    """``YYYYMMDD`` (CII format 102) or ``YYYY-MM-DD`` → ``YYYY-MM-DD``; else the text as is."""
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value

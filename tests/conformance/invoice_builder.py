"""Rewrite a valid invoice (CII or UBL) with new lines, VAT breakdown and totals.

:func:`cii_invoice` and :func:`ubl_invoice` replace a base's lines, document level allowances
and charges, VAT breakdown and totals with those of a :class:`Scenario`, computed as EN 16931
demands: line net amount = quantity x price rounded to the cent; per VAT category and rate,
basis = lines - allowances + charges and tax = basis x rate rounded half-up to the cent; an
exemption reason where the category needs one; document totals from those. Elements are
placed in the order of the syntax's XSD. Everything else (parties, references, payment terms)
stays the base's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from tests.conformance.mutants import NS

CENT = Decimal("0.01")
_EXEMPT = {"E": "Exonération de TVA", "AE": "Autoliquidation", "G": "Exportation hors UE"}


@dataclass(frozen=True)
class Scenario:
    """Lines ``(category, rate, quantity, price)`` and allowances/charges
    ``(charge?, category, rate, amount)``."""

    name: str
    lines: tuple[tuple[str, str, str, str], ...]
    adjustments: tuple[tuple[bool, str, str, str], ...] = ()
    foreign: bool = False  # only on bases with a foreign seller (no BR-FR)


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def breakdown(s: Scenario) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """``{(category, rate): (basis, tax)}`` of the scenario, in first-use order."""
    basis: dict[tuple[str, str], Decimal] = {}
    for category, rate, quantity, price in s.lines:
        net = (Decimal(quantity) * Decimal(price)).quantize(CENT, rounding=ROUND_HALF_UP)
        basis[(category, rate)] = basis.get((category, rate), Decimal(0)) + net
    for charge, category, rate, amount in s.adjustments:
        sign = Decimal(1) if charge else Decimal(-1)
        basis[(category, rate)] = basis.get((category, rate), Decimal(0)) + sign * Decimal(amount)
    return {key: (b, (b * Decimal(key[1]) / 100).quantize(CENT, rounding=ROUND_HALF_UP))
            for key, b in basis.items()}


def _el(parent: etree._Element, tag: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    prefix, local = tag.split(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{local}", attrs)
    if text is not None:
        node.text = text
    return node


def _new(tag: str) -> etree._Element:
    prefix, local = tag.split(":")
    return etree.Element(f"{{{NS[prefix]}}}{local}")


def _drop(nodes: list[etree._Element]) -> None:
    for node in nodes:
        parent = node.getparent()
        if parent is not None:
            parent.remove(node)


def _insert_before(parent: etree._Element, nodes: list[etree._Element],
                   before: tuple[str, ...]) -> None:
    anchor = next((c for c in parent if etree.QName(c).localname in before), None)
    for node in nodes:
        if anchor is None:
            parent.append(node)
        else:
            anchor.addprevious(node)


def _set(node: etree._Element | None, path: str, value: str) -> None:
    found = node.find(path, NS) if node is not None else None
    if found is not None:
        found.text = value


def _totals(s: Scenario) -> dict[str, Decimal]:
    lines = sum((Decimal(q) * Decimal(p)).quantize(CENT, rounding=ROUND_HALF_UP)
                for _, _, q, p in s.lines)
    charges = sum((Decimal(a) for c, _, _, a in s.adjustments if c), Decimal(0))
    allowances = sum((Decimal(a) for c, _, _, a in s.adjustments if not c), Decimal(0))
    tax = sum((t for _, t in breakdown(s).values()), Decimal(0))
    basis = Decimal(lines) - allowances + charges
    return {"lines": Decimal(lines), "charges": charges, "allowances": allowances,
            "basis": basis, "tax": tax, "grand": basis + tax}




def _rate(rate: str) -> str:
    return _money(Decimal(rate))


def _cii_tax(tag: str, category: str, rate: str, amounts: tuple[str, str] | None,
             ) -> etree._Element:
    tax = _new(tag)
    if amounts:
        _el(tax, "ram:CalculatedAmount", amounts[1])
    _el(tax, "ram:TypeCode", "VAT")
    if amounts and category in _EXEMPT:
        _el(tax, "ram:ExemptionReason", _EXEMPT[category])
    if amounts:
        _el(tax, "ram:BasisAmount", amounts[0])
    _el(tax, "ram:CategoryCode", category)
    _el(tax, "ram:RateApplicablePercent", _rate(rate))
    return tax


def cii_invoice(root: etree._Element, s: Scenario) -> None:
    """Rewrite the CII invoice ``root`` in place with scenario ``s``."""
    tx = root.find("rsm:SupplyChainTradeTransaction", NS)
    assert tx is not None
    lines = tx.findall("ram:IncludedSupplyChainTradeLineItem", NS)
    template = lines[0]
    anchor = _new("ram:Placeholder")
    template.addprevious(anchor)
    _drop(lines)
    for number, (category, rate, quantity, price) in enumerate(s.lines, 1):
        line = copy.deepcopy(template)
        _set(line, "ram:AssociatedDocumentLineDocument/ram:LineID", str(number))
        agreement = line.find("ram:SpecifiedLineTradeAgreement", NS)
        assert agreement is not None
        _drop(agreement.findall("ram:GrossPriceProductTradePrice", NS))
        _drop(agreement.findall("ram:NetPriceProductTradePrice/ram:BasisQuantity", NS))
        _set(agreement, "ram:NetPriceProductTradePrice/ram:ChargeAmount", price)
        _set(line, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", quantity)
        settlement = line.find("ram:SpecifiedLineTradeSettlement", NS)
        assert settlement is not None
        _drop(settlement.findall("ram:SpecifiedTradeAllowanceCharge", NS))
        old = settlement.find("ram:ApplicableTradeTax", NS)
        assert old is not None
        old.addprevious(_cii_tax("ram:ApplicableTradeTax", category, rate, None))
        _drop([old])
        net = (Decimal(quantity) * Decimal(price)).quantize(CENT, rounding=ROUND_HALF_UP)
        _set(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
             _money(net))
        anchor.addprevious(line)
    _drop([anchor])
    header = tx.find("ram:ApplicableHeaderTradeSettlement", NS)
    assert header is not None
    _drop(header.findall("ram:ApplicableTradeTax", NS)
          + header.findall("ram:SpecifiedTradeAllowanceCharge", NS)
          + header.findall("ram:SpecifiedLogisticsServiceCharge", NS))
    taxes = [_cii_tax("ram:ApplicableTradeTax", c, r, (_money(b), _money(t)))
             for (c, r), (b, t) in breakdown(s).items()]
    _insert_before(header, taxes, ("BillingSpecifiedPeriod", "SpecifiedTradePaymentTerms",
                                   "SpecifiedTradeSettlementHeaderMonetarySummation"))
    adjustments = []
    for charge, category, rate, amount in s.adjustments:
        node = _new("ram:SpecifiedTradeAllowanceCharge")
        _el(_el(node, "ram:ChargeIndicator"), "udt:Indicator", "true" if charge else "false")
        _el(node, "ram:ActualAmount", amount)
        _el(node, "ram:Reason", "Frais de port" if charge else "Remise")
        node.append(_cii_tax("ram:CategoryTradeTax", category, rate, None))
        adjustments.append(node)
    _insert_before(header, adjustments, ("SpecifiedTradePaymentTerms",
                                         "SpecifiedTradeSettlementHeaderMonetarySummation"))
    summation = header.find("ram:SpecifiedTradeSettlementHeaderMonetarySummation", NS)
    assert summation is not None
    currency = header.findtext("ram:InvoiceCurrencyCode", "EUR", NS)
    for child in list(summation):
        summation.remove(child)
    totals = _totals(s)
    _el(summation, "ram:LineTotalAmount", _money(totals["lines"]))
    if s.adjustments:
        _el(summation, "ram:ChargeTotalAmount", _money(totals["charges"]))
        _el(summation, "ram:AllowanceTotalAmount", _money(totals["allowances"]))
    _el(summation, "ram:TaxBasisTotalAmount", _money(totals["basis"]))
    _el(summation, "ram:TaxTotalAmount", _money(totals["tax"]), currencyID=currency)
    _el(summation, "ram:GrandTotalAmount", _money(totals["grand"]))
    _el(summation, "ram:DuePayableAmount", _money(totals["grand"]))


def _ubl_category(tag: str, category: str, rate: str, reason: bool) -> etree._Element:
    node = _new(tag)
    _el(node, "cbc:ID", category)
    _el(node, "cbc:Percent", _rate(rate))
    if reason and category in _EXEMPT:
        _el(node, "cbc:TaxExemptionReason", _EXEMPT[category])
    _el(_el(node, "cac:TaxScheme"), "cbc:ID", "VAT")
    return node


def ubl_invoice(root: etree._Element, s: Scenario) -> None:
    """Rewrite the UBL invoice ``root`` in place with scenario ``s``."""
    currency = root.findtext("cbc:DocumentCurrencyCode", "EUR", NS)
    lines = root.findall("cac:InvoiceLine", NS)
    template = lines[0]
    _drop(lines)
    for number, (category, rate, quantity, price) in enumerate(s.lines, 1):
        line = copy.deepcopy(template)
        _set(line, "cbc:ID", str(number))
        _set(line, "cbc:InvoicedQuantity", quantity)
        net = (Decimal(quantity) * Decimal(price)).quantize(CENT, rounding=ROUND_HALF_UP)
        _set(line, "cbc:LineExtensionAmount", _money(net))
        _drop(line.findall("cac:AllowanceCharge", NS)
              + line.findall("cac:Price/cbc:BaseQuantity", NS)
              + line.findall("cac:Price/cac:AllowanceCharge", NS))
        item = line.find("cac:Item", NS)
        assert item is not None
        old = item.find("cac:ClassifiedTaxCategory", NS)
        assert old is not None
        old.addprevious(_ubl_category("cac:ClassifiedTaxCategory", category, rate, False))
        _drop([old])
        _set(line, "cac:Price/cbc:PriceAmount", price)
        root.append(line)
    _drop(root.findall("cac:AllowanceCharge", NS) + root.findall("cac:TaxTotal", NS)[1:])
    adjustments = []
    for charge, category, rate, amount in s.adjustments:
        node = _new("cac:AllowanceCharge")
        _el(node, "cbc:ChargeIndicator", "true" if charge else "false")
        _el(node, "cbc:AllowanceChargeReason", "Frais de port" if charge else "Remise")
        _el(node, "cbc:Amount", amount, currencyID=currency)
        node.append(_ubl_category("cac:TaxCategory", category, rate, False))
        adjustments.append(node)
    _insert_before(root, adjustments, ("TaxExchangeRate", "PricingExchangeRate",
                                       "PaymentExchangeRate", "TaxTotal"))
    tax_total = root.find("cac:TaxTotal", NS)
    assert tax_total is not None
    for child in list(tax_total):
        tax_total.remove(child)
    totals = _totals(s)
    _el(tax_total, "cbc:TaxAmount", _money(totals["tax"]), currencyID=currency)
    for (category, rate), (basis, tax) in breakdown(s).items():
        sub = _el(tax_total, "cac:TaxSubtotal")
        _el(sub, "cbc:TaxableAmount", _money(basis), currencyID=currency)
        _el(sub, "cbc:TaxAmount", _money(tax), currencyID=currency)
        sub.append(_ubl_category("cac:TaxCategory", category, rate, True))
    monetary = root.find("cac:LegalMonetaryTotal", NS)
    assert monetary is not None
    for child in list(monetary):
        monetary.remove(child)
    _el(monetary, "cbc:LineExtensionAmount", _money(totals["lines"]), currencyID=currency)
    _el(monetary, "cbc:TaxExclusiveAmount", _money(totals["basis"]), currencyID=currency)
    _el(monetary, "cbc:TaxInclusiveAmount", _money(totals["grand"]), currencyID=currency)
    if s.adjustments:
        _el(monetary, "cbc:AllowanceTotalAmount", _money(totals["allowances"]),
            currencyID=currency)
        _el(monetary, "cbc:ChargeTotalAmount", _money(totals["charges"]), currencyID=currency)
    _el(monetary, "cbc:PayableAmount", _money(totals["grand"]), currencyID=currency)

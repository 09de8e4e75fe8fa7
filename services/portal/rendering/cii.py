"""The facts of a UN/CEFACT CII invoice (D16B, as in Factur-X) for the rendering (pure)."""

from __future__ import annotations

from lxml import etree

from services.portal.rendering.facts import (
    InvoiceFacts,
    Line,
    Party,
    VatRow,
    first,
    iso_date,
    text,
    texts,
)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_TX = "rsm:SupplyChainTradeTransaction"
_AGREEMENT = f"{_TX}/ram:ApplicableHeaderTradeAgreement"
_SETTLEMENT = f"{_TX}/ram:ApplicableHeaderTradeSettlement"
_SUM = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def _t(node: etree._Element | None, path: str) -> str | None:
    return text(node, path, NS)


def _party(node: etree._Element | None) -> Party:
    if node is None:
        return Party()
    address = first(node, "ram:PostalTradeAddress", NS)
    lines = texts(address, "ram:LineOne|ram:LineTwo|ram:LineThree", NS)
    city = " ".join(v for v in (_t(address, "ram:PostcodeCode"), _t(address, "ram:CityName")) if v)
    country = _t(address, "ram:CountryID")
    return Party(
        name=_t(node, "ram:Name"),
        legal_id=_t(node, "ram:SpecifiedLegalOrganization/ram:ID") or _t(node, "ram:GlobalID"),
        vat_id=_t(node, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
        address=tuple(v for v in (*lines, city, country) if v),
        email=_t(node, "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID")
        or _t(node, "ram:URIUniversalCommunication/ram:URIID"),
    )


def _line(node: etree._Element) -> Line:
    quantity = first(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", NS)
    return Line(
        line_id=_t(node, "ram:AssociatedDocumentLineDocument/ram:LineID"),
        name=_t(node, "ram:SpecifiedTradeProduct/ram:Name"),
        description=_t(node, "ram:SpecifiedTradeProduct/ram:Description"),
        quantity=_t(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"),
        unit=quantity.get("unitCode") if quantity is not None else None,
        unit_price=_t(node, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
                            "/ram:ChargeAmount"),
        net_amount=_t(node, "ram:SpecifiedLineTradeSettlement"
                            "/ram:SpecifiedTradeSettlementLineMonetarySummation"
                            "/ram:LineTotalAmount"),
        vat_category=_t(node, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
                              "/ram:CategoryCode"),
        vat_rate=_t(node, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
                          "/ram:RateApplicablePercent"),
    )


def cii_facts(root: etree._Element) -> InvoiceFacts:
    settlement = first(root, _SETTLEMENT, NS)
    currency = _t(settlement, "ram:InvoiceCurrencyCode")
    # BT-110 is the tax total in the invoice currency (there may be a second, accounting one).
    tax_total = (_t(root, f"{_SUM}/ram:TaxTotalAmount[@currencyID='{currency}']")
                 if currency else None) or _t(root, f"{_SUM}/ram:TaxTotalAmount")
    return InvoiceFacts(
        syntax="CII",
        number=_t(root, "rsm:ExchangedDocument/ram:ID"),
        type_code=_t(root, "rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=iso_date(_t(root, "rsm:ExchangedDocument/ram:IssueDateTime"
                                     "/udt:DateTimeString")),
        due_date=iso_date(_t(settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime"
                                         "/udt:DateTimeString")),
        currency=currency,
        buyer_reference=_t(root, f"{_AGREEMENT}/ram:BuyerReference"),
        order_reference=_t(root, f"{_AGREEMENT}/ram:BuyerOrderReferencedDocument"
                                 "/ram:IssuerAssignedID"),
        seller=_party(first(root, f"{_AGREEMENT}/ram:SellerTradeParty", NS)),
        buyer=_party(first(root, f"{_AGREEMENT}/ram:BuyerTradeParty", NS)),
        lines=tuple(_line(n) for n in root.xpath(f"{_TX}/ram:IncludedSupplyChainTradeLineItem",
                                                  namespaces=NS)),
        vat=tuple(
            VatRow(category=_t(n, "ram:CategoryCode"), rate=_t(n, "ram:RateApplicablePercent"),
                   basis=_t(n, "ram:BasisAmount"), amount=_t(n, "ram:CalculatedAmount"),
                   exemption=_t(n, "ram:ExemptionReason"))
            for n in (settlement.xpath("ram:ApplicableTradeTax", namespaces=NS)
                      if settlement is not None else [])
        ),
        line_total=_t(root, f"{_SUM}/ram:LineTotalAmount"),
        allowances=_t(root, f"{_SUM}/ram:AllowanceTotalAmount"),
        charges=_t(root, f"{_SUM}/ram:ChargeTotalAmount"),
        tax_basis=_t(root, f"{_SUM}/ram:TaxBasisTotalAmount"),
        tax_total=tax_total,
        grand_total=_t(root, f"{_SUM}/ram:GrandTotalAmount"),
        prepaid=_t(root, f"{_SUM}/ram:TotalPrepaidAmount"),
        payable=_t(root, f"{_SUM}/ram:DuePayableAmount"),
        payment_terms=_t(settlement, "ram:SpecifiedTradePaymentTerms/ram:Description"),
        iban=texts(settlement, "ram:SpecifiedTradeSettlementPaymentMeans"
                               "/ram:PayeePartyCreditorFinancialAccount/ram:IBANID", NS),
        notes=texts(root, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content", NS),
    )

"""The facts of a UBL 2.1 Invoice or CreditNote for the rendering (pure)."""

from __future__ import annotations

from lxml import etree

from services.portal.rendering.facts import (
    InvoiceFacts,
    Line,
    Party,
    VatRow,
    first,
    text,
    texts,
)

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}


def _t(node: etree._Element | None, path: str) -> str | None:
    return text(node, path, NS)


def _party(node: etree._Element | None) -> Party:
    if node is None:
        return Party()
    address = first(node, "cac:PostalAddress", NS)
    lines = texts(address, "cbc:StreetName|cbc:AdditionalStreetName|cac:AddressLine/cbc:Line",
                  NS)
    city = " ".join(v for v in (_t(address, "cbc:PostalZone"), _t(address, "cbc:CityName")) if v)
    country = _t(address, "cac:Country/cbc:IdentificationCode")
    return Party(
        name=_t(node, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _t(node, "cac:PartyName/cbc:Name"),
        legal_id=_t(node, "cac:PartyLegalEntity/cbc:CompanyID")
        or _t(node, "cac:PartyIdentification/cbc:ID"),
        vat_id=_t(node, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID")
        or _t(node, "cac:PartyTaxScheme/cbc:CompanyID"),
        address=tuple(v for v in (*lines, city, country) if v),
        email=_t(node, "cac:Contact/cbc:ElectronicMail"),
    )


def _line(node: etree._Element) -> Line:
    quantity = first(node, "cbc:InvoicedQuantity|cbc:CreditedQuantity", NS)
    return Line(
        line_id=_t(node, "cbc:ID"),
        name=_t(node, "cac:Item/cbc:Name"),
        description=_t(node, "cac:Item/cbc:Description"),
        quantity=quantity.text.strip() if quantity is not None and quantity.text else None,
        unit=quantity.get("unitCode") if quantity is not None else None,
        unit_price=_t(node, "cac:Price/cbc:PriceAmount"),
        net_amount=_t(node, "cbc:LineExtensionAmount"),
        vat_category=_t(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        vat_rate=_t(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"),
    )


def ubl_facts(root: etree._Element) -> InvoiceFacts:
    currency = _t(root, "cbc:DocumentCurrencyCode")
    totals = first(root, "cac:LegalMonetaryTotal", NS)
    # The TaxTotal in the document currency carries the breakdown (BG-23).
    tax = first(root, f"cac:TaxTotal[cbc:TaxAmount/@currencyID='{currency}']", NS) \
        if currency else None
    tax = tax if tax is not None else first(root, "cac:TaxTotal", NS)
    return InvoiceFacts(
        syntax="UBL",
        number=_t(root, "cbc:ID"),
        type_code=_t(root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode"),
        issue_date=_t(root, "cbc:IssueDate"),
        due_date=_t(root, "cbc:DueDate|cac:PaymentMeans/cbc:PaymentDueDate"),
        currency=currency,
        buyer_reference=_t(root, "cbc:BuyerReference"),
        order_reference=_t(root, "cac:OrderReference/cbc:ID"),
        seller=_party(first(root, "cac:AccountingSupplierParty/cac:Party", NS)),
        buyer=_party(first(root, "cac:AccountingCustomerParty/cac:Party", NS)),
        lines=tuple(_line(n) for n in root.xpath("cac:InvoiceLine|cac:CreditNoteLine",
                                                  namespaces=NS)),
        vat=tuple(
            VatRow(category=_t(n, "cac:TaxCategory/cbc:ID"),
                   rate=_t(n, "cac:TaxCategory/cbc:Percent"),
                   basis=_t(n, "cbc:TaxableAmount"), amount=_t(n, "cbc:TaxAmount"),
                   exemption=_t(n, "cac:TaxCategory/cbc:TaxExemptionReason"))
            for n in (tax.xpath("cac:TaxSubtotal", namespaces=NS) if tax is not None else [])
        ),
        line_total=_t(totals, "cbc:LineExtensionAmount"),
        allowances=_t(totals, "cbc:AllowanceTotalAmount"),
        charges=_t(totals, "cbc:ChargeTotalAmount"),
        tax_basis=_t(totals, "cbc:TaxExclusiveAmount"),
        tax_total=_t(tax, "cbc:TaxAmount"),
        grand_total=_t(totals, "cbc:TaxInclusiveAmount"),
        prepaid=_t(totals, "cbc:PrepaidAmount"),
        payable=_t(totals, "cbc:PayableAmount"),
        payment_terms=_t(root, "cac:PaymentTerms/cbc:Note"),
        iban=texts(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", NS),
        notes=texts(root, "cbc:Note", NS),
    )

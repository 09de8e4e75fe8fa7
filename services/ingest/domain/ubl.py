"""Read the EN 16931 facts out of a UBL 2.1 Invoice or CreditNote."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from lxml import etree

from services.ingest.domain.facts import (
    AllowanceCharge,
    Facts,
    LineFacts,
    PartyFacts,
    VatFacts,
    french_ids,
    to_decimal,
)
from services.ingest.domain.invoice import Party, Totals
from services.ingest.domain.syntax import CAC_NS, CBC_NS

NS = {"cac": CAC_NS, "cbc": CBC_NS}


@cache
def _xpath(path: str) -> etree.XPath:
    # Compiling an XPath costs more than evaluating it: compile each path once per process.
    # regexp=False: no EXSLT re: functions registered on every call (none is used).
    return etree.XPath(path, namespaces=NS, regexp=False)


def _all(node: etree._Element, path: str) -> list[etree._Element]:
    found = _xpath(path)(node)
    return [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []


def _text(node: etree._Element, path: str) -> str | None:
    for element in _all(node, path):
        text = element.text
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _party(node: etree._Element | None) -> PartyFacts | None:
    if node is None:
        return None
    legal = _all(node, "cac:PartyLegalEntity/cbc:CompanyID")
    legal_id = (legal[0].text or "").strip() or None if legal else None
    scheme = legal[0].get("schemeID") if legal else None
    country = _text(node, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")
    siren, siret = french_ids(legal_id, scheme, country)
    if siren is None:
        for ident in _all(node, "cac:PartyIdentification/cbc:ID"):
            siren, siret = french_ids(ident.text, ident.get("schemeID"), None)
            if siren:
                break
    email = _text(node, "cac:Contact/cbc:ElectronicMail")
    if email is None:
        endpoint = _all(node, "cbc:EndpointID")
        if endpoint and endpoint[0].get("schemeID") == "EM" and endpoint[0].text:
            email = endpoint[0].text.strip()
    party = Party(
        name=_text(node, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _text(node, "cac:PartyName/cbc:Name"),
        siren=siren,
        siret=siret,
        legal_id=legal_id,
        legal_id_scheme=scheme,
        vat_id=_text(node, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"),
        country=country,
        email=email,
    )
    return PartyFacts(
        party=party,
        has_address=bool(_all(node, "cac:PostalAddress")),
        identifiers=tuple(
            (e.text or "").strip() for e in _all(node, "cac:PartyIdentification/cbc:ID") if e.text
        ),
        tax_registration=_text(
            node, "cac:PartyTaxScheme[not(cac:TaxScheme/cbc:ID='VAT')]/cbc:CompanyID"
        ),
    )


def _tax_total(root: etree._Element, currency: str | None) -> etree._Element | None:
    for total in _all(root, "cac:TaxTotal"):
        amount = _all(total, "cbc:TaxAmount")
        if amount and amount[0].get("currencyID") in (None, currency):
            return total
    return None


def _lines(root: etree._Element) -> tuple[LineFacts, ...]:
    return tuple(
        LineFacts(
            net=to_decimal(_text(line, "cbc:LineExtensionAmount")),
            category=_text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
            rate=to_decimal(_text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")),
        )
        for line in _all(root, "cac:InvoiceLine|cac:CreditNoteLine")
    )


def _allowances(root: etree._Element) -> tuple[AllowanceCharge, ...]:
    return tuple(
        AllowanceCharge(
            charge=(_text(node, "cbc:ChargeIndicator") or "").lower() == "true",
            amount=to_decimal(_text(node, "cbc:Amount")),
            category=_text(node, "cac:TaxCategory/cbc:ID"),
            rate=to_decimal(_text(node, "cac:TaxCategory/cbc:Percent")),
        )
        for node in _all(root, "cac:AllowanceCharge")
    )


def _vat(tax_total: etree._Element | None) -> tuple[VatFacts, ...]:
    if tax_total is None:
        return ()
    return tuple(
        VatFacts(
            category=_text(node, "cac:TaxCategory/cbc:ID"),
            rate=to_decimal(_text(node, "cac:TaxCategory/cbc:Percent")),
            taxable=to_decimal(_text(node, "cbc:TaxableAmount")),
            tax=to_decimal(_text(node, "cbc:TaxAmount")),
            exemption=bool(
                _text(node, "cac:TaxCategory/cbc:TaxExemptionReason"
                      "|cac:TaxCategory/cbc:TaxExemptionReasonCode")
            ),
        )
        for node in _all(tax_total, "cac:TaxSubtotal")
    )


def extract_ubl(root: etree._Element) -> Facts:
    """The facts of a UBL invoice or credit note; absent elements are ``None``."""
    currency = _text(root, "cbc:DocumentCurrencyCode")
    money = "cac:LegalMonetaryTotal"
    tax_total = _tax_total(root, currency)
    lines = _lines(root)
    totals = Totals(
        line_net=to_decimal(_text(root, f"{money}/cbc:LineExtensionAmount")),
        allowances=to_decimal(_text(root, f"{money}/cbc:AllowanceTotalAmount")),
        charges=to_decimal(_text(root, f"{money}/cbc:ChargeTotalAmount")),
        tax_exclusive=to_decimal(_text(root, f"{money}/cbc:TaxExclusiveAmount")),
        vat=to_decimal(_text(tax_total, "cbc:TaxAmount")) if tax_total is not None else None,
        tax_inclusive=to_decimal(_text(root, f"{money}/cbc:TaxInclusiveAmount")),
        prepaid=to_decimal(_text(root, f"{money}/cbc:PrepaidAmount")),
        payable=to_decimal(_text(root, f"{money}/cbc:PayableAmount")),
    )
    amounts: list[tuple[str, Decimal]] = [
        (name, value)
        for name, value in (
            ("LineExtensionAmount", totals.line_net),
            ("AllowanceTotalAmount", totals.allowances),
            ("ChargeTotalAmount", totals.charges),
            ("TaxExclusiveAmount", totals.tax_exclusive),
            ("TaxAmount", totals.vat),
            ("TaxInclusiveAmount", totals.tax_inclusive),
            ("PrepaidAmount", totals.prepaid),
            ("PayableAmount", totals.payable),
        )
        if value is not None
    ]
    amounts.extend(("line LineExtensionAmount", ln.net) for ln in lines if ln.net is not None)
    due = _text(root, "cbc:DueDate") or _text(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    return Facts(
        spec_id=_text(root, "cbc:CustomizationID"),
        number=_text(root, "cbc:ID"),
        type_code=_text(root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode"),
        issue_date=_date(_text(root, "cbc:IssueDate")),
        due_date=_date(due),
        currency=currency,
        seller=_party(next(iter(_all(root, "cac:AccountingSupplierParty/cac:Party")), None)),
        buyer=_party(next(iter(_all(root, "cac:AccountingCustomerParty/cac:Party")), None)),
        tax_representative_vat=_text(
            root, "cac:TaxRepresentativeParty/cac:PartyTaxScheme/cbc:CompanyID"
        ),
        lines=lines,
        allowances_charges=_allowances(root),
        totals=totals,
        rounding=to_decimal(_text(root, f"{money}/cbc:PayableRoundingAmount")),
        vat=_vat(tax_total),
        has_delivery_date=bool(_text(root, "cac:Delivery/cbc:ActualDeliveryDate")),
        has_invoicing_period=bool(_all(root, "cac:InvoicePeriod/*")),
        deliver_to_country=_text(
            root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
        ),
        has_payment_terms=bool(_text(root, "cac:PaymentTerms/cbc:Note")),
        has_payment_means=bool(_all(root, "cac:PaymentMeans")),
        has_seller_contact=bool(_all(root, "cac:AccountingSupplierParty/cac:Party/cac:Contact")),
        has_buyer_reference=bool(_text(root, "cbc:BuyerReference")),
        amounts=tuple(amounts),
    )

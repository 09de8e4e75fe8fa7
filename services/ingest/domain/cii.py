"""Read the EN 16931 facts out of a UN/CEFACT CII (D16B) invoice, Factur-X included."""

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
from services.ingest.domain.syntax import CII_NS, RAM_NS, UDT_NS

NS = {"rsm": CII_NS, "ram": RAM_NS, "udt": UDT_NS}
_TX = "rsm:SupplyChainTradeTransaction"
_SETTLEMENT = f"{_TX}/ram:ApplicableHeaderTradeSettlement"
_SUMMATION = f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


@cache
def _xpath(path: str) -> etree.XPath:
    # Compiling an XPath costs more than evaluating it: compile each path once per process.
    # regexp=False: no EXSLT re: functions registered on every call (none is used).
    return etree.XPath(path, namespaces=NS, regexp=False)


def all_nodes(node: etree._Element, path: str) -> list[etree._Element]:
    found = _xpath(path)(node)
    return [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []


def _text(node: etree._Element, path: str) -> str | None:
    for element in all_nodes(node, path):
        text = element.text
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def cii_date(node: etree._Element, path: str) -> date | None:
    """A format-102 (YYYYMMDD) date under ``path``; ``None`` when absent or malformed."""
    text = _text(node, f"{path}/udt:DateTimeString")
    if not text or len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _party(node: etree._Element | None) -> PartyFacts | None:
    if node is None:
        return None
    legal = all_nodes(node, "ram:SpecifiedLegalOrganization/ram:ID")
    legal_id = (legal[0].text or "").strip() or None if legal else None
    scheme = legal[0].get("schemeID") if legal else None
    country = _text(node, "ram:PostalTradeAddress/ram:CountryID")
    siren, siret = french_ids(legal_id, scheme, country)
    if siren is None:
        for global_id in all_nodes(node, "ram:GlobalID"):
            siren, siret = french_ids(global_id.text, global_id.get("schemeID"), None)
            if siren:
                break
    email = _text(node, "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID")
    if email is None:
        uri = all_nodes(node, "ram:URIUniversalCommunication/ram:URIID")
        if uri and uri[0].get("schemeID") == "EM" and uri[0].text:
            email = uri[0].text.strip()
    party = Party(
        name=_text(node, "ram:Name"),
        siren=siren,
        siret=siret,
        legal_id=legal_id,
        legal_id_scheme=scheme,
        vat_id=_text(node, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
        country=country,
        email=email,
    )
    identifiers = tuple(
        (e.text or "").strip() for e in all_nodes(node, "ram:ID|ram:GlobalID") if e.text
    )
    return PartyFacts(
        party=party,
        has_address=bool(all_nodes(node, "ram:PostalTradeAddress")),
        identifiers=identifiers,
        tax_registration=_text(node, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']"),
    )


def _vat_total(root: etree._Element, currency: str | None) -> str | None:
    amounts = all_nodes(root, f"{_SUMMATION}/ram:TaxTotalAmount")
    for element in amounts:
        if element.get("currencyID") in (None, currency):
            return str(element.text) if element.text is not None else None
    return None


def _lines(root: etree._Element) -> tuple[LineFacts, ...]:
    lines = []
    for item in all_nodes(root, f"{_TX}/ram:IncludedSupplyChainTradeLineItem"):
        document = "ram:AssociatedDocumentLineDocument"
        # EXTENDED: the lines that add up are those without a status or with DETAIL (as the
        # official BR-FXEXT-CO-10 sums them); GROUP and INFORMATION lines do not.
        status = _text(item, f"{document}/ram:LineStatusReasonCode")
        if status and status != "DETAIL":
            continue
        settlement = "ram:SpecifiedLineTradeSettlement"
        lines.append(
            LineFacts(
                net=to_decimal(
                    _text(
                        item,
                        f"{settlement}/ram:SpecifiedTradeSettlementLineMonetarySummation"
                        "/ram:LineTotalAmount",
                    )
                ),
                category=_text(item, f"{settlement}/ram:ApplicableTradeTax/ram:CategoryCode"),
                rate=to_decimal(
                    _text(item, f"{settlement}/ram:ApplicableTradeTax/ram:RateApplicablePercent")
                ),
            )
        )
    return tuple(lines)


def _allowances(root: etree._Element) -> tuple[AllowanceCharge, ...]:
    found = [
        # EXTENDED logistics charges count as document-level charges (BT-108).
        AllowanceCharge(
            charge=True,
            amount=to_decimal(_text(node, "ram:AppliedAmount")),
            category=_text(node, "ram:AppliedTradeTax/ram:CategoryCode"),
            rate=to_decimal(_text(node, "ram:AppliedTradeTax/ram:RateApplicablePercent")),
        )
        for node in all_nodes(root, f"{_SETTLEMENT}/ram:SpecifiedLogisticsServiceCharge")
    ]
    for node in all_nodes(root, f"{_SETTLEMENT}/ram:SpecifiedTradeAllowanceCharge"):
        indicator = (_text(node, "ram:ChargeIndicator/udt:Indicator") or "").lower()
        found.append(
            AllowanceCharge(
                charge=indicator == "true",
                amount=to_decimal(_text(node, "ram:ActualAmount")),
                category=_text(node, "ram:CategoryTradeTax/ram:CategoryCode"),
                rate=to_decimal(_text(node, "ram:CategoryTradeTax/ram:RateApplicablePercent")),
            )
        )
    return tuple(found)


def _vat(root: etree._Element) -> tuple[VatFacts, ...]:
    return tuple(
        VatFacts(
            category=_text(node, "ram:CategoryCode"),
            rate=to_decimal(_text(node, "ram:RateApplicablePercent")),
            taxable=to_decimal(_text(node, "ram:BasisAmount")),
            tax=to_decimal(_text(node, "ram:CalculatedAmount")),
            exemption=bool(_text(node, "ram:ExemptionReason|ram:ExemptionReasonCode")),
        )
        for node in all_nodes(root, f"{_SETTLEMENT}/ram:ApplicableTradeTax")
    )


def _amounts(root: etree._Element, lines: tuple[LineFacts, ...]) -> tuple[tuple[str, Decimal], ...]:
    labelled: list[tuple[str, Decimal]] = []
    for tag in (
        "LineTotalAmount", "AllowanceTotalAmount", "ChargeTotalAmount", "TaxBasisTotalAmount",
        "TaxTotalAmount", "GrandTotalAmount", "TotalPrepaidAmount", "DuePayableAmount",
    ):
        value = to_decimal(_text(root, f"{_SUMMATION}/ram:{tag}"))
        if value is not None:
            labelled.append((tag, value))
    labelled.extend(("line LineTotalAmount", line.net) for line in lines if line.net is not None)
    return tuple(labelled)


def extract_cii(root: etree._Element) -> Facts:
    """The facts of a CII invoice; absent elements are ``None``, never an exception."""
    currency = _text(root, f"{_SETTLEMENT}/ram:InvoiceCurrencyCode")
    agreement = f"{_TX}/ram:ApplicableHeaderTradeAgreement"
    sellers = all_nodes(root, f"{agreement}/ram:SellerTradeParty")
    buyers = all_nodes(root, f"{agreement}/ram:BuyerTradeParty")
    delivery = f"{_TX}/ram:ApplicableHeaderTradeDelivery"
    lines = _lines(root)
    terms = f"{_SETTLEMENT}/ram:SpecifiedTradePaymentTerms"
    totals = Totals(
        line_net=to_decimal(_text(root, f"{_SUMMATION}/ram:LineTotalAmount")),
        allowances=to_decimal(_text(root, f"{_SUMMATION}/ram:AllowanceTotalAmount")),
        charges=to_decimal(_text(root, f"{_SUMMATION}/ram:ChargeTotalAmount")),
        tax_exclusive=to_decimal(_text(root, f"{_SUMMATION}/ram:TaxBasisTotalAmount")),
        vat=to_decimal(_vat_total(root, currency)),
        tax_inclusive=to_decimal(_text(root, f"{_SUMMATION}/ram:GrandTotalAmount")),
        prepaid=to_decimal(_text(root, f"{_SUMMATION}/ram:TotalPrepaidAmount")),
        payable=to_decimal(_text(root, f"{_SUMMATION}/ram:DuePayableAmount")),
    )
    return Facts(
        spec_id=_text(
            root,
            "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        ),
        number=_text(root, "rsm:ExchangedDocument/ram:ID"),
        type_code=_text(root, "rsm:ExchangedDocument/ram:TypeCode"),
        issue_date=cii_date(root, "rsm:ExchangedDocument/ram:IssueDateTime"),
        due_date=cii_date(root, f"{terms}/ram:DueDateDateTime"),
        currency=currency,
        seller=_party(sellers[0] if sellers else None),
        buyer=_party(buyers[0] if buyers else None),
        tax_representative_vat=_text(
            root,
            f"{agreement}/ram:SellerTaxRepresentativeTradeParty/ram:SpecifiedTaxRegistration/ram:ID",
        ),
        lines=lines,
        allowances_charges=_allowances(root),
        totals=totals,
        rounding=to_decimal(_text(root, f"{_SUMMATION}/ram:RoundingAmount")),
        vat=_vat(root),
        has_delivery_date=bool(
            _text(root, f"{delivery}/ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"
                  "/udt:DateTimeString")
        ),
        has_invoicing_period=bool(all_nodes(root, f"{_SETTLEMENT}/ram:BillingSpecifiedPeriod/*")),
        deliver_to_country=_text(
            root, f"{delivery}/ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CountryID"
        ),
        has_payment_terms=bool(all_nodes(root, f"{terms}/*")),
        has_payment_means=bool(
            all_nodes(root, f"{_SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans")
        ),
        has_seller_contact=bool(
            all_nodes(root, f"{agreement}/ram:SellerTradeParty/ram:DefinedTradeContact")
        ),
        has_buyer_reference=bool(_text(root, f"{agreement}/ram:BuyerReference")),
        amounts=_amounts(root, lines),
    )


"""Mutants of valid invoices: each breaks one rule family (totals, VAT categories and
breakdowns, code lists, dates, identifiers, mandatory fields, French BR-FR requirements).

A mutation is an XPath (CII and UBL spellings) and an action on the first node it selects:
``inc`` adds 1.00 to an amount, ``set:V`` replaces the text, ``attr:NAME=V`` sets an attribute,
``drop`` removes the element, ``dup`` repeats it, ``sibling:NAME`` adds a ``NAME`` element of
the same namespace and text after it (``sibling:NAME=V``: with the text ``V``), ``noattr:NAME``
removes an attribute. A mutation that selects nothing in a base is not generated.

:data:`EXTRA_BASES` adds the EXTENDED, EXTENDED-CTC-FR (CII and UBL) samples with the mutations
that reach the rules of the XPath 2.0 tier (category sums per rate and exemption reason, the
CTC-FR totals, parent lines, tax currency, BR-FR billing modes and notes).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from services.ingest.domain.analysis import analyse

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
_H = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_SUM = f"/rsm:CrossIndustryInvoice/{_H}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_AGR = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/" \
       "ram:ApplicableHeaderTradeAgreement"
_LINE = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/" \
        "ram:IncludedSupplyChainTradeLineItem"
_TAX = f"/rsm:CrossIndustryInvoice/{_H}/ram:ApplicableTradeTax"
_U = "/*"

# (family, name, CII xpath or None, UBL xpath or None, action)
MUTATIONS: tuple[tuple[str, str, str | None, str | None, str], ...] = (
    ("totals", "grand-total", f"{_SUM}/ram:GrandTotalAmount",
     f"{_U}/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "inc"),
    ("totals", "tax-basis", f"{_SUM}/ram:TaxBasisTotalAmount",
     f"{_U}/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "inc"),
    ("totals", "line-total", f"{_SUM}/ram:LineTotalAmount",
     f"{_U}/cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "inc"),
    ("totals", "due-payable", f"{_SUM}/ram:DuePayableAmount",
     f"{_U}/cac:LegalMonetaryTotal/cbc:PayableAmount", "inc"),
    ("totals", "tax-total", f"{_SUM}/ram:TaxTotalAmount",
     f"{_U}/cac:TaxTotal/cbc:TaxAmount", "inc"),
    ("totals", "line-net", f"{_LINE}/ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettle"
     "mentLineMonetarySummation/ram:LineTotalAmount", f"{_U}/cac:InvoiceLine/"
     "cbc:LineExtensionAmount", "inc"),
    ("totals", "decimals", f"{_SUM}/ram:GrandTotalAmount",
     f"{_U}/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "digits"),
    ("VAT", "breakdown-tax", f"{_TAX}/ram:CalculatedAmount",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "inc"),
    ("VAT", "breakdown-basis", f"{_TAX}/ram:BasisAmount",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount", "inc"),
    ("VAT", "breakdown-rate", f"{_TAX}/ram:RateApplicablePercent",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", "inc"),
    ("VAT", "breakdown-category-Z", f"{_TAX}/ram:CategoryCode",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", "set:Z"),
    ("VAT", "breakdown-category-E", f"{_TAX}/ram:CategoryCode",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", "set:E"),
    ("VAT", "line-category-K", f"{_LINE}/ram:SpecifiedLineTradeSettlement/ram:ApplicableTrade"
     "Tax/ram:CategoryCode", f"{_U}/cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID",
     "set:K"),
    ("VAT", "line-category-AE", f"{_LINE}/ram:SpecifiedLineTradeSettlement/ram:ApplicableTrade"
     "Tax/ram:CategoryCode", f"{_U}/cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:ID",
     "set:AE"),
    ("VAT", "no-breakdown", _TAX, f"{_U}/cac:TaxTotal/cac:TaxSubtotal", "drop"),
    ("code lists", "currency", f"/rsm:CrossIndustryInvoice/{_H}/ram:InvoiceCurrencyCode",
     f"{_U}/cbc:DocumentCurrencyCode", "set:XXX"),
    ("code lists", "type-code", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode",
     f"{_U}/cbc:InvoiceTypeCode", "set:999"),
    ("code lists", "country", f"{_AGR}/ram:SellerTradeParty/ram:PostalTradeAddress/"
     "ram:CountryID", f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/"
     "cac:Country/cbc:IdentificationCode", "set:ZZ"),
    ("code lists", "unit", f"{_LINE}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
     f"{_U}/cac:InvoiceLine/cbc:InvoicedQuantity", "attr:unitCode=XYZ"),
    ("code lists", "payment-means", f"/rsm:CrossIndustryInvoice/{_H}/ram:SpecifiedTrade"
     "SettlementPaymentMeans/ram:TypeCode", f"{_U}/cac:PaymentMeans/cbc:PaymentMeansCode",
     "set:999"),
    ("code lists", "vat-category", f"{_TAX}/ram:CategoryCode",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", "set:Q"),
    ("code lists", "scheme", f"{_AGR}/ram:SellerTradeParty/ram:SpecifiedLegalOrganization/"
     "ram:ID", f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID",
     "attr:schemeID=9999"),
    ("dates", "issue-date", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDate"
     "Time/udt:DateTimeString", f"{_U}/cbc:IssueDate", "date:20231345"),
    ("dates", "issue-1999", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDate"
     "Time/udt:DateTimeString", f"{_U}/cbc:IssueDate", "date:19991231"),
    ("dates", "date-format", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDate"
     "Time/udt:DateTimeString", None, "attr:format=999"),
    ("dates", "due-before-issue", f"/rsm:CrossIndustryInvoice/{_H}/ram:SpecifiedTradePayment"
     "Terms/ram:DueDateDateTime/udt:DateTimeString", f"{_U}/cbc:DueDate", "date:20000101"),
    ("identifiers", "number-chars", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
     f"{_U}/cbc:ID", "set:F#2026/01"),
    ("identifiers", "number-long", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
     f"{_U}/cbc:ID", "set:F" + "1" * 40),
    ("identifiers", "siren-8-digits", f"{_AGR}/ram:SellerTradeParty/ram:SpecifiedLegal"
     "Organization/ram:ID", f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/"
     "cbc:CompanyID", "set:12345678"),
    ("identifiers", "vat-id-dropped", f"{_AGR}/ram:SellerTradeParty/ram:SpecifiedTax"
     "Registration", f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", "drop"),
    ("mandatory", "seller-name", f"{_AGR}/ram:SellerTradeParty/ram:Name",
     f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
     "drop"),
    ("mandatory", "buyer-name", f"{_AGR}/ram:BuyerTradeParty/ram:Name",
     f"{_U}/cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
     "drop"),
    ("mandatory", "seller-address", f"{_AGR}/ram:SellerTradeParty/ram:PostalTradeAddress",
     f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress", "drop"),
    ("mandatory", "buyer-country", f"{_AGR}/ram:BuyerTradeParty/ram:PostalTradeAddress/"
     "ram:CountryID", f"{_U}/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/"
     "cac:Country", "drop"),
    ("mandatory", "line-item-name", f"{_LINE}/ram:SpecifiedTradeProduct/ram:Name",
     f"{_U}/cac:InvoiceLine/cac:Item/cbc:Name", "drop"),
    ("BR-FR", "notes", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IncludedNote",
     f"{_U}/cbc:Note", "drop"),
    ("BR-FR", "billing-mode", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/"
     "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", f"{_U}/cbc:ProfileID",
     "set:X9"),
    ("BR-FR", "vat-rate-21", f"{_TAX}/ram:RateApplicablePercent",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", "set:21.00"),
    ("BR-FR", "type-code-325", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode",
     f"{_U}/cbc:InvoiceTypeCode", "set:325"),
    ("BR-FR", "buyer-endpoint", f"{_AGR}/ram:BuyerTradeParty/ram:URIUniversalCommunication",
     f"{_U}/cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", "drop"),
    ("VAT", "line-category-dropped", f"{_LINE}/ram:SpecifiedLineTradeSettlement/ram:Applicable"
     "TradeTax/ram:CategoryCode", f"{_U}/cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory",
     "drop"),
    ("identifiers", "seller-vat-twice", f"{_AGR}/ram:SellerTradeParty/ram:SpecifiedTax"
     "Registration", f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme", "dup"),
    ("identifiers", "iban-and-proprietary", f"/rsm:CrossIndustryInvoice/{_H}/ram:Specified"
     "TradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID",
     None, "sibling:ProprietaryID"),
    ("BR-FR", "seller-siret-mismatch", f"{_AGR}/ram:SellerTradeParty/ram:GlobalID",
     f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID",
     "siret"),
    # Rules of the XPath 2.0 tier (sch_xpath2): BR-AF/AG-08 (CII), BR-48, BR-53, BR-FR-BD-13 /
    # BR-FR-MV-BD_BT-3, BR-FR-20, BR-FR-CO-14/15, BR-FR-CO-10, BR-FXEXT-11.
    ("VAT", "breakdown-category-L", f"{_TAX}/ram:CategoryCode",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", "set:L"),
    ("VAT", "breakdown-category-M", f"{_TAX}/ram:CategoryCode",
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", "set:M"),
    ("VAT", "breakdown-rate-dropped", None,
     f"{_U}/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent", "drop"),
    ("code lists", "tax-currency-unmatched", None, f"{_U}/cbc:DocumentCurrencyCode",
     "sibling:TaxCurrencyCode=USD"),
    ("BR-FR", "billing-mode-S9", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/"
     "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID", f"{_U}/cbc:ProfileID",
     "set:S9"),
    ("BR-FR", "bar-note-invalid", None, f"{_U}/cbc:Note", "set:#BAR#XYZ"),
    ("BR-FR", "seller-single-vat-group", f"{_AGR}/ram:SellerTradeParty/ram:GlobalID",
     f"{_U}/cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID",
     "attr:schemeID=0231"),
    ("BR-FR", "global-id-without-scheme", f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", None,
     "noattr:schemeID"),
    ("identifiers", "parent-line-unknown", f"{_LINE}/ram:AssociatedDocumentLineDocument/"
     "ram:LineID", None, "sibling:ParentLineID=99"),
)
# Applied to the extra bases only (parent lines exist in EXTENDED only).
_EXTRA_ONLY = frozenset({"parent-line-unknown"})

# Valid bases (both ingest, for a production tenant, and the official artefacts accept them).
# The akretion samples' buyer SIREN 987654321 fails its check digit: replaced by a valid one.
BASES: tuple[tuple[str, tuple[bytes, bytes]], ...] = (
    ("factur-x/akretion__invoice_EN16931.pdf", (b"987654321", b"732829320")),
    ("cii/akretion__factur-x-basicwl.xml", (b"987654321", b"732829320")),
    ("ubl/akretion__ubl-21-en16931.xml", (b"987654321", b"732829320")),
    ("cii/cen__CII_example1.xml", (b"", b"")),
    ("ubl/cen__ubl-tc434-example1.xml", (b"", b"")),
)
_SIREN = (b"987654321", b"732829320")
# (label, corpus path, replacements, mutations) of the extra bases; the CTC-FR CII one is the
# EXTENDED sample declaring EXTENDED-CTC-FR.
EXTRA_BASES: tuple[tuple[str, str, tuple[bytes, ...], frozenset[str]], ...] = (
    ("cii/akretion__factur-x-extended.xml", "cii/akretion__factur-x-extended.xml", _SIREN,
     frozenset({"breakdown-tax", "breakdown-category-L", "parent-line-unknown",
                "billing-mode-S9"})),
    ("cii/akretion__factur-x-extended.xml#ctc-fr", "cii/akretion__factur-x-extended.xml",
     (*_SIREN, b"#urn:factur-x.eu:1p0:extended<", b"#urn.cpro.gouv.fr:1p0:extended-ctc-fr<"),
     frozenset({"line-total", "grand-total", "tax-basis"})),
    ("ubl/akretion__ubl-21-extended-ctc-fr.xml", "ubl/akretion__ubl-21-extended-ctc-fr.xml",
     (b"", b""), frozenset({"line-total", "grand-total", "breakdown-rate-dropped",
                            "tax-currency-unmatched", "billing-mode-S9", "bar-note-invalid",
                            "seller-single-vat-group"})),
)


@dataclass(frozen=True)
class Mutant:
    """One broken invoice: its base, the family and name of the mutation, the bytes."""

    base: str
    family: str
    name: str
    body: bytes

    @property
    def label(self) -> str:
        return f"{self.base}::{self.name}"


def base_xml(corpus: Path, path: str, fix: tuple[bytes, ...]) -> bytes:
    """The invoice XML of a base (extracted from the PDF for Factur-X), repaired: ``fix`` is
    pairs of (old, new) byte strings."""
    body = (corpus / path).read_bytes()
    xml = analyse(body, None, sandbox=True, max_bytes=10 * 1024 * 1024).xml
    assert xml is not None, path
    for old, new in zip(fix[::2], fix[1::2], strict=True):
        if old:
            xml = xml.replace(old, new)
    return xml


def _apply(node: etree._Element, action: str) -> bool:
    text = (node.text or "").strip()
    if action == "inc":
        try:
            node.text = str(Decimal(text) + Decimal("1.00"))
        except InvalidOperation:
            return False
    elif action == "digits":
        node.text = text + "001" if "." in text else text + ".001"
    elif action.startswith("set:"):
        node.text = action[4:]
    elif action.startswith("date:"):
        value = action[5:]
        node.text = value if len(text) == 8 else f"{value[:4]}-{value[4:6]}-{value[6:]}"
    elif action.startswith("attr:"):
        name, _, value = action[5:].partition("=")
        node.set(name, value)
    elif action == "siret":
        node.set("schemeID", "0009")
        node.text = "11122233300011"
    elif action == "dup":
        node.addnext(copy.deepcopy(node))
    elif action.startswith("sibling:"):
        name, _, value = action[8:].partition("=")
        twin = etree.Element(etree.QName(etree.QName(node).namespace, name))
        twin.text = value or text or "X"
        twin.tail = node.tail
        node.addnext(twin)
    elif action.startswith("noattr:"):
        if action[7:] not in node.attrib:
            return False
        del node.attrib[action[7:]]
    elif action == "drop":
        parent = node.getparent()
        if parent is None:
            return False
        parent.remove(node)
    return True


def mutants(corpus: Path) -> Iterator[Mutant]:
    """Every applicable mutation of every base."""
    for path, fix in BASES:
        yield from mutate(path, base_xml(corpus, path, fix))
    for label, path, fixes, names in EXTRA_BASES:
        yield from mutate(label, base_xml(corpus, path, fixes), names)


def mutate(path: str, xml: bytes, only: frozenset[str] | None = None) -> Iterator[Mutant]:
    """The mutations (those named in ``only``, or all) that apply to the invoice ``xml``."""
    cii = b"CrossIndustryInvoice" in xml[:400]
    for family, name, cii_path, ubl_path, action in MUTATIONS:
        where = cii_path if cii else ubl_path
        if where is None or (name not in only if only is not None else name in _EXTRA_ONLY):
            continue
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False))
        nodes = root.xpath(where, namespaces=NS)
        if not nodes or not _apply(nodes[0], action):
            continue
        yield Mutant(path, family, name, etree.tostring(root, xml_declaration=True,
                                                        encoding="UTF-8"))

"""What the simulator reads from an uploaded invoice to write its lifecycle CDARs.

A PA knows the invoice it carries: its number (BT-1), its issue date (BT-2) and the
seller's SIREN (BT-30). The simulator reads them from CII (also inside a Factur-X PDF)
or UBL with a hardened parser; when it cannot, it falls back to the flow's name and the
upload date, so a test uploading arbitrary bytes still gets well-formed CDARs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

_CII = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"}
_UBL = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"}
FALLBACK_SIREN = "000000001"


@dataclass(frozen=True)
class InvoiceFacts:
    number: str
    issue_date: date
    seller_siren: str


def _xml_of(content: bytes) -> bytes | None:
    if content.lstrip()[:5] == b"%PDF-":
        try:
            from facturx import get_facturx_xml_from_pdf

            _name, xml = get_facturx_xml_from_pdf(io.BytesIO(content), check_xsd=False)
        except Exception:  # any unreadable PDF: fall back
            return None
        return xml if isinstance(xml, bytes) and xml else None
    return content


def _siren(value: str | None) -> str | None:
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    if len(digits) >= 9 and not (value or "").upper().startswith("FR"):
        return digits[:9]
    if len(digits) == 11:  # FR + key + SIREN
        return digits[2:]
    return None


def _date(value: str | None) -> date | None:
    text = (value or "").strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _printable(text: str) -> str:
    # The flow's name comes off the wire: control characters and lone surrogates cannot go
    # into the CDAR's XML.
    return "".join(ch for ch in text if ch.isprintable())


def read_facts(content: bytes, name: str, uploaded: date) -> InvoiceFacts:
    """The invoice's number, date and seller SIREN, or the fallbacks described above."""
    fallback = InvoiceFacts(number=(_printable(name.rsplit(".", 1)[0]) or "UNKNOWN")[:64],
                            issue_date=uploaded, seller_siren=FALLBACK_SIREN)
    xml = _xml_of(content)
    if not xml:
        return fallback
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return fallback
    if root.tag == f"{{{_CII['rsm']}}}CrossIndustryInvoice":
        number = root.findtext("rsm:ExchangedDocument/ram:ID", namespaces=_CII)
        when = root.findtext("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
                             namespaces=_CII)
        seller = ".//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID"
        siren = _siren(root.findtext(seller, namespaces=_CII)) or _siren(root.findtext(
            ".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=_CII))
    else:
        number = root.findtext("cbc:ID", namespaces=_UBL)
        when = root.findtext("cbc:IssueDate", namespaces=_UBL)
        siren = _siren(root.findtext(
            ".//cac:AccountingSupplierParty//cac:PartyLegalEntity/cbc:CompanyID",
            namespaces=_UBL))
    return InvoiceFacts(number=(number or fallback.number).strip()[:64],
                        issue_date=_date(when) or uploaded,
                        seller_siren=siren or FALLBACK_SIREN)

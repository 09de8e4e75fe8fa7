"""XP Z12-012 French rules (BR-FR) for French sellers.

Most come from the generated tables of the official BR-FR stylesheets (:mod:`fast_rules`);
the few whose official XPath is 2.0-only syntax are written here, with the official message
(``sch_rules.SKIPPED_MESSAGES``): BR-FR-CO-05 and BR-FR-CO-07 for CII, BR-FR-CO-07 for UBL
(whose official string comparison means something else in XPath 1.0). All findings are
returned as errors; :func:`admission_reasons` makes them warnings for a sandbox tenant or an
archive-only submission.
"""

from __future__ import annotations

from lxml import etree

from services.ingest.domain import sch_rules
from services.ingest.domain.fast_rules import br_fr_findings
from services.ingest.domain.reasons import Reason
from services.ingest.domain.sch_engine import Indexed
from services.ingest.domain.syntax import CAC_NS, CBC_NS, CII_NS, RAM_NS, UDT_NS, Detected

_NS = {"rsm": CII_NS, "ram": RAM_NS, "udt": UDT_NS,
       "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}
_UBL = {"cbc": CBC_NS, "cac": CAC_NS}
_DOWN_PAYMENT = frozenset({"386", "500", "503"})
_PAID = frozenset({"B2", "S2", "M2"})
_CREDIT = frozenset({"261", "381", "396", "502", "503"})


def _message(rule: str) -> str:
    return sch_rules.SKIPPED_MESSAGES.get("BR-FR-CII", {}).get(rule, rule)


def _texts(root: etree._Element, path: str) -> list[str]:
    return [" ".join("".join(n.itertext()).split()) for n in root.xpath(path, namespaces=_NS)]


def _cii_co_07(root: etree._Element) -> list[Reason]:
    dues = [d for d in _texts(root, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeader"
                              "TradeSettlement/ram:SpecifiedTradePaymentTerms/ram:DueDate"
                              "DateTime/udt:DateTimeString") if d]
    issue = _texts(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    kind = set(_texts(root, "rsm:ExchangedDocument/ram:TypeCode"))
    frame = set(_texts(root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecified"
                       "DocumentContextParameter/ram:ID"))
    if not dues or kind & _DOWN_PAYMENT or frame & _PAID:
        return []
    # Official: every due date string >= the issue date string (YYYYMMDD compares as text).
    if all(issue and due >= issue[0] for due in dues):
        return []
    return [Reason(code="BR-FR-CO-07", message=_message("BR-FR-CO-07"), path="BT-9")]


def _cii_co_05(root: etree._Element) -> list[Reason]:
    if not set(_texts(root, "rsm:ExchangedDocument/ram:TypeCode")) & _CREDIT:
        return []
    ref = "ram:InvoiceReferencedDocument[ram:IssuerAssignedID and ram:FormattedIssueDateTime" \
          "/qdt:DateTimeString]"
    if root.xpath(f"rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/{ref}",
                  namespaces=_NS):
        return []
    lines = root.xpath(
        "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem[not(ram:Associated"
        "DocumentLineDocument/ram:LineStatusReasonCode) or ram:AssociatedDocumentLineDocument/"
        "ram:LineStatusReasonCode = 'DETAIL']", namespaces=_NS)
    if all(line.xpath(f"ram:SpecifiedLineTradeSettlement/{ref}", namespaces=_NS)
           for line in lines):
        return []
    return [Reason(code="BR-FR-CO-05", message=_message("BR-FR-CO-05"), path="BT-3")]


def _ubl_co_07(root: etree._Element) -> list[Reason]:
    def texts(path: str) -> list[str]:
        return [" ".join("".join(n.itertext()).split())
                for n in root.xpath(path, namespaces=_UBL)]
    kinds = set(texts("cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode"))
    if kinds & _DOWN_PAYMENT or set(texts("cbc:ProfileID")) & _PAID:
        return []
    issue = texts("cbc:IssueDate")
    # XPath 2.0 compares the two untyped values as strings, any due date against any issue one.
    if any(due < day for due in texts("cbc:DueDate | cac:PaymentMeans/cbc:PaymentDueDate")
           for day in issue):
        message = sch_rules.SKIPPED_MESSAGES.get("BR-FR-UBL", {}).get("BR-FR-CO-07", "")
        return [Reason(code="BR-FR-CO-07", message=message or _message("BR-FR-CO-07"),
                       path="BT-9")]
    return []


def br_fr_reasons(root: etree._Element, detected: Detected,
                  indexed: Indexed | None = None) -> list[Reason]:
    """Every BR-FR finding on the document (all errors; the caller relaxes them)."""
    found = br_fr_findings(root, detected, indexed)
    if detected.syntax == "CII":
        found += _cii_co_05(root) + _cii_co_07(root)
    else:
        found += _ubl_co_07(root)
    return found

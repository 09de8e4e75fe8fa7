"""Lifecycle statuses as CDAR D22B documents (XP Z12-012 "CDV", rules BR-FR-CDV).

Pure: builds the XML tree of one status about one invoice (:func:`build_cdar`) and reads
one back (:func:`read_cdar`). Schema validation and parsing of untrusted bytes live in
``services.transmit.adapters.cdar_schema``; this module never touches the filesystem.

What a built document carries, and why:

- ``ExchangedDocumentContext``: business process ``REGULATED`` and guideline
  ``urn.cpro.gouv.fr:1p0:CDV:invoice`` (BR-FR-CDV-01/02, CL-01).
- ``ExchangedDocument``: an id, the issue time (format 204), the sender (role ``WK`` when
  a platform speaks, else the issuer's role), the issuer with its SIREN (``GlobalID``
  scheme 0002, required when the acknowledgement type is 23, BR-FR-CDV-07) and one
  recipient; a recipient other than ``WK``/``DFH`` needs an electronic address (CDV-08).
- ``AcknowledgementDocument``: type 305 (transmission phase: 200–203, 213, 221, 501) or
  23 (processing phase: every other code, BR-FR-CDV-09, CL-05), then one
  ``ReferenceReferencedDocument``: invoice number (MDT-87), type 380, issue date
  (format 102, CDV-11), ``ProcessConditionCode`` (MDT-105), the seller (role ``SE``,
  CDV-13, CL-07) and one ``SpecifiedDocumentStatus`` per reason or per amount, each with a
  ``SequenceNumeric`` (CDV-16). 212 needs at least one ``MEN`` characteristic with an
  amount and a VAT percentage (BR-FR-CDV-14); 206/207/208/210/213/501 need a reason code
  (CDV-15) from the list allowed for that code (CL-09).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from lxml import etree

RSM: Final = "urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100"
RAM: Final = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT: Final = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT: Final = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP: Final = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
GUIDELINE: Final = "urn.cpro.gouv.fr:1p0:CDV:invoice"
SIREN_SCHEME: Final = "0002"

# Codes of the transmission phase (acknowledgement type 305); every other is 23.
TRANSMISSION_CODES: Final = frozenset({200, 201, 202, 203, 213, 221, 501})
NEEDS_REASON: Final = frozenset({206, 207, 208, 210, 213, 501})
# BR-FR-CDV-CL-09: the reason codes each status admits (only those we may emit).
ALLOWED_REASONS: Final[dict[int, frozenset[str]]] = {
    207: frozenset({"AUTRE", "COORD_BANC_ERR", "TX_TVA_ERR", "MONTANTTOTAL_ERR", "CALCUL_ERR",
                    "NON_CONFORME", "DOUBLON", "DEST_INC", "DEST_ERR", "TRANSAC_INC",
                    "EMMET_INC", "CONTRAT_TERM", "DOUBLE_FACT", "CMD_ERR", "ADR_ERR",
                    "SIRET_ERR", "CODE_ROUTAGE_ERR", "REF_CT_ABSENT", "REF_ERR", "PU_ERR",
                    "REM_ERR", "QTE_ERR", "ART_ERR", "MODPAI_ERR", "QUALITE_ERR",
                    "LIVR_INCOMP"}),
    210: frozenset({"TX_TVA_ERR", "MONTANTTOTAL_ERR", "CALCUL_ERR", "NON_CONFORME", "DOUBLON",
                    "DEST_ERR", "TRANSAC_INC", "EMMET_INC", "CONTRAT_TERM", "DOUBLE_FACT",
                    "CMD_ERR", "ADR_ERR", "REF_CT_ABSENT"}),
    213: frozenset({"MONTANTTOTAL_ERR", "CALCUL_ERR", "DOUBLON", "DEST_INC", "ADR_ERR",
                    "REJ_SEMAN", "REJ_UNI", "REJ_COH", "REJ_ADR", "REJ_CONT_B2G",
                    "REJ_REF_PJ", "REJ_ASS_PJ"}),
}
# BR-FR-CDV rules accept these VAT rates (custom:is-valid-vat-rate of XP Z12-012).
VAT_RATES: Final = frozenset(Decimal(x) for x in (
    "0", "10", "13", "20", "8.5", "19.6", "2.1", "5.5", "7", "20.6", "1.05", "0.9", "1.75",
    "9.2", "9.6"))


class CdarError(ValueError):
    """A status that the BR-FR-CDV rules would refuse; ``code`` is machine-readable."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Party:
    """A trade party: ``siren`` (GlobalID scheme 0002) and/or an electronic address."""

    role: str
    siren: str | None = None
    name: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Reason:
    code: str
    message: str = ""


@dataclass(frozen=True)
class Payment:
    """An amount received (212) and its VAT rate, as ``MEN`` characteristics."""

    amount: Decimal
    vat_rate: Decimal
    currency: str = "EUR"


@dataclass(frozen=True)
class CdarStatus:
    """One lifecycle status about one invoice (what a CDAR says)."""

    document_id: str
    issued_at: datetime
    code: int
    invoice_number: str
    invoice_date: date | None
    seller_siren: str | None
    sender: Party
    issuer: Party
    recipient: Party
    reasons: tuple[Reason, ...] = ()
    payments: tuple[Payment, ...] = field(default=())


def _el(parent: etree._Element, ns: str, name: str, text: str | None = None,
        **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}", attrs)
    if text is not None:
        child.text = text
    return child


def _party(parent: etree._Element, tag: str, party: Party) -> None:
    node = _el(parent, RAM, tag)
    if party.siren:
        _el(node, RAM, "GlobalID", party.siren, schemeID=SIREN_SCHEME)
    if party.name:
        _el(node, RAM, "Name", party.name)
    _el(node, RAM, "RoleCode", party.role)
    if party.uri:
        uri = _el(node, RAM, "URIUniversalCommunication")
        _el(uri, RAM, "URIID", party.uri, schemeID="0225")


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def check(status: CdarStatus) -> None:
    """The BR-FR-CDV rules this builder can break; raises :class:`CdarError`."""
    if status.code in NEEDS_REASON and not status.reasons:
        raise CdarError(f"status {status.code} needs a reason (BR-FR-CDV-15)", code="cdar-reason")
    allowed = ALLOWED_REASONS.get(status.code)
    for reason in status.reasons:
        if allowed is not None and reason.code not in allowed:
            raise CdarError(f"reason {reason.code} is not allowed with status {status.code} "
                            "(BR-FR-CDV-CL-09)", code="cdar-reason")
    if status.code == 212 and not status.payments:
        raise CdarError("212 Encaissée needs the amount received and its VAT rate "
                        "(BR-FR-CDV-14)", code="cdar-amount")
    for pay in status.payments:
        if pay.amount <= 0 or pay.amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise CdarError("the amount must be positive with at most 2 decimals",
                            code="cdar-amount")
        if pay.vat_rate not in VAT_RATES:
            raise CdarError(f"VAT rate {pay.vat_rate} is not a French rate", code="cdar-vat-rate")
    if status.invoice_date is None and status.code != 501:
        raise CdarError("the invoice's issue date is required (BR-FR-CDV-11)", code="cdar-date")
    if not status.seller_siren and status.code != 501:
        raise CdarError("the seller's SIREN is required (BR-FR-CDV-13)", code="cdar-seller")


def build_cdar(status: CdarStatus) -> etree._Element:
    """The CDAR tree of ``status`` (element order is the XSD's); raises :class:`CdarError`."""
    check(status)
    root = etree.Element(f"{{{RSM}}}CrossDomainAcknowledgementAndResponse", nsmap=NSMAP)
    context = _el(root, RSM, "ExchangedDocumentContext")
    _el(_el(context, RAM, "BusinessProcessSpecifiedDocumentContextParameter"), RAM, "ID",
        "REGULATED")
    _el(_el(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", GUIDELINE)
    doc = _el(root, RSM, "ExchangedDocument")
    _el(doc, RAM, "ID", status.document_id)
    when = status.issued_at.strftime("%Y%m%d%H%M%S")
    _el(_el(doc, RAM, "IssueDateTime"), UDT, "DateTimeString", when, format="204")
    _party(doc, "SenderTradeParty", status.sender)
    _party(doc, "IssuerTradeParty", status.issuer)
    _party(doc, "RecipientTradeParty", status.recipient)
    ack = _el(root, RSM, "AcknowledgementDocument")
    _el(ack, RAM, "TypeCode", "305" if status.code in TRANSMISSION_CODES else "23")
    _el(_el(ack, RAM, "IssueDateTime"), UDT, "DateTimeString", when, format="204")
    ref = _el(ack, RAM, "ReferenceReferencedDocument")
    _el(ref, RAM, "IssuerAssignedID", status.invoice_number)
    _el(ref, RAM, "TypeCode", "380")
    if status.invoice_date is not None:
        _el(_el(ref, RAM, "FormattedIssueDateTime"), QDT, "DateTimeString",
            status.invoice_date.strftime("%Y%m%d"), format="102")
    _el(ref, RAM, "ProcessConditionCode", str(status.code))
    if status.seller_siren:
        _party(ref, "IssuerTradeParty", Party(role="SE", siren=status.seller_siren))
    sequence = 0
    for reason in status.reasons:
        sequence += 1
        node = _el(ref, RAM, "SpecifiedDocumentStatus")
        _el(node, RAM, "ReasonCode", reason.code)
        if reason.message:
            _el(node, RAM, "Reason", reason.message)
        _el(node, RAM, "SequenceNumeric", str(sequence))
    if status.payments:
        sequence += 1
        node = _el(ref, RAM, "SpecifiedDocumentStatus")
        _el(node, RAM, "SequenceNumeric", str(sequence))
        for pay in status.payments:
            char = _el(node, RAM, "SpecifiedDocumentCharacteristic")
            _el(char, RAM, "TypeCode", "MEN")
            _el(char, RAM, "ValueAmount", _amount(pay.amount), currencyID=pay.currency)
            _el(char, RAM, "ValuePercent", f"{pay.vat_rate.normalize():f}")
    return root


def to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@dataclass(frozen=True)
class ReadStatus:
    """What transmit needs from an inbound CDAR (one per referenced invoice)."""

    code: int
    invoice_number: str
    invoice_date: str | None
    seller_siren: str | None
    reasons: tuple[Reason, ...]
    document_id: str | None


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, NSMAP)
    return found.text.strip() if found is not None and found.text else None


def read_cdar(root: etree._Element) -> list[ReadStatus]:
    """Every (invoice, status) the document reports; raises :class:`CdarError` when a
    referenced document has no number or no numeric ``ProcessConditionCode``.

    The tree must already be schema-valid (the adapter checks it first).
    """
    document_id = _text(root, "rsm:ExchangedDocument/ram:ID")
    out: list[ReadStatus] = []
    for ref in root.iterfind("rsm:AcknowledgementDocument/ram:ReferenceReferencedDocument",
                             NSMAP):
        number = _text(ref, "ram:IssuerAssignedID")
        raw_code = _text(ref, "ram:ProcessConditionCode")
        if not number:
            raise CdarError("a referenced document has no IssuerAssignedID", code="cdar-no-ref")
        if raw_code is None or not raw_code.isdigit():
            raise CdarError(f"ProcessConditionCode {raw_code!r} is not a status code",
                            code="cdar-no-code")
        reasons = tuple(
            Reason(code=code, message=_text(st, "ram:Reason") or "")
            for st in ref.iterfind("ram:SpecifiedDocumentStatus", NSMAP)
            if (code := _text(st, "ram:ReasonCode"))
        )
        out.append(ReadStatus(
            code=int(raw_code), invoice_number=number,
            invoice_date=_text(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString"),
            seller_siren=_text(ref, "ram:IssuerTradeParty/ram:GlobalID"),
            reasons=reasons, document_id=document_id))
    if not out:
        raise CdarError("the CDAR references no document", code="cdar-no-ref")
    return out

"""Analyse a submitted document: detect its kind, syntax and profile, extract, validate.

:func:`analyse` is pure and total: any input yields an :class:`Analysis`; bad input is a
rejection (``errors``), never an exception.
"""

from __future__ import annotations

from typing import Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict

from services.ingest.domain.br_fr import br_fr_reasons
from services.ingest.domain.cii import extract_cii
from services.ingest.domain.cii_rules import cii_syntax_reasons
from services.ingest.domain.fast_rules import profile_reasons
from services.ingest.domain.french import french_reasons, is_french_seller
from services.ingest.domain.invoice import Invoice
from services.ingest.domain.pdf import is_pdf, read_pdf
from services.ingest.domain.reasons import Reason, reason
from services.ingest.domain.rules import core_reasons
from services.ingest.domain.sch_engine import index_document
from services.ingest.domain.schema import schema_reasons
from services.ingest.domain.syntax import Detected, detect
from services.ingest.domain.ubl import extract_ubl
from services.ingest.domain.vat import vat_reasons
from services.ingest.domain.xmlsafe import parse_xml
from services.ingest.domain.xmp import xmp_reasons

DocumentKind = Literal["facturx-pdf", "cii", "ubl", "pdf", "other"]
SyntaxName = Literal["Factur-X", "CII", "UBL"]
_PREFERRED = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
_PDF_TYPES = {"application/pdf"}
_XML_TYPES = {"application/xml", "text/xml"}


class Analysis(BaseModel):
    """What the broker knows about a document after parsing and validation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DocumentKind
    syntax: SyntaxName | None = None
    profile: str | None = None
    invoice: Invoice | None = None
    errors: tuple[Reason, ...] = ()
    warnings: tuple[Reason, ...] = ()
    # The official rules ingest runs from the generated tables (the profile's set, and BR-FR
    # for French sellers): errors for a non-sandbox tenant with transmit, warnings otherwise,
    # as admission_reasons decides.
    strict: tuple[Reason, ...] = ()
    xml: bytes | None = None

    @property
    def accepted(self) -> bool:
        """True when no error was found."""
        return not self.errors


def _type_mismatch(content_type: str | None, pdf: bool) -> list[Reason]:
    if not content_type:
        return []
    media = content_type.split(";", 1)[0].strip().lower()
    expected = _PDF_TYPES if pdf else _XML_TYPES
    if media in expected:
        return []
    what = "a PDF" if pdf else "XML"
    return [reason("content-type-mismatch",
                   f"The content type {media!r} does not match the body, which is {what}.")]


def _validate(
    root: etree._Element, detected: Detected, sandbox: bool
) -> tuple[Invoice | None, list[Reason], list[Reason], list[Reason]]:
    errors = schema_reasons(root, detected)
    if detected.syntax == "CII":
        facts = extract_cii(root)
        errors += cii_syntax_reasons(root, detected.profile)
    else:
        facts = extract_ubl(root)
    # The official sets' fatal rules, from the tables generated at build time, merged with
    # the hand-written ones (which stay where the official XPath is 2.0-only).
    indexed = index_document(root)
    hand = core_reasons(facts, detected.profile, detected.syntax)
    hand += vat_reasons(facts, detected.profile, detected.syntax)
    core, strict = profile_reasons(root, detected, hand, indexed)
    errors += core
    invoice = facts.invoice()
    warnings: list[Reason] = []
    if invoice is not None:
        french_errors, warnings = french_reasons(invoice, sandbox=sandbox)
        errors += french_errors
        if is_french_seller(invoice):
            strict += br_fr_reasons(root, detected, indexed)
    return invoice, errors, warnings, strict


def _analyse_xml(body: bytes, content_type: str | None, sandbox: bool) -> Analysis:
    mismatch = _type_mismatch(content_type, pdf=False)
    root, problem = parse_xml(body)
    if root is None:
        return Analysis(kind="other", errors=(*mismatch, *(p for p in [problem] if p)))
    detected, problem = detect(root)
    if detected is None:
        return Analysis(kind="other", errors=(*mismatch, *(p for p in [problem] if p)))
    invoice, errors, warnings, strict = _validate(root, detected, sandbox)
    return Analysis(
        kind="cii" if detected.syntax == "CII" else "ubl",
        syntax=detected.syntax,
        profile=detected.profile,
        invoice=invoice,
        errors=(*mismatch, *errors),
        warnings=tuple(warnings),
        strict=tuple(strict),
        xml=body,
    )


def _ranked(files: tuple[tuple[str, bytes], ...]) -> list[tuple[str, bytes]]:
    def rank(item: tuple[str, bytes]) -> int:
        return _PREFERRED.index(item[0]) if item[0] in _PREFERRED else len(_PREFERRED)
    return sorted(files, key=rank)


def _analyse_pdf(body: bytes, content_type: str | None, sandbox: bool) -> Analysis:
    mismatch = _type_mismatch(content_type, pdf=True)
    content, problem = read_pdf(body)
    if content is None:
        return Analysis(kind="other", errors=(*mismatch, *(p for p in [problem] if p)))
    if not content.xml_files:
        return Analysis(kind="pdf", errors=(*mismatch, *content.problems))
    first_problem: Reason | None = None
    for name, xml in _ranked(content.xml_files):
        root, problem = parse_xml(xml)
        detected = None
        if root is not None:
            detected, problem = detect(root)
        if root is None or detected is None:
            # An unrelated XML attachment (not an invoice name, not ZUGFeRD 1) leaves a plain PDF.
            zf1 = "zugferd-1-unsupported"
            relevant = name in _PREFERRED or (problem is not None and problem.code == zf1)
            if relevant and (first_problem is None or first_problem.code != zf1):
                first_problem = problem and problem.model_copy(
                    update={"message": f"{name}: {problem.message}"})
            continue
        invoice, errors, warnings, strict = _validate(root, detected, sandbox)
        return Analysis(
            kind="facturx-pdf",
            syntax="Factur-X" if detected.syntax == "CII" else "UBL",
            profile=detected.profile,
            invoice=invoice,
            errors=(*mismatch, *xmp_reasons(content.xmp), *errors),
            warnings=tuple(warnings),
            strict=tuple(strict),
            xml=xml,
        )
    if first_problem is None:
        return Analysis(kind="pdf", errors=(*mismatch, *content.problems))
    return Analysis(kind="other", errors=(*mismatch, first_problem))


def analyse(body: bytes, content_type: str | None, *, sandbox: bool, max_bytes: int) -> Analysis:
    """Parse and validate a submitted document. Never raises for bad input.

    A plain PDF (no embedded invoice XML) yields ``kind="pdf"`` and no errors: whether it may
    be archived depends on the submission (see :func:`admission_reasons`).
    """
    if len(body) > max_bytes:
        return Analysis(kind="other", errors=(reason(
            "too-large", f"The document is {len(body)} bytes, over the {max_bytes}-byte limit."),))
    if not body.strip():
        return Analysis(kind="other", errors=(reason("empty-body", "The document is empty."),))
    try:
        if is_pdf(body):
            return _analyse_pdf(body, content_type, sandbox)
        return _analyse_xml(body, content_type, sandbox)
    except Exception as exc:
        # A safety net: a document that trips an unforeseen path is rejected, never raised.
        return Analysis(kind="other", errors=(reason(
            "analysis-failed", f"The document could not be analysed: {type(exc).__name__}."),))

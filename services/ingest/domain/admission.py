"""Admission rules of contract section 2 that depend on the tenant and the submission."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from services.ingest.domain.analysis import Analysis
from services.ingest.domain.dates import issue_date_reasons, utc_today
from services.ingest.domain.invoice import Invoice
from services.ingest.domain.reasons import Reason, reason

NOT_ADMITTED_FOR_EXCHANGE = frozenset({"MINIMUM"})
PLAIN_PDF_HEADERS = ("invoice-number", "issue-date", "recipient-id")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def seller_key(invoice: Invoice | None, tenant_siret: str) -> str:
    """The duplicate-detection key: the seller's SIREN, or the tenant's when the seller has none."""
    if invoice is not None and invoice.seller.siren:
        return invoice.seller.siren
    return tenant_siret[:9]


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    return str(value).strip() if value is not None else ""


def _plain_pdf(transmit: bool, headers: Mapping[str, str]) -> list[Reason]:
    errors: list[Reason] = []
    if transmit:
        errors.append(reason("plain-pdf-transmit",
                             "A plain PDF carries no invoice data: submit it with transmit=false."))
    missing = [name for name in PLAIN_PDF_HEADERS if not _header(headers, name)]
    if missing:
        errors.append(reason("plain-pdf-metadata",
                             f"A plain PDF needs the headers {', '.join(missing)}."))
    issue = _header(headers, "issue-date")
    if issue:
        valid = bool(_ISO_DATE.fullmatch(issue))
        if valid:
            try:
                date.fromisoformat(issue)
            except ValueError:
                valid = False
        if not valid:
            errors.append(reason("plain-pdf-metadata",
                                 f"The issue-date header {issue[:40]!r} is not a YYYY-MM-DD date."))
    return errors


def admission_reasons(
    analysis: Analysis,
    *,
    tenant_siret: str,
    sandbox: bool,
    transmit: bool,
    headers: Mapping[str, str],
    today: date | None = None,
) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
    """``(errors, warnings)`` that depend on the tenant and the submission.

    ``implausible-issue-date`` (before 1900, or more than a year after ``today``: the
    caller's clock, UTC today by default) for the invoice's date or a plain PDF's header.

    tenant-mismatch, profile-not-admitted (MINIMUM with ``transmit``), and the plain-PDF rules
    (``transmit`` must be false; headers invoice-number, issue-date, recipient-id required).
    The French check-digit rules are applied by :func:`analyse` (they need only ``sandbox``);
    the official rules of :attr:`Analysis.strict` (BR-FR, and the profile's official set beyond
    the hand-written EN 16931 rules) are errors for a non-sandbox tenant with ``transmit``,
    warnings (``severity: warning``) for a sandbox tenant or an archive-only submission: that
    is when the accredited platform would refuse the invoice.
    Unknown tenants and duplicates are the caller's: they need the database.
    """
    today = today or utc_today()
    if analysis.kind == "pdf":
        plain = _plain_pdf(transmit, headers)
        if not plain:
            header = date.fromisoformat(_header(headers, "issue-date"))
            plain = issue_date_reasons(header, today, "headers.issue-date")
        return tuple(plain), ()
    errors: list[Reason] = []
    invoice = analysis.invoice
    if invoice is not None:
        errors += issue_date_reasons(invoice.issue_date, today, "invoice/issue-date")
    tenant_siren = tenant_siret[:9]
    # A seller without a legal id has the SIREN of its FR VAT number or tax registration
    # (Facts.invoice fills it): a VAT-only seller is compared with the tenant too.
    if invoice is not None and invoice.seller.siren and invoice.seller.siren != tenant_siren:
        where = "seller/legal-id" if invoice.seller.legal_id else "seller/tax-id"
        errors.append(reason(
            "tenant-mismatch",
            f"The seller's SIREN {invoice.seller.siren} is not the tenant's ({tenant_siren}).",
            where,
        ))
    if transmit and analysis.profile in NOT_ADMITTED_FOR_EXCHANGE:
        errors.append(reason(
            "profile-not-admitted",
            f"The {analysis.profile} profile is not admitted for exchange by the French reform; "
            "submit it with transmit=false to archive it.",
        ))
    if transmit and not sandbox:
        return (*errors, *analysis.strict), ()
    return tuple(errors), tuple(r.as_warning() for r in analysis.strict)

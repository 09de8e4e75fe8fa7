"""What archive checks in one accepted invoice before it joins a batch (pure, no I/O).

Archive never relies on ingest's checks: a message that reaches it with an implausible issue
date, a retention date past ``date.max`` or a field the catalogue cannot hold is refused
here, for that invoice alone, with a reason code, so it can never fail the batch it would
have landed in. The same window as ingest (contract section 2): an issue date before 1900 or
more than a year after the archive date is ``implausible-issue-date``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from services.archive.domain.retention import retain_until
from shared.errors import PermanentError
from shared.messages.internal import InvoiceAccepted

EARLIEST_ISSUE_DATE = date(1900, 1, 1)
LATEST_AHEAD = timedelta(days=366)
_TEXT_FIELDS = ("tenant", "submission_id", "invoice_number", "type_code", "recipient_id",
                "recipient_name", "recipient_email", "currency", "kind", "syntax", "profile",
                "content_type")
# numeric(…) with no declared precision holds 131072 digits; a realistic amount is far below.
_MAX_AMOUNT_DIGITS = 40


class ArchiveRefusal(PermanentError):
    """This invoice can never be archived; the others of its batch are not concerned."""

    code = "archive-refused"


def admit(msg: InvoiceAccepted, today: date, retention_years: int) -> date:
    """The invoice's retention date, or :class:`ArchiveRefusal` with one of the codes
    ``implausible-issue-date``, ``retention-overflow`` or ``invalid-field``."""
    issue = msg.issue_date
    if issue is not None and not (EARLIEST_ISSUE_DATE <= issue <= today + LATEST_AHEAD):
        raise ArchiveRefusal(
            f"the issue date {issue.isoformat()} is before 1900 or more than a year ahead",
            code="implausible-issue-date")
    for name in _TEXT_FIELDS:
        value = getattr(msg, name)
        if isinstance(value, str) and "\x00" in value:
            raise ArchiveRefusal(f"the field {name} holds a NUL character", code="invalid-field")
    if msg.amount_payable is not None:
        try:
            amount = Decimal(msg.amount_payable)
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or \
                len(amount.as_tuple().digits) > _MAX_AMOUNT_DIGITS or \
                abs(amount.adjusted()) > _MAX_AMOUNT_DIGITS:
            raise ArchiveRefusal("the amount payable is not a decimal number",
                                 code="invalid-field")
    return retention_date(issue, today, retention_years)


def retention_date(issue: date | None, archived_on: date, retention_years: int) -> date:
    """:func:`retain_until`, or ``retention-overflow`` when it would pass ``date.max``."""
    try:
        return retain_until(issue, archived_on, retention_years)
    except (ValueError, OverflowError) as exc:
        start = (issue or archived_on).isoformat()
        raise ArchiveRefusal(
            f"{start} plus {retention_years} years of retention is past the last date",
            code="retention-overflow") from exc

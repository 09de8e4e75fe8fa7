"""Plausible issue dates (contract section 2): not before 1900, not more than a year ahead.

Pure: the caller gives ``today`` (ingest's clock, injected in tests). A date outside these
bounds is a typo or an attack (year 9999 makes ``issue date + retention`` overflow, year 0001
precedes every archive); either way it is refused before anything is stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.ingest.domain.reasons import Reason, reason

EARLIEST = date(1900, 1, 1)


def utc_today() -> date:
    """The default clock: today's date in UTC."""
    return datetime.now(UTC).date()


def latest(today: date) -> date:
    """The last admissible issue date: one year after ``today`` (28 Feb for 29 Feb)."""
    if today.year >= date.max.year:
        return date.max
    try:
        return today.replace(year=today.year + 1)
    except ValueError:
        return today.replace(year=today.year + 1, day=28)


def issue_date_reasons(issue: date | None, today: date, path: str) -> list[Reason]:
    """``implausible-issue-date`` when ``issue`` is before 1900 or more than a year after
    ``today``; nothing for an absent date (other rules require it)."""
    if issue is None:
        return []
    if issue < EARLIEST:
        return [reason("implausible-issue-date",
                       f"The issue date {issue.isoformat()} is before {EARLIEST.isoformat()}.",
                       path)]
    if issue > latest(today):
        return [reason("implausible-issue-date",
                       f"The issue date {issue.isoformat()} is more than a year after today "
                       f"({today.isoformat()}).", path)]
    return []

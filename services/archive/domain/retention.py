"""Retention: how long an archived invoice is kept (pure)."""

from __future__ import annotations

from datetime import date


def retain_until(issue_date: date | None, archived_on: date, years: int) -> date:
    """Issue date (or archive date when unknown) plus ``years``; 29 February falls on the 28th."""
    start = issue_date or archived_on
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)

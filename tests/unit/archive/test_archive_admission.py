"""Archive's own checks of one accepted invoice (issue 10, property 3): pure, clock injected."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.archive.domain.admission import ArchiveRefusal, admit, retention_date
from tests.security.archive_support import accepted

pytestmark = pytest.mark.unit

TODAY = date(2031, 5, 20)


@pytest.mark.parametrize("issue", [date(9999, 12, 31), date(1, 1, 1), date(1899, 12, 31),
                                   date(2032, 5, 21)])
def test_implausible_issue_dates_are_refused(issue: date) -> None:
    with pytest.raises(ArchiveRefusal) as caught:
        admit(accepted("A-1", issue_date=issue), TODAY, 10)
    assert caught.value.code == "implausible-issue-date"


@pytest.mark.parametrize("issue", [date(1900, 1, 1), date(2032, 5, 20), None])
def test_plausible_issue_dates_give_their_retention(issue: date | None) -> None:
    start = issue or TODAY
    assert admit(accepted("A-2", issue_date=issue), TODAY, 10) == start.replace(
        year=start.year + 10)


def test_a_retention_past_the_last_date_is_refused_not_raised() -> None:
    with pytest.raises(ArchiveRefusal) as caught:
        retention_date(date(2026, 1, 1), TODAY, 7975)
    assert caught.value.code == "retention-overflow"
    assert retention_date(date(1995, 6, 1), TODAY, 7975) == date(9970, 6, 1)


@pytest.mark.parametrize("fields", [{"recipient_name": "a\x00b"}, {"invoice_number": "\x00"},
                                    {"amount_payable": "abc"}, {"amount_payable": "NaN"},
                                    {"amount_payable": "1e999999"}])
def test_fields_the_catalogue_cannot_hold_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ArchiveRefusal) as caught:
        admit(accepted("A-3", **fields), TODAY, 10)
    assert caught.value.code == "invalid-field"

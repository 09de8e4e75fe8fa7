"""PDFs carrying JavaScript or launch/import actions are refused; ordinary actions are not."""

import pytest

from services.ingest.domain.analysis import analyse
from tests.support import hostile

pytestmark = pytest.mark.unit

LIMIT = 10 * 1024 * 1024


def _codes(body: bytes) -> list[str]:
    return [e.code for e in analyse(body, "application/pdf", sandbox=True, max_bytes=LIMIT).errors]


def test_document_level_javascript_is_refused() -> None:
    assert _codes(hostile.javascript_pdf()) == ["pdf-active-content"]


@pytest.mark.parametrize("action", ["/JavaScript", "/Launch", "/ImportData"])
def test_factur_x_with_an_active_open_action_is_refused(action: str) -> None:
    assert _codes(hostile.open_action_pdf(action)) == ["pdf-active-content"]


def test_factur_x_with_a_harmless_open_action_is_still_accepted() -> None:
    assert _codes(hostile.open_action_pdf("/GoTo")) == []


def test_plain_pdf_without_actions_is_still_a_plain_pdf() -> None:
    analysis = analyse(hostile.plain_pdf(), "application/pdf", sandbox=True, max_bytes=LIMIT)
    assert (analysis.kind, analysis.errors) == ("pdf", ())

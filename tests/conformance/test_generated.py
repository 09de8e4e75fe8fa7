"""The generated rule tables follow the installed official artefacts."""

import pytest

from services.ingest.domain import sch_build, sch_rules

pytestmark = pytest.mark.conformance


def test_generated_tables_are_up_to_date() -> None:
    assert not sch_build.stale(), "run: python -m services.ingest.domain.sch_build"


def test_code_lists_are_extracted_not_retyped() -> None:
    # The BR-FR lists come from the stylesheet's own functions (XP Z12-012).
    assert {"380", "381", "389"} <= sch_rules.FR_DOCUMENT_TYPES
    assert "20.00" in sch_rules.FR_VAT_RATES
    assert "21" not in sch_rules.FR_VAT_RATES
    assert {"S1", "B1", "M1"} <= sch_rules.FR_BILLING_MODES
    assert all(" " not in code and "\\" not in code for code in sch_rules.FR_EAS_CODES)

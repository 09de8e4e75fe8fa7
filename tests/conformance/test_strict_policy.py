"""The official rules beyond the hand-written ones reject only a non-sandbox transmission."""

from __future__ import annotations

import pytest

from services.ingest.domain.admission import admission_reasons
from services.ingest.domain.analysis import analyse
from tests.conformance.conftest import CORPUS, corpus_rows

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]
# A French EN 16931 invoice the official BR-FR set refuses (no PMT/PMD/AAB notes, no BT-23 …).
FRENCH = "cii/mustang__validV2FR.xml"
TENANT = "55208131700018"  # the seller's SIREN


def _verdict(sandbox: bool, transmit: bool) -> tuple[list[str], list[tuple[str, str]]]:
    analysis = analyse((CORPUS / FRENCH).read_bytes(), "application/xml", sandbox=sandbox,
                       max_bytes=10 * 1024 * 1024)
    errors, warnings = admission_reasons(analysis, tenant_siret=TENANT, sandbox=sandbox,
                                         transmit=transmit, headers={})
    return ([e.code for e in (*analysis.errors, *errors)],
            [(w.code, w.severity) for w in warnings])


def test_br_fr_error_rejects_a_production_transmission_with_the_rule_id() -> None:
    errors, warnings = _verdict(sandbox=False, transmit=True)
    assert {"BR-FR-05", "BR-FR-08", "BR-FR-12", "BR-FR-13"} <= set(errors)
    assert warnings == []


@pytest.mark.parametrize(("sandbox", "transmit"), [(True, True), (False, False), (True, False)])
def test_br_fr_findings_are_warnings_for_sandbox_and_archive_only(
        sandbox: bool, transmit: bool) -> None:
    errors, warnings = _verdict(sandbox=sandbox, transmit=transmit)
    assert not [e for e in errors if e.startswith("BR-FR")]
    assert ("BR-FR-05", "warning") in warnings


def test_br_fr_reasons_carry_the_official_french_message_and_a_location() -> None:
    analysis = analyse((CORPUS / FRENCH).read_bytes(), None, sandbox=False, max_bytes=10**7)
    pmt = [r for r in analysis.strict if r.code == "BR-FR-05" and "(code PMT)" in r.message]
    assert len(pmt) == 1
    assert "frais de recouvrement" in pmt[0].message
    assert (pmt[0].path or "").startswith("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument")


def test_a_ctc_fr_total_error_binds_every_tenant_under_its_own_rule_id() -> None:
    """EXTENDED-CTC-FR replaces BR-CO-10 by BR-FREXT-CO-10 (a tolerance per line): ingest
    reports the set's id, not the EN 16931 twin, and it still rejects a sandbox tenant's
    archive-only submission, as the EN 16931 total it replaces did."""
    from tests.conformance.mutants import EXTRA_BASES, base_xml, mutate

    label, path, fixes, _ = next(b for b in EXTRA_BASES if b[0].endswith("#ctc-fr"))
    mutant = next(m for m in mutate(label, base_xml(CORPUS, path, fixes),
                                    frozenset({"line-total"})))
    analysis = analyse(mutant.body, "application/xml", sandbox=True, max_bytes=10**7)
    codes = {e.code for e in analysis.errors}
    assert "BR-FREXT-CO-10" in codes, codes
    assert "BR-CO-10" not in codes, "the EN 16931 twin fired beside the set's own rule"
    assert not analysis.accepted

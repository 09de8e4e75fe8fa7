"""The corpus judged by ingest and by the official artefacts, rule by rule."""

from __future__ import annotations

import pytest

from services.ingest.domain.official import Oracle
from tests.conformance.agreement import Compared, rule_disagreements
from tests.conformance.conftest import CORPUS, compare, corpus_rows, record
from tests.conformance.known import KNOWN_DISAGREEMENTS

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


@pytest.fixture(scope="module")
def corpus(oracle: Oracle) -> list[Compared]:
    results = [compare(row["path"], (CORPUS / row["path"]).read_bytes(), oracle)
               for row in corpus_rows()]
    record("corpus", results)
    return results


def test_every_covered_rule_fires_exactly_when_the_oracle_does(corpus: list[Compared]) -> None:
    assert rule_disagreements(corpus) == {}


def test_documents_disagree_only_where_known_and_explained(corpus: list[Compared]) -> None:
    differing = {r.name for r in corpus if not r.agrees}
    assert differing - set(KNOWN_DISAGREEMENTS) == set(), "new disagreements"
    assert set(KNOWN_DISAGREEMENTS) - differing == set(), "now agree: drop from known.py"


def test_every_disagreement_is_a_rule_beyond_the_artefacts(corpus: list[Compared]) -> None:
    """Where the verdicts differ, ingest refuses for a check the contract or the invoice's CIUS
    requires and no artefact has; on the artefacts' own rules the verdicts are the same."""
    assert [r.name for r in corpus if not r.agrees_on_artefacts] == []
    assert {r.name for r in corpus if r.stricter_beyond_artefacts} == set(KNOWN_DISAGREEMENTS)


def test_the_oracle_refuses_what_it_must(corpus: list[Compared]) -> None:
    # A guard on the harness itself: a broken oracle (no stylesheet run) would agree with all.
    by_name = {r.name: r for r in corpus}
    totals = by_name["invalid/zfc-fail__not_validating_full_invoice_based_onTest_EeISI_300_"
                     "CENfullmodel.ubl.xml"]
    assert {"BR-CO-10", "BR-CO-15"} <= totals.official.rules
    assert by_name["cii/cen__CII_example1.xml"].official.valid

"""Generated invoices (valid by construction: VAT mixes, allowances and charges, French and
foreign sellers, CII and UBL), judged both ways."""

from __future__ import annotations

import pytest

from services.ingest.domain.official import Oracle
from tests.conformance.agreement import Compared, rule_disagreements
from tests.conformance.conftest import CORPUS, compare, corpus_rows, record
from tests.conformance.generated import SCENARIOS, generated

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


@pytest.fixture(scope="module")
def judged(oracle: Oracle) -> list[Compared]:
    results = [compare(g.label, g.body, oracle) for g in generated(CORPUS)]
    record("generated invoices", results)
    return results


def test_every_scenario_is_generated_in_cii_and_ubl(judged: list[Compared]) -> None:
    for syntax in ("cii/", "ubl/"):
        made = {r.name.split("::")[1] for r in judged if syntax in r.name}
        assert made == {s.name for s in SCENARIOS}, syntax


def test_generated_invoices_are_valid_for_the_oracle(judged: list[Compared]) -> None:
    refused = {r.name: sorted(r.official.rules) for r in judged if not r.official.valid}
    assert refused == {}


def test_ingest_gives_the_same_verdict_on_every_generated_invoice(
        judged: list[Compared]) -> None:
    assert {r.name: sorted(r.ingest.rules) for r in judged if not r.agrees} == {}
    assert rule_disagreements(judged) == {}

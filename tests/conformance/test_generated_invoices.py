"""Generated invoices (valid by construction: VAT mixes, allowances and charges, French and
foreign sellers, CII and UBL), judged both ways."""

from __future__ import annotations

import pytest

from services.ingest.domain.official import Oracle
from tests.conformance.agreement import Compared, rule_disagreements
from tests.conformance.conftest import CORPUS, compare, corpus_rows, record
from tests.conformance.generated import FRENCH_BASES, SCENARIOS, generated
from tests.conformance.mutants import mutate

# Broken versions of the generated invoices with document level allowances and charges and
# several rates (the corpus bases have few): the VAT category rules on allowances and
# charges (BR-S-03/04 …), the breakdown and the totals.
_BROKEN_SCENARIOS = frozenset({"S-charge-allowance", "L-M", "M-L"})
_ON_GENERATED = frozenset({"vat-id-dropped", "breakdown-tax", "breakdown-basis", "tax-basis",
                           "line-category-dropped", "breakdown-category-Z",
                           "breakdown-category-E", "no-breakdown"})

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


@pytest.fixture(scope="module")
def judged(oracle: Oracle) -> list[Compared]:
    results = [compare(g.label, g.body, oracle) for g in generated(CORPUS)]
    record("generated invoices", results)
    return results


@pytest.fixture(scope="module")
def broken(oracle: Oracle) -> list[Compared]:
    results = [compare(f"{m.label}@{g.scenario}", m.body, oracle)
               for g in generated(CORPUS) if g.scenario in _BROKEN_SCENARIOS
               for m in mutate(g.base, g.body, _ON_GENERATED)]
    record("mutants of generated invoices", results)
    return results


def test_every_scenario_is_generated_in_cii_and_ubl(judged: list[Compared]) -> None:
    for syntax in ("cii/", "ubl/"):
        made = {r.name.split("::")[1] for r in judged if syntax in r.name}
        assert made == {s.name for s in SCENARIOS}, syntax
        foreign = {r.name.split("::")[1] for r in judged
                   if syntax in r.name and r.name.split("::")[0] not in FRENCH_BASES}
        assert foreign == {s.name for s in SCENARIOS}, syntax


def test_generated_invoices_are_valid_for_the_oracle(judged: list[Compared]) -> None:
    refused = {r.name: sorted(r.official.rules) for r in judged if not r.official.valid}
    assert refused == {}


def test_ingest_gives_the_same_verdict_on_every_generated_invoice(
        judged: list[Compared]) -> None:
    assert {r.name: sorted(r.ingest.rules) for r in judged if not r.agrees} == {}
    assert rule_disagreements(judged) == {}


def test_mutants_of_generated_invoices_agree_rule_by_rule(broken: list[Compared]) -> None:
    fired = {rule for r in broken for rule in r.official.rules}
    assert {"BR-S-02", "BR-S-03", "BR-S-04", "BR-CO-17", "BR-CO-04", "BR-AF-08",
            "BR-AG-08"} <= fired
    assert {r.name: sorted(r.ingest.rules) for r in broken if not r.agrees} == {}
    assert rule_disagreements(broken) == {}

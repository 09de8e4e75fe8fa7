"""Mutants of valid invoices, one rule family broken at a time, judged both ways."""

from __future__ import annotations

from collections import Counter

import pytest

from services.ingest.domain.official import Oracle
from tests.conformance.agreement import Compared, rule_disagreements
from tests.conformance.conftest import CORPUS, compare, corpus_rows, record
from tests.conformance.known import KNOWN_MUTANT_DISAGREEMENTS, KNOWN_MUTANT_RULES
from tests.conformance.mutants import BASES, EXTRA_BASES, MUTATIONS, base_xml, mutants

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


@pytest.fixture(scope="module")
def judged(oracle: Oracle) -> list[Compared]:
    results = [compare(m.label, m.body, oracle) for m in mutants(CORPUS)]
    record("mutants", results)
    return results


def test_every_base_is_valid_both_ways(oracle: Oracle) -> None:
    for label, path, fix in [(p, p, f) for p, f in BASES] + [e[:3] for e in EXTRA_BASES]:
        result = compare(label, base_xml(CORPUS, path, fix), oracle)
        assert result.ingest.valid, (label, sorted(result.ingest.rules))
        assert result.official.valid, (label, sorted(result.official.rules))


def test_every_family_is_exercised_and_refused_by_the_oracle(judged: list[Compared]) -> None:
    family = {name: fam for fam, name, *_ in MUTATIONS}
    refused = Counter(family[r.name.split("::")[1]] for r in judged if not r.official.valid)
    assert set(refused) == {fam for fam, *_ in MUTATIONS}


def test_covered_rules_fire_exactly_when_the_oracle_does(judged: list[Compared]) -> None:
    assert rule_disagreements(judged) == KNOWN_MUTANT_RULES


def test_mutant_verdicts_differ_only_where_known(judged: list[Compared]) -> None:
    differing = {r.name for r in judged if not r.agrees}
    assert differing == set(KNOWN_MUTANT_DISAGREEMENTS)

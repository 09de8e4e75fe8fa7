"""Mutants of valid invoices, one rule family broken at a time, judged both ways."""

from __future__ import annotations

from collections import Counter

import pytest

from services.ingest.domain.official import Oracle
from tests.conformance.agreement import Compared, rule_disagreements
from tests.conformance.conftest import CORPUS, compare, corpus_rows, record
from tests.conformance.known import (
    KNOWN_MUTANT_DISAGREEMENTS,
    KNOWN_MUTANT_RULES,
    KNOWN_TARGETED_RULES,
)
from tests.conformance.mutants import BASES, EXTRA_BASES, MUTATIONS, base_xml, mutants
from tests.conformance.mutants_extended import CTC_CII, REGRESSIONS, SCAFFOLDS
from tests.conformance.mutants_extended import TARGETS as EXTENDED_TARGETS
from tests.conformance.mutants_fr import TARGETS as FR_TARGETS
from tests.conformance.mutants_targeted import Target, apply_target, targeted
from tests.conformance.mutants_ubl import TARGETS as UBL_TARGETS

TARGETS: tuple[Target, ...] = FR_TARGETS + UBL_TARGETS + EXTENDED_TARGETS + REGRESSIONS

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


@pytest.fixture(scope="module")
def judged(oracle: Oracle) -> list[Compared]:
    results = [compare(m.label, m.body, oracle) for m in mutants(CORPUS)]
    record("mutants", results)
    return results


@pytest.fixture(scope="module")
def aimed(oracle: Oracle) -> list[tuple[Target, Compared]]:
    results = [(t, compare(m.label, m.body, oracle)) for t, m in targeted(CORPUS, TARGETS)]
    record("targeted mutants", [r for _, r in results])
    return results


def test_every_base_is_valid_both_ways(oracle: Oracle) -> None:
    for label, path, fix in [(p, p, f) for p, f in BASES] + [e[:3] for e in EXTRA_BASES]:
        result = compare(label, base_xml(CORPUS, path, fix), oracle)
        assert result.ingest.valid, (label, sorted(result.ingest.rules))
        assert result.official.valid, (label, sorted(result.official.rules))


def test_extended_scaffolds_are_valid_both_ways(oracle: Oracle) -> None:
    path, fix = next((p, f) for label, p, f, _ in EXTRA_BASES if label == CTC_CII)
    for name, edits in SCAFFOLDS:
        body = apply_target(Target("scaffold", name, frozenset(), (CTC_CII,), edits), CTC_CII,
                            base_xml(CORPUS, path, fix)).body
        result = compare(name, body, oracle)
        assert result.ingest.valid, (name, sorted(result.ingest.rules))
        assert result.official.valid, (name, sorted(result.official.rules))


def test_every_family_is_exercised_and_refused_by_the_oracle(judged: list[Compared]) -> None:
    family = {name: fam for fam, name, *_ in MUTATIONS}
    refused = Counter(family[r.name.split("::")[1]] for r in judged if not r.official.valid)
    assert set(refused) == {fam for fam, *_ in MUTATIONS}


def test_covered_rules_fire_exactly_when_the_oracle_does(judged: list[Compared]) -> None:
    assert rule_disagreements(judged) == KNOWN_MUTANT_RULES


def test_mutant_verdicts_differ_only_where_known(judged: list[Compared]) -> None:
    differing = {r.name for r in judged if not r.agrees}
    assert differing == set(KNOWN_MUTANT_DISAGREEMENTS)
    # Each is ingest refusing an impossible date the artefacts let through (contract section 2).
    assert {r.name for r in judged if r.stricter_beyond_artefacts} == differing


def test_each_targeted_mutant_makes_the_oracle_report_its_rules(
        aimed: list[tuple[Target, Compared]]) -> None:
    missed = {r.name: sorted(t.rules - r.official.rules) for t, r in aimed
              if not t.rules <= r.official.rules}
    assert missed == {}
    assert {t.name for t, _ in aimed} == {t.name for t in TARGETS}


def test_targeted_mutants_agree_rule_by_rule(aimed: list[tuple[Target, Compared]]) -> None:
    results = [r for _, r in aimed]
    assert rule_disagreements(results) == KNOWN_TARGETED_RULES
    assert {r.name for r in results if not r.agrees} == set()

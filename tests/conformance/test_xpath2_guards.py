"""The XPath 2.0 tier's guards never skip a failing assertion: wherever a guard (the XPath 1.0
condition that lets the engine skip elementpath) holds, elementpath's own evaluation of the
official test holds too — over the corpus, the mutants and the generated invoices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.ingest.domain import sch_engine, sch_xpath2
from services.ingest.domain.analysis import analyse
from tests.conformance.conftest import CORPUS, corpus_rows
from tests.conformance.generated import generated
from tests.conformance.mutants import mutants

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]


def _bodies() -> Iterator[bytes]:
    for path in sorted(CORPUS.glob("*/*")):
        if path.suffix.lower() in (".xml", ".pdf"):
            yield path.read_bytes()
    yield from (m.body for m in mutants(CORPUS))
    yield from (g.body for g in generated(CORPUS))


def test_a_holding_guard_means_the_assertion_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sch_engine._guarded
    checked: list[int] = [0]
    wrong: list[tuple[str, str]] = []

    def verified(rule: Any, node: Any, doc: Any) -> bool:
        held = real(rule, node, doc)
        if held:
            checked[0] += 1
            tree = sch_xpath2.tree_of(object(), doc.root)
            wrong.extend((h.rule, h.location) for h in sch_engine._judge2(rule, doc, tree, node))
        return held

    monkeypatch.setattr(sch_engine, "_guarded", verified)
    for body in _bodies():
        analyse(body, None, sandbox=False, max_bytes=10 * 1024 * 1024)
    assert checked[0] > 1000  # the guards are exercised, not vacuous
    assert wrong == []

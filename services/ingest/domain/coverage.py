"""Which official rules ingest implements by hand (:mod:`rules`, :mod:`vat`).

Every other fatal rule of the official sets runs from the generated stylesheets
(:mod:`sch_build`), so this list is what keeps the two from reporting one rule twice.
"""

from __future__ import annotations

_CATEGORIES = ("BR-S", "BR-Z", "BR-E", "BR-AE", "BR-IC", "BR-G", "BR-O")

HAND_WRITTEN: frozenset[str] = frozenset(
    [f"BR-{n:02d}" for n in range(2, 17)]
    + [f"BR-CO-{n}" for n in (10, 11, 12, 13, 14, 15, 16, 18, 26)]
    + [f"BR-DEC-{n:02d}" for n in (9, 10, 11, 12, 13, 14, 16, 18, 23)]
    + [f"{p}-{n:02d}" for p in _CATEGORIES for n in (1, 2, 5, 8, 9, 10)]
    + ["BR-IC-11", "BR-IC-12"]
    + [f"BR-FXEXT-CO-{n}" for n in (10, 11, 12, 13, 15, 16)]
)

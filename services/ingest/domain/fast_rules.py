"""The official rules ingest runs itself: the generated tables of the applicable sets.

:func:`profile_reasons` judges a document by the fatal rules of its profile's official set
(CEN EN 16931 for UBL, the Factur-X profile's set for CII) that ingest does not implement by
hand; :func:`br_fr_findings` by the XP Z12-012 French set (the caller decides whether those
are errors or warnings). Each finding becomes a :class:`Reason` named by the rule id, with the
official message (French for BR-FR) and the location XPath. Pure.
"""

from __future__ import annotations

from lxml import etree

from services.ingest.domain import sch_engine
from services.ingest.domain.official import applicable_sets
from services.ingest.domain.reasons import Reason
from services.ingest.domain.syntax import Detected

# An EN 16931 CIUS in CII declares no Factur-X profile: only the CEN rules bind it.
_CIUS = frozenset({"XRECHNUNG", "PEPPOL"})
MAX_FINDINGS = 50


def _reasons(hits: list[sch_engine.Hit]) -> list[Reason]:
    found = [Reason(code=h.rule, message=h.message, path=h.location) for h in hits]
    return list(dict.fromkeys(found))[:MAX_FINDINGS]


def profile_reasons(root: etree._Element, detected: Detected,
                    indexed: sch_engine.Indexed | None = None) -> list[Reason]:
    """Findings of the profile's official set (hand-written rules excluded)."""
    name = applicable_sets(detected.syntax, detected.profile, False)[0]
    hits = sch_engine.run(name, root, indexed)
    if detected.profile in _CIUS and detected.syntax == "CII":
        hits = [h for h in hits if not h.rule.startswith("FX-")]
    return _reasons(hits)


def br_fr_findings(root: etree._Element, detected: Detected,
                   indexed: sch_engine.Indexed | None = None) -> list[Reason]:
    """Findings of the French set (BR-FR) that the generated tables can run."""
    name = "BR-FR-UBL" if detected.syntax == "UBL" else "BR-FR-CII"
    return _reasons(sch_engine.run(name, root, indexed))

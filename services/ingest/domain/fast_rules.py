"""The official rules ingest runs itself: the generated tables of the applicable sets.

:func:`profile_reasons` judges a document by the fatal rules of its profile's official set
(CEN EN 16931 for UBL, the Factur-X profile's set for CII). Where a rule runs from the tables,
its hand-written twin (:mod:`rules`, :mod:`vat`) is dropped, so the official semantics win;
the hand-written ones stay where the official XPath is 2.0-only. The EN 16931 rules ingest
has always enforced (:data:`coverage.HAND_WRITTEN`) stay errors for every tenant; the other
official rules are *strict*: they reject a non-sandbox transmission only (see admission).
:func:`br_fr_findings` runs the XP Z12-012 French set. Each finding is a :class:`Reason`
named by the rule id, with the official message (French for BR-FR) and the location. Pure.
"""

from __future__ import annotations

import re
from functools import cache

from lxml import etree

from services.ingest.domain import sch_engine, sch_rules
from services.ingest.domain.coverage import HAND_WRITTEN
from services.ingest.domain.official import applicable_sets
from services.ingest.domain.reasons import Reason
from services.ingest.domain.syntax import Detected

# An EN 16931 CIUS in CII declares no Factur-X profile: only the CEN rules bind it.
_CIUS = frozenset({"XRECHNUNG", "PEPPOL"})
MAX_FINDINGS = 50


def _reasons(hits: list[sch_engine.Hit]) -> list[Reason]:
    found = list(dict.fromkeys(Reason(code=h.rule, message=h.message, path=h.location)
                               for h in hits))
    # The first finding of each rule first, so the cap never hides a rule that fired
    # (whatever order the engine found them in).
    firsts: dict[str, Reason] = {}
    for r in found:
        firsts.setdefault(r.code, r)
    head = list(firsts.values())
    chosen = set(head)
    return (head + [r for r in found if r not in chosen])[:MAX_FINDINGS]


@cache
def generated(name: str) -> frozenset[str]:
    """The rule ids the tables of set ``name`` run."""
    return frozenset(rule for template in sch_rules.RULES[name]
                     for rule, *_ in (*template[4], *(template[5][1] if template[5] else ())))


# A Factur-X EXTENDED or EXTENDED-CTC-FR rule standing for an EN 16931 one: the totals
# (BR-FREXT-CO-10 for BR-CO-10) and the VAT categories (BR-FXEXT-S-08b, BR-FREXT-S-08ini,
# BR-FREXT-Z-01 for BR-S-08, BR-Z-01), with a suffix naming the variant (and EXTENDED's
# BR-FXEXT-S08b, spelt without its hyphen).
_TWIN = re.compile(r"^BR-F[XR]EXT-(CO|S|Z|E|AE|IC|G|O|L|M|B|AF|AG)-?(\d+)[a-z]*$")


def cen_twin(rule: str) -> str | None:
    """The EN 16931 rule id an EXTENDED rule stands for (``None``: not such a rule)."""
    match = _TWIN.match(rule)
    return f"BR-{match.group(1)}-{match.group(2)}" if match else None


@cache
def replaced_in(name: str) -> frozenset[str]:
    """EN 16931 rule ids that set ``name`` replaces by its own (EXTENDED-CTC-FR's
    ``BR-FREXT-CO-10`` for ``BR-CO-10``, with a tolerance per line; EXTENDED's
    ``BR-FXEXT-S-08b`` for ``BR-S-08``): their hand-written twins stay silent on its
    documents, as the official set does. The plain EXTENDED totals (BR-FXEXT-CO-*) are
    hand-written under their own ids and not counted here."""
    every = generated(name) | {rule for rule, _ in sch_rules.SKIPPED.get(name, ())}
    return frozenset(twin for rule in every
                     if (twin := cen_twin(rule)) and not rule.startswith("BR-FXEXT-CO-")
                     ) - every


def profile_reasons(root: etree._Element, detected: Detected, handwritten: list[Reason],
                    indexed: sch_engine.Indexed | None = None,
                    ) -> tuple[list[Reason], list[Reason]]:
    """``(errors, strict)``: the profile's official set merged with the hand-written rules."""
    name = applicable_sets(detected.syntax, detected.profile, False)[0]
    hits = sch_engine.run(name, root, indexed)
    if detected.profile in _CIUS and detected.syntax == "CII":
        hits = [h for h in hits if not h.rule.startswith("FX-")]
    found = _reasons(hits)
    ids, fired = generated(name), {r.code for r in found}
    errors: list[Reason] = []
    replaced = replaced_in(name)
    for r in handwritten:
        if r.code in replaced:
            continue
        if r.code not in ids:
            errors.append(r)
        elif r.code == "BR-03" and "BR-03" not in fired:
            # The official CII rules check the date's presence, not the calendar; ingest
            # needs a real date to archive the invoice, so an impossible one is refused.
            errors.append(r.model_copy(update={"code": "issue-date-invalid"}))
    # A set's own replacement of an EN 16931 rule (BR-FREXT-CO-10, BR-FXEXT-S-08b …) binds as
    # that rule did.
    binding = [r for r in found if r.code in HAND_WRITTEN or cen_twin(r.code) in replaced]
    errors += binding
    return errors, [r for r in found if r not in binding]


def br_fr_findings(root: etree._Element, detected: Detected,
                   indexed: sch_engine.Indexed | None = None) -> list[Reason]:
    """Findings of the French set (BR-FR) that the generated tables can run."""
    name = "BR-FR-UBL" if detected.syntax == "UBL" else "BR-FR-CII"
    return _reasons(sch_engine.run(name, root, indexed))

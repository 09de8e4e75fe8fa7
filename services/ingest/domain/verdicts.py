"""Ingest's verdict and the official one on the same document, rule by rule.

:func:`ingest_verdict` is what ingest decides for a non-sandbox tenant submitting with
``transmit=true`` (the strictest context: BR-FR findings are errors, a plain PDF is refused);
:func:`official_verdict` is what the official artefacts decide (the XSD of the profile, then the
schematron sets of :func:`official.applicable_sets`). Both reduce to a set of rule ids, so a
document agrees when the verdicts match and a rule agrees when it fires on both sides or on
neither. Pure except for the oracle it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.ingest.domain.analysis import Analysis, analyse
from services.ingest.domain.french import is_french_seller
from services.ingest.domain.official import Finding, Oracle, applicable_sets
from services.ingest.domain.reasons import Reason
from services.ingest.domain.schema import schema_reasons
from services.ingest.domain.syntax import detect
from services.ingest.domain.xmlsafe import parse_xml

MAX_BYTES = 10 * 1024 * 1024
NOT_EN16931_CIUS = frozenset({"XRECHNUNG", "PEPPOL"})
# Found by ingest but decided by the contract, not by the artefacts (section 2).
POLICY_CODES = frozenset({"profile-not-admitted", "tenant-mismatch"})


@dataclass(frozen=True)
class Verdict:
    """One side's decision: valid or not, the rule ids that fired and the full findings."""

    valid: bool
    rules: frozenset[str]
    reasons: tuple[Reason, ...] = ()
    findings: tuple[Finding, ...] = ()
    sets: tuple[str, ...] = ()
    warnings: frozenset[str] = field(default_factory=frozenset)


def strict_analysis(body: bytes) -> Analysis:
    """The analysis ingest makes for a non-sandbox tenant."""
    return analyse(body, None, sandbox=False, max_bytes=MAX_BYTES)


def ingest_verdict(analysis: Analysis) -> Verdict:
    """Ingest's decision for a non-sandbox tenant with ``transmit=true``."""
    errors = [e for e in analysis.errors if e.code not in POLICY_CODES]
    errors += list(analysis.strict)
    if analysis.kind == "pdf":
        errors.append(Reason(code="no-invoice-xml",
                             message="A plain PDF carries no invoice data to transmit."))
    return Verdict(valid=not errors, rules=frozenset(e.code for e in errors),
                   reasons=tuple(errors),
                   warnings=frozenset(w.code for w in analysis.warnings))


def _keep(finding: Finding, profile: str) -> bool:
    # An EN 16931 CIUS (XRechnung, Peppol) in CII declares no Factur-X profile: only the CEN
    # rules of the Factur-X EN16931 set bind it, not the Factur-X structural restrictions.
    if profile in NOT_EN16931_CIUS and finding.set == "FX-EN16931":
        return not finding.rule.startswith("FX-")
    return True


def official_verdict(analysis: Analysis, oracle: Oracle) -> Verdict:
    """The official artefacts' decision on the invoice XML that ``analysis`` found."""
    if analysis.xml is None:
        return Verdict(valid=False, rules=frozenset({"no-invoice-xml"}))
    root, problem = parse_xml(analysis.xml)
    detected = detect(root)[0] if root is not None else None
    if root is None or detected is None:
        code = problem.code if problem else "not-an-invoice"
        return Verdict(valid=False, rules=frozenset({code}))
    french = bool(analysis.invoice and is_french_seller(analysis.invoice))
    sets = applicable_sets(detected.syntax, detected.profile, french)
    schema = schema_reasons(root, detected)
    findings = tuple(f for f in oracle.check(root, sets) if _keep(f, detected.profile))
    fatal = {f.rule for f in findings if f.fatal}
    if schema:
        fatal.add("schema")
    return Verdict(valid=not fatal, rules=frozenset(fatal), reasons=tuple(schema),
                   findings=findings, sets=sets,
                   warnings=frozenset(f.rule for f in findings if not f.fatal))

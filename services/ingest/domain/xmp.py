"""Factur-X XMP metadata checks: the packet parses and names a known conformance level."""

from __future__ import annotations

from services.ingest.domain.reasons import Reason, reason
from services.ingest.domain.xmlsafe import parse_xml

_LEVELS = frozenset(
    {"MINIMUM", "BASIC WL", "BASIC", "EN 16931", "EN16931", "EXTENDED", "XRECHNUNG",
     "EXTENDED-CTC-FR"}
)


def xmp_reasons(xmp: bytes | None) -> list[Reason]:
    """Errors found in the PDF's XMP packet (none when the PDF has no XMP at all)."""
    if xmp is None:
        return []
    root, problem = parse_xml(xmp)
    if root is None:
        detail = problem.message if problem else "it is empty"
        return [reason("pdf-xmp-invalid", f"The PDF's XMP metadata cannot be parsed: {detail}")]
    levels: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.endswith("}ConformanceLevel") and element.text:
            levels.append(element.text.strip())
        levels += [v.strip() for k, v in element.attrib.items() if k.endswith("}ConformanceLevel")]
    return [
        reason("pdf-xmp-conformance",
               f"The PDF's XMP ConformanceLevel {level!r} is not a Factur-X profile.")
        for level in levels
        if level.upper() not in _LEVELS
    ]

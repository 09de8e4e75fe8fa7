"""Parse and validate untrusted CDAR bytes against the D22B schema (compiled once).

Hardened lxml: no DTD, no entity expansion, no network, no huge trees; the schema is read
from ``services/transmit/cdar_xsd`` (a copy of the official files) the first time it is
needed and shared by every caller of the process. Every failure is :class:`CdarInvalid`
with a machine-readable ``code`` and a one-line reason: the caller logs it and moves on.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

from lxml import etree

from services.transmit.domain.cdar import CdarError, ReadStatus, read_cdar

XSD_DIR: Final = Path(__file__).resolve().parent.parent / "cdar_xsd"
XSD_MAIN: Final = XSD_DIR / "CrossDomainAcknowledgementAndResponse_100pD22B.xsd"
MAX_CDAR_BYTES: Final = 1024 * 1024

_lock = threading.Lock()
_schema: etree.XMLSchema | None = None


class CdarInvalid(ValueError):
    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_pis=True)


def schema() -> etree.XMLSchema:
    """The compiled CDAR D22B schema (compiled on first use, then shared)."""
    global _schema
    with _lock:
        if _schema is None:
            # The schema files are ours (a copy of the official ones): imports resolve locally.
            doc = etree.parse(str(XSD_MAIN), etree.XMLParser(no_network=True))
            _schema = etree.XMLSchema(doc)
        return _schema


def parse_valid(data: bytes) -> etree._Element:
    """The root of ``data`` once it passes the schema; raises :class:`CdarInvalid`."""
    if len(data) > MAX_CDAR_BYTES:
        raise CdarInvalid(f"CDAR larger than {MAX_CDAR_BYTES} bytes", code="cdar-too-large")
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise CdarInvalid("CDAR carries a DTD", code="cdar-dtd")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CdarInvalid(f"not well-formed XML: {exc}", code="cdar-syntax") from exc
    compiled = schema()
    with _lock:  # an XMLSchema object is not safe to share between threads at once
        valid = compiled.validate(root)
        errors = compiled.error_log
        first = errors[0] if valid is False and len(errors) else None
    if not valid:
        detail = f"line {first.line}: {first.message}" if first is not None else "invalid"
        raise CdarInvalid(f"CDAR fails the D22B schema: {detail}", code="cdar-schema")
    return root


def read_statuses(data: bytes) -> list[ReadStatus]:
    """Parse, validate and read a CDAR; raises :class:`CdarInvalid` for any fault."""
    root = parse_valid(data)
    try:
        return read_cdar(root)
    except CdarError as exc:
        raise CdarInvalid(str(exc), code=exc.code) from exc

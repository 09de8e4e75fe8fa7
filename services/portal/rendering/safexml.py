"""Hardened XML parsing for the renderer: no DTD, no entities, no network, bounded shape.

The same settings as ingest's parser (``services/ingest/domain/xmlsafe.py``), copied because a
service never imports another. The XML read here was already accepted by ingest, but it is
read again from the archive, so it gets the same distrust.
"""

from __future__ import annotations

import re

from lxml import etree

from shared.errors import PermanentError

MAX_DEPTH = 64
MAX_ELEMENTS = 200_000
_DECL = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_COUNT = etree.XPath("count(//node())")
_TOO_DEEP = etree.XPath("boolean(" + "/*" * (MAX_DEPTH + 1) + ")")


class UnreadableXmlError(PermanentError):
    code = "xml-unreadable"


def _ascii_view(body: bytes) -> bytes:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        for codec in ("utf-16", "utf-32"):
            try:
                return body.decode(codec).encode("utf-8", "replace")
            except UnicodeError:
                continue
        return body.replace(b"\x00", b"")
    return body


def parse(body: bytes) -> etree._Element:
    """The root element; raises :class:`UnreadableXmlError` for anything unsafe or malformed."""
    if _DECL.search(_ascii_view(body)):
        raise UnreadableXmlError("the XML declares a DOCTYPE or an entity")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError, TypeError) as exc:
        raise UnreadableXmlError(f"the XML is not well-formed: {exc}") from None
    if root is None:
        raise UnreadableXmlError("the XML has no root element")
    if float(_COUNT(root)) > MAX_ELEMENTS or _TOO_DEEP(root):
        raise UnreadableXmlError("the XML is too large or too deep")
    return root

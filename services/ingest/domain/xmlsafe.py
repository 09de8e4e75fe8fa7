"""Hardened XML parsing: no DTD, no entities, no network, bounded size, depth and element count.

Every failure is a :class:`Reason`, never an exception, so callers can turn it into a rejection.
"""

from __future__ import annotations

import re
from functools import cache

from lxml import etree

from services.ingest.domain.reasons import Reason, reason

MAX_DEPTH = 64
MAX_ELEMENTS = 200_000

# "<!DOCTYPE" or "<!ENTITY", any case, in one pass: the literal "<!" lets the regex engine
# skip ahead (an IGNORECASE pattern is matched character by character, twice).
_FORBIDDEN = re.compile(rb"<!(?:[Dd][Oo][Cc][Tt][Yy][Pp][Ee]|[Ee][Nn][Tt][Ii][Tt][Yy])")


def _ascii_view(body: bytes) -> bytes:
    """Bytes in which a DOCTYPE can be searched whatever the (UTF-16/32) encoding."""
    head = body[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        for codec in ("utf-16", "utf-32"):
            try:
                return body.decode(codec).encode("utf-8", "replace")
            except (UnicodeDecodeError, UnicodeError):
                continue
        return body.replace(b"\x00", b"")
    return body


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers keep state and are not meant to be shared
    # between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


@cache
def _deeper_than(depth: int) -> etree.XPath:
    # An element exists at depth + 1 iff this path matches; evaluated in C, compiled once.
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")", regexp=False)


_COUNT = etree.XPath("count(//node())", regexp=False)


def _shape_reason(root: etree._Element, max_depth: int, max_elements: int,
                  size: int) -> Reason | None:
    # Every node (element, text, comment, PI) takes at least one byte of the body (no
    # entities): a body of at most max_elements bytes cannot have more nodes.
    if size > max_elements and float(_COUNT(root)) > max_elements:
        return reason(
            "xml-too-many-elements", f"The XML document has more than {max_elements} nodes."
        )
    if _deeper_than(max_depth)(root):
        return reason(
            "xml-too-deep", f"The XML document is nested deeper than {max_depth} levels."
        )
    return None


def parse_xml(
    body: bytes, *, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS
) -> tuple[etree._Element | None, Reason | None]:
    """Parse ``body`` safely; return ``(root, None)`` or ``(None, reason)``.

    A document that declares a DOCTYPE (or an entity) is refused before any parsing: invoices
    never need one, and it is how entity bombs and XXE arrive.
    """
    if not body.strip():
        return None, reason("empty-body", "The XML document is empty.")
    view = _ascii_view(body)
    if _FORBIDDEN.search(view):
        return None, reason(
            "xml-forbidden-dtd",
            "The XML document contains a DOCTYPE or entity declaration, which is not allowed.",
        )
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        return None, reason("xml-malformed", f"The XML document is not well-formed: {exc}.")
    except (ValueError, TypeError, MemoryError) as exc:
        return None, reason("xml-malformed", f"The XML document cannot be parsed: {exc}.")
    if root is None:
        return None, reason("xml-malformed", "The XML document has no root element.")
    shape = _shape_reason(root, max_depth, max_elements, len(body))
    if shape is not None:
        return None, shape
    return root, None

"""Bounded reading of a PDF: its embedded XML files and its XMP metadata packet.

pypdf runs under a tightened :func:`pypdf.apply_configuration` (decompression output, decoding
work, array/dictionary sizes), every embedded file is capped, and every exception pypdf raises on
hostile input is turned into a :class:`Reason`. What this module cannot give is a hard wall-clock
bound: a caller that needs one runs :func:`analyse` in a worker process with a timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pypdf import PdfReader
from pypdf._configuration import apply_configuration

from services.ingest.domain.reasons import Reason, reason

MAX_EMBEDDED_BYTES = 8 * 1024 * 1024
MAX_XML_ATTACHMENTS = 16
# Actions that run code or pull data when the document is opened or clicked. PDF/A-3 (which
# Factur-X requires) forbids them; an archive refuses them in any PDF it keeps.
ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/Rendition", "/Movie", "/Sound"})
MAX_PAGES_SCANNED = 2_000
_LIMITS: dict[str, Any] = {
    "maximum_declared_stream_length": 32 * 1024 * 1024,
    "array_based_stream_maximum_output_length": MAX_EMBEDDED_BYTES,
    "array_maximum_element_count": 50_000,
    "dictionary_maximum_element_count": 50_000,
    "zlib_maximum_output_length": MAX_EMBEDDED_BYTES,
    "lzw_maximum_output_length": MAX_EMBEDDED_BYTES,
    "run_length_maximum_output_length": MAX_EMBEDDED_BYTES,
    "jbig2_maximum_output_length": MAX_EMBEDDED_BYTES,
    "brotli_maximum_output_length": MAX_EMBEDDED_BYTES,
    "stream_decoding_work_maximum_length": 64 * 1024 * 1024,
    "stream_parsing_work_maximum_count": 500_000,
    "xmp_maximum_input_length": 1024 * 1024,
}

# pypdf logs every repair it makes on a damaged file; the reasons we return say enough.
logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class PdfContent:
    """What the broker needs from a PDF: ``(name, bytes)`` of each embedded XML, and the XMP."""

    xml_files: tuple[tuple[str, bytes], ...] = ()
    xmp: bytes | None = None
    problems: tuple[Reason, ...] = field(default=())


def is_pdf(body: bytes) -> bool:
    """True when the body starts (after at most 1 KiB of junk, as readers allow) like a PDF."""
    return b"%PDF-" in body[:1024]


def _embedded_xml(reader: PdfReader) -> tuple[list[tuple[str, bytes]], list[Reason]]:
    found: list[tuple[str, bytes]] = []
    problems: list[Reason] = []
    for attachment in reader.attachment_list:
        name = str(attachment.name or "")
        if not name.lower().endswith(".xml"):
            continue
        if len(found) >= MAX_XML_ATTACHMENTS:
            problems.append(reason("pdf-malformed", "The PDF carries too many XML attachments."))
            break
        try:
            content = attachment.content
        except Exception as exc:
            problems.append(
                reason("pdf-malformed", f"The embedded file {name} cannot be read: {exc}.")
            )
            continue
        if len(content) > MAX_EMBEDDED_BYTES:
            problems.append(
                reason("too-large", f"The embedded file {name} exceeds {MAX_EMBEDDED_BYTES} bytes.")
            )
            continue
        found.append((name, bytes(content)))
    return found, problems


def _actions(holder: Any) -> list[Any]:
    """The action dictionaries a PDF dictionary triggers (``/A``, ``/OpenAction``, ``/AA``)."""
    found: list[Any] = []
    for key in ("/A", "/OpenAction"):
        action = holder.get(key)
        if action is not None:
            found.append(action.get_object())
    triggers = holder.get("/AA")
    if triggers is not None:
        found.extend(v.get_object() for v in triggers.get_object().values())
    return found


def _is_active(action: Any, budget: int = 64) -> bool:
    """True when ``action`` or an action chained by its ``/Next`` runs code or imports data."""
    if budget <= 0 or not hasattr(action, "get"):
        return budget <= 0
    if action.get("/S") in ACTIVE_ACTIONS or action.get("/JS") is not None:
        return True
    chained = action.get("/Next")
    if chained is None:
        return False
    chained = chained.get_object()
    items = chained if isinstance(chained, list) else [chained]
    return any(_is_active(item.get_object(), budget - 1 - i) for i, item in enumerate(items))


def _active_content(reader: PdfReader) -> bool:
    """True when the document carries JavaScript or a launch/import/media action."""
    catalog: Any = reader.trailer["/Root"].get_object()
    names = catalog.get("/Names")
    if names is not None and names.get_object().get("/JavaScript") is not None:
        return True
    holders: list[Any] = [catalog]
    for index, page in enumerate(reader.pages):
        if index >= MAX_PAGES_SCANNED:
            break
        holders.append(page)
        holders.extend(a.get_object() for a in page.get("/Annots") or [])
    return any(_is_active(action) for h in holders for action in _actions(h))


def _xmp(reader: PdfReader) -> bytes | None:
    try:
        catalog: Any = reader.trailer["/Root"].get_object()
        metadata: Any = catalog.get("/Metadata")
        if metadata is None:
            return None
        data = metadata.get_object().get_data()
    except Exception:
        return b""
    return bytes(data)[: MAX_EMBEDDED_BYTES]


def read_pdf(body: bytes) -> tuple[PdfContent | None, Reason | None]:
    """Open ``body`` as a PDF; ``(content, None)`` or ``(None, reason)``; never raises.

    A PDF carrying JavaScript or a launch/import/media action is refused (``pdf-active-content``).
    A body without an end-of-file marker in its last KiB is refused as truncated: pypdf would
    otherwise "repair" it and may silently miss the embedded invoice.
    """
    if b"%%EOF" not in body[-1024:]:
        return None, reason("pdf-malformed", "The PDF is truncated: it has no %%EOF marker.")
    try:
        with apply_configuration(**_LIMITS):
            reader = PdfReader(BytesIO(body), strict=False)
            if reader.is_encrypted:
                return None, reason("pdf-encrypted", "The PDF is encrypted; it cannot be read.")
            if _active_content(reader):
                return None, reason("pdf-active-content", "The PDF carries JavaScript or a "
                                    "launch, import or media action; the archive refuses it.")
            files, problems = _embedded_xml(reader)
            xmp = _xmp(reader) if files else None
    except RecursionError:
        return None, reason("pdf-malformed", "The PDF structure is nested too deeply.")
    except Exception as exc:
        text = str(exc).strip() or type(exc).__name__
        return None, reason("pdf-malformed", f"The PDF cannot be read: {text[:200]}.")
    return PdfContent(xml_files=tuple(files), xmp=xmp, problems=tuple(problems)), None

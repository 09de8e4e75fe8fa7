"""Logo uploads: PNG re-encoded (metadata and trailing bytes dropped) or SVG sanitised to a
safe subset (no script, no event handler, no external reference, no style). At most 512 KB.

Raises :class:`LogoError` with a French sentence for anything refused.
"""

from __future__ import annotations

import io
import re

from lxml import etree

MAX_BYTES = 512 * 1024
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_ELEMENTS = {"svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
             "text", "tspan", "defs", "lineargradient", "radialgradient", "stop", "title",
             "desc", "clippath", "use", "symbol"}
_ATTRS = {"viewbox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r",
          "rx", "ry", "d", "points", "fill", "fill-opacity", "fill-rule", "stroke",
          "stroke-width", "stroke-opacity", "stroke-linecap", "stroke-linejoin", "opacity",
          "transform", "id", "offset", "stop-color", "stop-opacity", "gradientunits",
          "gradienttransform", "font-family", "font-size", "font-weight", "text-anchor",
          "clip-path", "clip-rule", "preserveaspectratio", "version", "href",
          "dominant-baseline", "letter-spacing"}
_URL = re.compile(r"url\(\s*(?!#)", re.IGNORECASE)


class LogoError(ValueError):
    """The upload is refused; the message says why."""


def sanitise(data: bytes) -> tuple[bytes, str]:
    """``(bytes to store, media type)``."""
    if len(data) > MAX_BYTES:
        raise LogoError("Le logo dépasse 512 Ko.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data), "image/png"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return _svg(data), "image/svg+xml"
    raise LogoError("Le logo doit être une image PNG ou SVG.")


def _png(data: bytes) -> bytes:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = 4096 * 4096
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "PNG" or img.width > 4096 or img.height > 4096:
                raise LogoError("Le logo PNG doit mesurer au plus 4096 × 4096 pixels.")
            img.load()
            out = io.BytesIO()
            img.save(out, format="PNG", optimize=True)
    except LogoError:
        raise
    except Exception as exc:  # any decoder error: the file is not a usable PNG
        raise LogoError("Ce fichier PNG est illisible.") from exc
    return out.getvalue()


def _svg(data: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, dtd_validation=False,
                             load_dtd=False, huge_tree=False, remove_comments=True,
                             remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise LogoError("Ce fichier SVG est illisible.") from exc
    if root.getroottree().docinfo.internalDTD is not None or _local(root.tag) != "svg":
        raise LogoError("Ce fichier n'est pas un SVG accepté.")
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or _local(el.tag) not in _ELEMENTS or (
                etree.QName(el).namespace not in (None, SVG_NS)):
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
            continue
        for name in list(el.attrib):
            local = _local(name).lower()
            value = el.attrib[name]
            if (local not in _ATTRS or local.startswith("on") or _URL.search(value)
                    or (local == "href" and not value.startswith("#"))):
                del el.attrib[name]
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]

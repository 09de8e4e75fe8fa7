"""XML invoice → readable PDF/A-3 with the original XML embedded (CPU only, no I/O).

* **CII**: WeasyPrint renders the facts as PDF/A-3b, then ``facturx.generate_from_binary``
  embeds the original bytes as ``factur-x.xml`` with the Factur-X XMP extension (its
  conformance level taken from the archived profile): the result is a Factur-X PDF/A-3.
  ``AFRelationship`` is ``Source``: the XML is the legal original the pages were made from.
* **UBL**: Factur-X only admits a CII ``factur-x.xml``, and translating UBL into CII would be
  a second, unsigned interpretation of the invoice. So the UBL is embedded unchanged, as
  ``facture-ubl.xml`` (``AFRelationship`` ``Source``, listed in ``/AF``), in a PDF/A-3b that
  claims no Factur-X conformance. Readers get the same pages and banner; machines get the
  original UBL.

Every page set says it is a rendering (banner and footnote). WeasyPrint fetches nothing: no
base URL and a URL fetcher that refuses every URL, so an invoice cannot make the renderer read a
file or call the network. Raises :class:`UnreadableXmlError` for XML that cannot be read.
"""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, NoReturn

import facturx
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from services.portal.rendering import labels
from services.portal.rendering.cii import cii_facts
from services.portal.rendering.facts import InvoiceFacts
from services.portal.rendering.safexml import UnreadableXmlError, parse
from services.portal.rendering.ubl import ubl_facts

RENDERER_VERSION = 1  # bump when the layout changes: cached renderings are then redone
# A 10 MiB XML can hold tens of thousands of lines; the pages show this many, then say where
# the rest is, so one large invoice cannot occupy the renderer for minutes.
MAX_RENDERED_LINES = 500
UBL_ATTACHMENT = "facture-ubl.xml"
_CII_ROOT = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
_UBL_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote",
}
_FACTURX_LEVELS = {
    "MINIMUM": "minimum", "BASIC WL": "basicwl", "BASIC": "basic", "EN16931": "en16931",
    "EXTENDED": "extended", "EXTENDED-CTC-FR": "extended",
    # CIUS of EN 16931 (XRechnung, Peppol): Factur-X knows them as EN 16931.
    "XRECHNUNG": "en16931", "PEPPOL": "en16931",
}


def facts_of(xml: bytes) -> InvoiceFacts:
    """The invoice's facts, from CII or UBL (safe parse)."""
    root = parse(xml)
    if root.tag == _CII_ROOT:
        return cii_facts(root)
    if root.tag in _UBL_ROOTS:
        return ubl_facts(root)
    raise UnreadableXmlError("the XML is neither a CII nor a UBL invoice")


def fr_num(value: str | None) -> str:
    """``"1234.5"`` → ``"1 234,50"`` (two decimals at least, narrow no-break spaces)."""
    if not value:
        return ""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    exponent = number.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    text = f"{number:,.{places}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def fr_date(value: str | None) -> str:
    if value and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return f"{value[8:]}/{value[5:7]}/{value[:4]}"
    return value or "—"


def _css_string(value: str) -> Markup:
    # Goes inside a CSS string in <style>: HTML escaping does not apply there, CSS escaping does.
    out = "".join(c if c.isalnum() or c in " -_.,:/'°" else f"\\{ord(c):x} " for c in value)
    return Markup(out)  # noqa: S704 - every character outside a safe set is CSS-escaped


@cache
def _env() -> Environment:
    env = Environment(loader=PackageLoader("services.portal.rendering", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(fr_num=fr_num, fr_date=fr_date, unit=labels.unit,
                       vat_category=labels.vat_category)
    return env


def render_html(facts: InvoiceFacts, sha256: str) -> str:
    kind = labels.type_label(facts.type_code)
    footer = f"{facts.seller.name or ''} — {kind} {facts.number or ''} — rendu lisible"
    return _env().get_template("invoice.html.j2").render(
        f=facts, sha256=sha256, kind_label=kind, footer=_css_string(footer),
        lines=facts.lines[:MAX_RENDERED_LINES],
        more_lines=max(0, len(facts.lines) - MAX_RENDERED_LINES),
        syntax_label="UN/CEFACT CII" if facts.syntax == "CII" else "UBL 2.1",
        totals=[
            ("Total des lignes HT", facts.line_total),
            ("Remises", facts.allowances),
            ("Frais", facts.charges),
            ("Total HT", facts.tax_basis),
            ("Total TVA", facts.tax_total),
            ("Total TTC", facts.grand_total),
            ("Déjà payé", facts.prepaid),
            ("Net à payer", facts.payable),
        ],
    )


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"the renderer fetches nothing ({url[:40]!r})")


def render_pdf(xml: bytes, profile: str | None) -> bytes:
    """The readable PDF/A-3 of a CII or UBL invoice (see the module docstring)."""
    import weasyprint  # heavy (pango, harfbuzz): loaded on first rendering, not at import

    facts = facts_of(xml)
    html = render_html(facts, hashlib.sha256(xml).hexdigest())
    document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch)
    title = f"{labels.type_label(facts.type_code)} {facts.number or ''}".strip()
    if facts.syntax == "UBL":
        attachment = weasyprint.Attachment(
            string=xml, name=UBL_ATTACHMENT, relationship="Source",
            description="Facture électronique UBL 2.1 d'origine", url_fetcher=_refuse_fetch)
        pdf = document.write_pdf(pdf_variant="pdf/a-3b", attachments=[attachment])
        return bytes(pdf or b"")
    pdf = bytes(document.write_pdf(pdf_variant="pdf/a-3b") or b"")
    out = facturx.generate_from_binary(
        io.BytesIO(pdf).getvalue(), xml, flavor="factur-x",
        level=_FACTURX_LEVELS.get((profile or "").upper(), "en16931"),
        check_xsd=False, afrelationship="source", lang="fr-FR",
        pdf_metadata={"author": facts.seller.name or "", "keywords": "Factur-X, rendu lisible",
                      "title": title, "subject": f"{title} — rendu lisible du XML d'origine"},
    )
    return bytes(out)

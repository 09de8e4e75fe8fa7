"""Generators of hostile documents (issue 7): XML bombs, external entities, broken and
active PDFs, oversized and malformed bodies. Each returns the bytes an attacker would publish;
none touches the network or the disk beyond reading a corpus template.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import pika
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    StreamObject,
    TextStringObject,
)

from shared.topology import INBOUND, RK_SUBMIT
from tests.support.invoices import cii_invoice
from tests.support.system import CORPUS

FACTURX = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_BASICWL.pdf"
CII_NS = b"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
SELLER_NAME = b"<ram:Name>Atelier du Ballon SARL</ram:Name>"


def billion_laughs(levels: int = 10) -> bytes:
    """Nested entities: ~10**levels ``lol`` once expanded, a few hundred bytes on the wire."""
    entities = [b'<!ENTITY lol0 "lol">']
    entities += [b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, levels)]
    return (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [' + b"".join(entities)
            + b"]>\n<lolz>&lol%d;</lolz>" % (levels - 1))


def quadratic_blowup(entity_bytes: int = 50_000, references: int = 30_000) -> bytes:
    """One large entity referenced many times: no nesting, still gigabytes once expanded."""
    return (b'<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "' + b"a" * entity_bytes
            + b'">]>\n<kaboom>' + b"&a;" * references + b"</kaboom>")


def xxe_file(path: str = "/etc/passwd") -> bytes:
    """A CII root whose content is an external entity reading a local file."""
    return (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://' + path.encode()
            + b'">]><rsm:CrossIndustryInvoice xmlns:rsm="' + CII_NS
            + b'">&x;</rsm:CrossIndustryInvoice>')


def xxe_network(url: str) -> bytes:
    """An external entity and an external parameter entity both fetching ``url``."""
    return (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "' + url.encode()
            + b'"> %p; <!ENTITY x SYSTEM "' + url.encode() + b'">]><rsm:CrossIndustryInvoice'
            b' xmlns:rsm="' + CII_NS + b'">&x;</rsm:CrossIndustryInvoice>')


def deep_nesting(depth: int = 20_000) -> bytes:
    """``depth`` nested elements (stack exhaustion in recursive parsers and walkers)."""
    return b"<?xml version='1.0'?>" + b"<a>" * depth + b"</a>" * depth


def just_over(limit: int, number: str = "HOSTILE-BIG") -> bytes:
    """A valid invoice padded with an XML comment to exactly ``limit + 1`` bytes."""
    doc = cii_invoice(number)
    pad = limit + 1 - len(doc) - len(b"<!---->")
    assert pad >= 0, "the limit is smaller than the template invoice"
    return doc + b"<!--" + b" " * pad + b"-->"


def seller_siret(number: str, siret: str) -> bytes:
    """The template invoice with a seller legal id (SIRET, scheme 0009) of our choosing."""
    org = (b'<ram:SpecifiedLegalOrganization><ram:ID schemeID="0009">' + siret.encode()
           + b"</ram:ID></ram:SpecifiedLegalOrganization>")
    return cii_invoice(number).replace(SELLER_NAME, SELLER_NAME + org, 1)


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@lru_cache(maxsize=1)
def _facturx() -> bytes:
    return FACTURX.read_bytes()


def truncated_pdf() -> bytes:
    """A real Factur-X cut in half (a broken upload)."""
    body = _facturx()
    return body[: len(body) // 2]


def encrypted_pdf() -> bytes:
    """A real Factur-X encrypted with a user password: the broker cannot read its XML."""
    writer = PdfWriter(clone_from=io.BytesIO(_facturx()))
    writer.encrypt("user", "owner")
    return _written(writer)


def plain_pdf() -> bytes:
    """A one-page PDF without any attachment (an archive-only plain PDF)."""
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    return _written(writer)


def javascript_pdf() -> bytes:
    """A plain PDF running JavaScript when opened (document-level /Names /JavaScript)."""
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    action = writer._add_object(DictionaryObject({
        NameObject("/S"): NameObject("/JavaScript"),
        NameObject("/JS"): TextStringObject("app.alert('pwned');")}))
    tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("js"), action])})
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(tree)})
    return _written(writer)


def open_action_pdf(action: str = "/Launch") -> bytes:
    """A real Factur-X whose /OpenAction is a ``/Launch`` (or other) action."""
    writer = PdfWriter(clone_from=io.BytesIO(_facturx()))
    act = DictionaryObject({NameObject("/S"): NameObject(action)})
    if action == "/JavaScript":
        act[NameObject("/JS")] = TextStringObject("app.alert('pwned');")
    else:
        act[NameObject("/F")] = TextStringObject("cmd.exe")
    writer._root_object[NameObject("/OpenAction")] = act
    return _written(writer)


def pdf_with_attachment(name: str, content: bytes, *, compress: bool = False) -> bytes:
    """A one-page PDF carrying ``content`` as the embedded file ``name``."""
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_attachment(name, content)
    if compress:
        for index, obj in enumerate(writer._objects):
            if isinstance(obj, StreamObject) and obj.get("/Type") == "/EmbeddedFile":
                writer._objects[index] = obj.flate_encode()
    return _written(writer)


def facturx_bomb() -> bytes:
    """A Factur-X-shaped PDF whose ``factur-x.xml`` is a billion-laughs bomb."""
    return pdf_with_attachment("factur-x.xml", billion_laughs())


def facturx_zip_bomb(expanded: int = 64 * 1024 * 1024) -> bytes:
    """A ``factur-x.xml`` that Flate-decompresses to ``expanded`` bytes (~100 KB on the wire)."""
    return pdf_with_attachment("factur-x.xml", b"<a>" + b" " * expanded + b"</a>", compress=True)


class RawPublisher:
    """Publishes exactly what it is given to ``efacture.inbound`` (confirmed, mandatory).

    Unlike the ERP's :class:`efacture.cli.submit.Submitter` it sets no default: a property
    or header left ``None`` is absent from the message, and bytes go out as they are.
    """

    def __init__(self, amqp_url: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self.conn.channel()
        self.channel.confirm_delivery()

    def publish(self, body: bytes, *, message_id: str | bytes | None,
                content_type: str | bytes | None, headers: dict[str, Any] | None,
                user_id: str | None = None) -> None:
        """Returns once confirmed; raises pika's errors (a closed channel on a refused user_id)."""
        props = pika.BasicProperties(message_id=message_id, content_type=content_type,  # type: ignore[arg-type]
                                     delivery_mode=2, headers=headers, user_id=user_id)
        self.channel.basic_publish(INBOUND, RK_SUBMIT, body, props, mandatory=True)

    def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()

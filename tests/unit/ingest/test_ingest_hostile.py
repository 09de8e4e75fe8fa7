"""Hostile inputs are rejected with a reason, in bounded time and memory, never raised."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from services.ingest.domain.analysis import analyse
from tests.support import hostile

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
FACTURX = CORPUS / "factur-x" / "zfc-xmlrechnung__EN16931_Einfach.pdf"
LIMIT = 10 * 1024 * 1024


# The hostile documents are made by the generators the end-to-end suite uses too.
_entity_bomb = hostile.billion_laughs
XXE = hostile.xxe_file()
_pdf_with_attachment = hostile.pdf_with_attachment


def _codes(body: bytes, content_type: str | None = None, max_bytes: int = LIMIT) -> list[str]:
    analysis = analyse(body, content_type, sandbox=False, max_bytes=max_bytes)
    assert not analysis.accepted
    return [e.code for e in analysis.errors]


def test_entity_bomb_is_rejected_in_bounded_time() -> None:
    assert _codes(_entity_bomb(), "application/xml") == ["xml-forbidden-dtd"]


def test_utf16_entity_bomb_is_rejected_too() -> None:
    body = _entity_bomb().replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
    assert _codes(body.decode().encode("utf-16")) == ["xml-forbidden-dtd"]


def test_xxe_attempt_is_rejected_before_parsing() -> None:
    assert _codes(XXE, "application/xml") == ["xml-forbidden-dtd"]


def test_body_over_the_size_limit_is_rejected() -> None:
    assert _codes(b"<a/>" * 100, max_bytes=100) == ["too-large"]


def test_empty_body_is_rejected() -> None:
    assert _codes(b"  \n") == ["empty-body"]


def test_deep_xml_is_rejected() -> None:
    assert _codes(b"<a>" * 100 + b"</a>" * 100) == ["xml-too-deep"]


def test_xml_with_too_many_elements_is_rejected() -> None:
    assert _codes(b"<a>" + b"<b/>" * 250_000 + b"</a>") == ["xml-too-many-elements"]


def test_malformed_xml_is_rejected() -> None:
    assert _codes(b"<a><b></a>") == ["xml-malformed"]


def test_truncated_pdf_is_rejected() -> None:
    body = FACTURX.read_bytes()
    assert _codes(body[: len(body) // 2], "application/pdf") == ["pdf-malformed"]


def test_encrypted_pdf_is_rejected() -> None:
    writer = PdfWriter(clone_from=io.BytesIO(FACTURX.read_bytes()))
    writer.encrypt("user", "owner")
    out = io.BytesIO()
    writer.write(out)
    assert _codes(out.getvalue(), "application/pdf") == ["pdf-encrypted"]


def test_garbage_after_a_pdf_header_is_rejected() -> None:
    assert _codes(b"%PDF-1.7\n" + b"x" * 1000 + b"\n%%EOF") == ["pdf-malformed"]


def test_pdf_whose_embedded_xml_is_an_entity_bomb_is_rejected() -> None:
    codes = _codes(_pdf_with_attachment("factur-x.xml", _entity_bomb()), "application/pdf")
    assert codes == ["xml-forbidden-dtd"]


def test_pdf_whose_embedded_xml_is_an_xxe_attempt_is_rejected() -> None:
    assert _codes(_pdf_with_attachment("factur-x.xml", XXE)) == ["xml-forbidden-dtd"]


def test_pdf_whose_embedded_xml_decompresses_past_the_cap_is_rejected() -> None:
    huge = b"<a>" + b" " * (64 * 1024 * 1024) + b"</a>"
    body = _pdf_with_attachment("factur-x.xml", huge, compress=True)
    assert len(body) < 1024 * 1024
    assert _codes(body, "application/pdf") == ["pdf-malformed"]


@pytest.mark.parametrize(
    "body",
    [b"\x00\x01\x02", b"%PDF-", b"<?xml version='1.0'?>", b"\xff\xfe<\x00", "é".encode("latin-1")],
)
def test_odd_bodies_never_raise(body: bytes) -> None:
    analysis = analyse(body, "application/octet-stream", sandbox=True, max_bytes=LIMIT)
    assert not analysis.accepted


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    analysis = analyse(body, None, sandbox=True, max_bytes=LIMIT)
    assert analysis.accepted == (analysis.kind == "pdf" and not analysis.errors)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=13_000), st.binary(min_size=1, max_size=8))
def test_a_corrupted_invoice_never_raises(cut: int, junk: bytes) -> None:
    body = (CORPUS / "cii" / "zfc-xmlrechnung__EN16931_Einfach.cii.xml").read_bytes()
    analysis = analyse(body[:cut] + junk + body[cut + len(junk):], "application/xml",
                       sandbox=False, max_bytes=LIMIT)
    assert isinstance(analysis.errors, tuple)


def test_pdf_with_an_unrelated_xml_attachment_is_a_plain_pdf() -> None:
    body = _pdf_with_attachment("delivery-note.xml", b"<note>not an invoice</note>")
    analysis = analyse(body, "application/pdf", sandbox=False, max_bytes=LIMIT)
    assert analysis.kind == "pdf"
    assert analysis.accepted


def test_pdf_whose_factur_x_attachment_is_not_an_invoice_is_rejected() -> None:
    assert _codes(_pdf_with_attachment("factur-x.xml", b"<note/>")) == ["not-an-invoice"]

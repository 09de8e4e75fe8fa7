"""``invoice_pdf``: originals for Factur-X, a cached encrypted Factur-X PDF/A-3 for CII and UBL.

Catalogue rows and blobs are made with the real sealer and blob store in a real PostgreSQL
database, the way archive writes them (the test stands in for archive, nothing else).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import facturx
import psycopg
import pytest
from pypdf import PdfReader

from services.portal.rendering.pdf import invoice_pdf
from services.portal.rendering.safexml import UnreadableXmlError, parse
from shared.settings import Settings
from shared.vault.document_sealer import DocumentShreddedError
from shared.vault.envelope import DecryptFailedError
from shared.vault.reader import Vault
from tests.integration.portal.catalogue import Archive, migrate
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
CII = CORPUS / "cii" / "cen__CII_example2.xml"
UBL = CORPUS / "ubl" / "akretion__ubl-21-en16931.xml"
FACTURX = CORPUS / "factur-x" / "akretion__invoice_EN16931.pdf"


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> tuple[Archive, Vault]:
    migrate(infra.database_url)
    settings = Settings(database_url=infra.database_url,
                        data_dir=tmp_path_factory.mktemp("portal-pdf"))
    vault = Vault(settings)
    return Archive(infra.database_url, vault), vault


async def _pdf(url: str, vault: Vault, invoice_id: uuid.UUID) -> bytes:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await invoice_pdf(conn, vault, invoice_id)


def _rows(url: str, invoice_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT blob_key, sha256 FROM portal.rendering WHERE invoice_id = %s",
                            (invoice_id,)).fetchall()


def _root(reader: PdfReader) -> Any:
    return reader.trailer["/Root"]


def _text(pdf: bytes) -> str:
    return " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf)).pages)


def test_cii_becomes_a_facturx_pdfa3_with_the_original_xml(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    xml = CII.read_bytes()
    invoice_id = asyncio.run(archive.add(xml, "cii"))
    pdf = asyncio.run(_pdf(archive.url, vault, invoice_id))
    assert pdf.startswith(b"%PDF-")
    name, embedded = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    assert embedded == xml  # byte for byte
    reader = PdfReader(io.BytesIO(pdf))
    xmp = _root(reader)["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert _root(reader)["/OutputIntents"]
    text = " ".join(_text(pdf).split())
    assert "Rendu lisible de la facture électronique XML d'origine, joint à ce PDF" in text
    assert "TOSL108" in text
    assert "Salescompany ltd." in text
    assert "Net à payer" in text
    # Cached, encrypted: one row, the blob is ciphertext, a second call gives the same bytes.
    [(blob_key, sha)] = _rows(archive.url, invoice_id)
    stored = vault.blobs.get(blob_key)
    assert blob_key == hashlib.sha256(stored).hexdigest()
    assert b"%PDF" not in stored
    assert b"TOSL108" not in stored
    assert sha.strip() == hashlib.sha256(pdf).hexdigest()
    assert asyncio.run(_pdf(archive.url, vault, invoice_id)) == pdf


def test_ubl_embeds_the_original_ubl_as_source(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    xml = UBL.read_bytes()
    invoice_id = asyncio.run(archive.add(xml, "ubl"))
    pdf = asyncio.run(_pdf(archive.url, vault, invoice_id))
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["facture-ubl.xml"] == [xml]
    # WeasyPrint 70 lists the one file spec twice in /AF; what matters is what it says.
    specs = [a.get_object() for a in _root(reader)["/AF"]]
    assert {(s["/UF"], s["/AFRelationship"]) for s in specs} == {("facture-ubl.xml", "/Source")}
    xmp = _root(reader)["/Metadata"].get_object().get_data().decode()
    assert "pdfaid:part" in xmp
    text = " ".join(_text(pdf).split())
    assert "Rendu lisible" in text
    assert "Au bon moulin" in text
    assert len(_rows(archive.url, invoice_id)) == 1


def test_facturx_is_served_as_submitted_and_never_rendered(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    original = FACTURX.read_bytes()
    invoice_id = asyncio.run(archive.add(original, "facturx-pdf"))
    assert asyncio.run(_pdf(archive.url, vault, invoice_id)) == original
    assert _rows(archive.url, invoice_id) == []


def test_two_first_requests_at_once_render_once(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    invoice_id = asyncio.run(archive.add(CII.read_bytes(), "cii"))

    async def both() -> list[bytes]:
        return list(await asyncio.gather(*(_pdf(archive.url, vault, invoice_id)
                                           for _ in range(3))))

    first, *others = asyncio.run(both())
    assert all(o == first for o in others)  # renderings differ in their dates: one was made
    assert len(_rows(archive.url, invoice_id)) == 1


def test_tampered_rendering_refused_and_purge_removes_it(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    invoice_id = asyncio.run(archive.add(CII.read_bytes(), "cii"))
    asyncio.run(_pdf(archive.url, vault, invoice_id))
    [(blob_key, _)] = _rows(archive.url, invoice_id)
    stored = bytearray(vault.blobs.get(blob_key))
    stored[-1] ^= 1
    vault.blobs.delete(blob_key)  # the store never overwrites a key with other bytes
    vault.blobs.put(blob_key, bytes(stored))
    with pytest.raises(DecryptFailedError):
        asyncio.run(_pdf(archive.url, vault, invoice_id))
    with psycopg.connect(archive.url) as conn:
        conn.execute("UPDATE archive.invoice SET wrapped_data_key = NULL, state = 'purged',"
                     " purged_at = now() WHERE invoice_id = %s", (invoice_id,))
    with pytest.raises(DocumentShreddedError):
        asyncio.run(_pdf(archive.url, vault, invoice_id))
    assert _rows(archive.url, invoice_id) == []
    assert not vault.blobs.exists(blob_key)


def test_unknown_invoice_is_a_lookup_error(env: tuple[Archive, Vault]) -> None:
    archive, vault = env
    with pytest.raises(LookupError):
        asyncio.run(_pdf(archive.url, vault, uuid.uuid4()))


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
    b"<x>" * 100 + b"</x>" * 100,
    b"<x>not closed",
])
def test_renderer_parser_refuses_hostile_xml(body: bytes) -> None:
    with pytest.raises(UnreadableXmlError):
        parse(body)


def test_a_huge_invoice_shows_its_first_lines_and_says_where_the_rest_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lxml import etree

    from services.portal.rendering import document
    from services.portal.rendering.cii import NS
    from services.portal.rendering.document import render_pdf

    assert document.MAX_RENDERED_LINES == 500
    monkeypatch.setattr(document, "MAX_RENDERED_LINES", 20)  # the same cut, cheaper to draw
    root = etree.fromstring(CII.read_bytes())
    [line] = root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)[:1]
    parent = line.getparent()
    for _ in range(30):
        parent.insert(parent.index(line), etree.fromstring(etree.tostring(line)))
    xml = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    pdf = render_pdf(xml, "EN16931")
    text = " ".join(_text(pdf).split())
    total = len(root.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS))
    assert f"… et {total - 20} autres lignes" in text
    assert facturx.get_xml_from_pdf(pdf, check_xsd=False)[1] == xml  # all of it, embedded


def test_invoice_pdf_takes_a_pool(env: tuple[Archive, Vault], infra: Infra) -> None:
    from psycopg_pool import AsyncConnectionPool

    archive, vault = env
    invoice_id = asyncio.run(archive.add(UBL.read_bytes(), "ubl"))

    async def run() -> bytes:
        async with AsyncConnectionPool(infra.database_url, min_size=1, max_size=2) as pool:
            return await invoice_pdf(pool, vault, invoice_id)

    assert asyncio.run(run()).startswith(b"%PDF-")
    assert len(_rows(archive.url, invoice_id)) == 1


CORPUS_XML = sorted([*(CORPUS / "cii").glob("*.xml"), *(CORPUS / "ubl").glob("*.xml")])
NO_LINES = {"akretion__factur-x-basicwl.xml", "mustang__facturFrMinimum.xml"}  # by profile


@pytest.mark.parametrize("path", CORPUS_XML, ids=lambda p: p.name)
def test_every_corpus_invoice_yields_the_facts_a_rendering_shows(path: Path) -> None:
    from services.portal.rendering.document import facts_of

    facts = facts_of(path.read_bytes())
    for name in ("number", "issue_date", "currency", "payable"):
        assert getattr(facts, name), name
    assert facts.seller.name
    assert facts.buyer.name
    assert bool(facts.lines) is (path.name not in NO_LINES)


def test_a_ubl_credit_note_renders_as_an_avoir() -> None:
    from services.portal.rendering.document import render_pdf

    xml = (CORPUS / "ubl" / "cen__CreditNote-Max_content.xml").read_bytes()
    pdf = render_pdf(xml, "EN16931")
    assert "Avoir n°" in " ".join(_text(pdf).split())
    assert PdfReader(io.BytesIO(pdf)).attachments["facture-ubl.xml"] == [xml]

"""The same invoice written in CII, UBL and Factur-X yields the same model."""

from pathlib import Path

import pytest

from services.ingest.domain.analysis import analyse
from services.ingest.domain.invoice import Invoice

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"

TWINS = [
    ("factur-x/zfc-xmlrechnung__EN16931_Einfach.pdf",
     "cii/zfc-xmlrechnung__EN16931_Einfach.cii.xml",
     "ubl/zfc-xmlrechnung__EN16931_Einfach.ubl.xml"),
    ("factur-x/zfc-xmlrechnung__EN16931_Rabatte.pdf",
     "cii/zfc-xmlrechnung__EN16931_Rabatte.cii.xml",
     "ubl/zfc-xmlrechnung__EN16931_Rabatte.ubl.xml"),
    ("cii/cen__CII_example1.xml", "ubl/cen__ubl-tc434-example1.xml"),
    ("cii/cen__CII_example2.xml", "ubl/cen__ubl-tc434-example2.xml"),
    ("cii/xrts__01.13a-INVOICE_uncefact.xml", "ubl/xrts__01.13a-INVOICE_ubl.xml"),
    ("cii/xrts__02.05a-INVOICE_uncefact.xml", "ubl/xrts__02.05a-INVOICE_ubl.xml"),
]


def _invoice(path: str) -> Invoice:
    analysis = analyse((CORPUS / path).read_bytes(), None, sandbox=True, max_bytes=10**8)
    assert analysis.accepted, [e.code for e in analysis.errors]
    assert analysis.invoice is not None
    return analysis.invoice


@pytest.mark.skipif(not CORPUS.exists(), reason="corpus not available")
@pytest.mark.parametrize("paths", TWINS, ids=[t[0].rsplit("/", 1)[-1] for t in TWINS])
def test_the_same_invoice_in_every_syntax_gives_the_same_model(paths: tuple[str, ...]) -> None:
    first, *others = (_invoice(p) for p in paths)
    for other in others:
        assert other == first


@pytest.mark.skipif(not CORPUS.exists(), reason="corpus not available")
def test_extracted_model_carries_the_en16931_core() -> None:
    invoice = _invoice("ubl/zfc-xmlrechnung__EN16931_Einfach.ubl.xml")
    assert invoice.number == "471102"
    assert invoice.type_code == "380"
    assert invoice.issue_date.isoformat() == "2018-03-05"
    assert invoice.currency == "EUR"
    assert invoice.seller.name == "Lieferant GmbH"
    assert invoice.seller.vat_id == "DE123456789"
    assert invoice.buyer.name == "Kunden AG Mitte"
    assert str(invoice.totals.tax_inclusive) == "529.87"
    assert invoice.line_count == 2
    assert {(v.category, v.rate) for v in invoice.vat} == {("S", 7), ("S", 19)}


@pytest.mark.skipif(not CORPUS.exists(), reason="corpus not available")
def test_french_parties_expose_siren_and_siret_with_their_scheme() -> None:
    invoice = _invoice("factur-x/zfc-fnfe__Facture_FR_MINIMUM.pdf")
    assert invoice.seller.siret == "99999999800010"
    assert invoice.seller.siren == "999999998"
    assert invoice.seller.legal_id_scheme == "0002"
    assert invoice.buyer.siret == "78787878400035"

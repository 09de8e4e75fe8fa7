"""Business rules, French rules and detection, on corpus invoices altered one fact at a time."""

from pathlib import Path

import pytest

from services.ingest.domain.analysis import Analysis, analyse

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
EINFACH_CII = CORPUS / "cii" / "zfc-xmlrechnung__EN16931_Einfach.cii.xml"
FRENCH_UBL = CORPUS / "ubl" / "akretion__ubl-21-en16931.xml"
LIMIT = 10 * 1024 * 1024

if not CORPUS.exists():
    pytest.skip("corpus not available", allow_module_level=True)


def _run(path: Path, *edits: tuple[bytes, bytes], sandbox: bool = False) -> Analysis:
    body = path.read_bytes()
    for old, new in edits:
        assert old in body, old
        body = body.replace(old, new)
    return analyse(body, "application/xml", sandbox=sandbox, max_bytes=LIMIT)


def _codes(analysis: Analysis) -> list[str]:
    return [e.code for e in analysis.errors]


def test_unaltered_invoice_is_accepted() -> None:
    assert _run(EINFACH_CII).accepted


def test_wrong_grand_total_breaks_br_co_15_and_br_co_16() -> None:
    edit = (b">529.87</ram:GrandTotalAmount>", b">530.87</ram:GrandTotalAmount>")
    analysis = _run(EINFACH_CII, edit)
    assert {"BR-CO-15", "BR-CO-16"} <= set(_codes(analysis))


def test_every_failure_is_reported_not_just_the_first() -> None:
    analysis = _run(
        EINFACH_CII,
        (b">529.87</ram:GrandTotalAmount>", b">530.87</ram:GrandTotalAmount>"),
        (b"<ram:Name>Lieferant GmbH</ram:Name>", b""),
        (b"<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>", b""),
    )
    codes = _codes(analysis)
    assert {"schema", "BR-05", "BR-06", "BR-CO-15", "BR-CO-16"} <= set(codes)
    assert analysis.invoice is None  # no currency: the model cannot be built


def test_vat_breakdown_inconsistency_is_reported() -> None:
    analysis = _run(EINFACH_CII, (b"<ram:CalculatedAmount>37.62</ram:CalculatedAmount>",
                                  b"<ram:CalculatedAmount>39.62</ram:CalculatedAmount>"))
    assert {"BR-CO-17", "BR-S-09", "BR-CO-14"} & set(_codes(analysis))
    assert "BR-CO-17" in _codes(analysis)


def test_more_than_two_decimals_on_a_line_net_amount_is_rejected() -> None:
    analysis = _run(CORPUS / "invalid" / "mustang__invalidXRV30_BR-DEC-23.xml")
    assert "BR-DEC-23" in _codes(analysis)


def test_french_seller_with_a_bad_siren_check_digit_is_rejected_for_a_normal_tenant() -> None:
    edit = (b">999999998</cbc:CompanyID>", b">999999997</cbc:CompanyID>")
    analysis = _run(FRENCH_UBL, edit)
    assert "FR-SIREN-checksum" in _codes(analysis)


def test_bad_check_digit_is_only_a_warning_for_a_sandbox_tenant() -> None:
    edit = (b">999999998</cbc:CompanyID>", b">999999997</cbc:CompanyID>")
    analysis = _run(FRENCH_UBL, edit, sandbox=True)
    assert analysis.accepted
    assert [w.code for w in analysis.warnings] == ["FR-SIREN-checksum"]


@pytest.mark.parametrize("number", [b"F124212#", b"F" * 36, b"FACT\xc3\xa9-1"])
def test_french_invoice_number_syntax_is_enforced(number: bytes) -> None:
    analysis = _run(FRENCH_UBL, (b"<cbc:ID>F124212</cbc:ID>", b"<cbc:ID>" + number + b"</cbc:ID>"),
                    sandbox=True)
    assert "FR-invoice-number" in _codes(analysis)


def test_french_number_rule_does_not_bind_a_german_seller() -> None:
    analysis = _run(EINFACH_CII, (b"<ram:ID>471102</ram:ID>", b"<ram:ID>471102#1</ram:ID>"))
    assert "FR-invoice-number" not in _codes(analysis)


def test_zugferd_1_is_rejected_with_a_reason_that_names_it() -> None:
    analysis = analyse((CORPUS / "invalid" / "akretion-zf1__zugferd-extended.xml").read_bytes(),
                       "application/xml", sandbox=True, max_bytes=LIMIT)
    assert _codes(analysis) == ["zugferd-1-unsupported"]
    assert "ZUGFeRD 1.0" in analysis.errors[0].message


def test_xml_that_is_not_an_invoice_is_rejected() -> None:
    analysis = analyse(b"<dummy/>", "application/xml", sandbox=True, max_bytes=LIMIT)
    assert _codes(analysis) == ["not-an-invoice"]


def test_factur_x_pdf_is_detected_and_its_xml_returned() -> None:
    body = (CORPUS / "factur-x" / "zfc-xmlrechnung__EN16931_Einfach.pdf").read_bytes()
    analysis = analyse(body, "application/pdf", sandbox=True, max_bytes=LIMIT)
    assert analysis.kind == "facturx-pdf"
    assert (analysis.syntax, analysis.profile) == ("Factur-X", "EN16931")
    assert analysis.xml is not None
    assert b"CrossIndustryInvoice" in analysis.xml


def test_ubl_credit_note_is_detected() -> None:
    body = (CORPUS / "ubl" / "cen__BIS_Billing_30-Kreditering_med_kreditnota.xml").read_bytes()
    analysis = analyse(body, "application/xml", sandbox=True, max_bytes=LIMIT)
    assert analysis.accepted
    assert (analysis.kind, analysis.profile) == ("ubl", "PEPPOL")
    assert analysis.invoice is not None
    assert analysis.invoice.type_code == "381"


def test_plain_pdf_is_a_pdf_without_errors() -> None:
    body = (CORPUS / "invalid" / "horstoeko__pdf_plain.pdf").read_bytes()
    analysis = analyse(body, "application/pdf", sandbox=False, max_bytes=LIMIT)
    assert analysis.kind == "pdf"
    assert analysis.accepted
    assert analysis.invoice is None


def test_content_type_that_contradicts_the_body_is_rejected() -> None:
    body = (CORPUS / "factur-x" / "zfc-xmlrechnung__EN16931_Einfach.pdf").read_bytes()
    analysis = analyse(body, "application/xml", sandbox=True, max_bytes=LIMIT)
    assert _codes(analysis) == ["content-type-mismatch"]

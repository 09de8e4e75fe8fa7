"""Admission rules that depend on the tenant and the submission (contract section 2)."""

from pathlib import Path

import pytest

from services.ingest.domain.admission import admission_reasons, seller_key
from services.ingest.domain.analysis import Analysis, analyse

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
LIMIT = 10 * 1024 * 1024
PLAIN_HEADERS = {"invoice-number": "F-1", "issue-date": "2026-11-27", "recipient-id": "552032534"}

if not CORPUS.exists():
    pytest.skip("corpus not available", allow_module_level=True)


def _analysis(path: str) -> Analysis:
    return analyse((CORPUS / path).read_bytes(), None, sandbox=True, max_bytes=LIMIT)


def _codes(analysis: Analysis, tenant: str, *, transmit: bool,
           headers: dict[str, str] | None = None) -> list[str]:
    errors, _ = admission_reasons(analysis, tenant_siret=tenant, sandbox=True,
                                  transmit=transmit, headers=headers or {})
    return [e.code for e in errors]


def test_seller_of_another_siren_is_a_tenant_mismatch() -> None:
    analysis = _analysis("ubl/akretion__ubl-21-en16931.xml")
    assert _codes(analysis, "73282932000074", transmit=True) == ["tenant-mismatch"]
    assert _codes(analysis, "99999999800010", transmit=True) == []


def test_seller_without_french_legal_id_is_not_a_mismatch() -> None:
    analysis = _analysis("cii/zfc-xmlrechnung__EN16931_Einfach.cii.xml")
    assert _codes(analysis, "73282932000074", transmit=True) == []


def test_minimum_profile_is_refused_for_exchange_but_archived_without_transmission() -> None:
    analysis = _analysis("factur-x/zfc-fnfe__Facture_FR_MINIMUM.pdf")
    assert _codes(analysis, "99999999800010", transmit=True) == ["profile-not-admitted"]
    assert _codes(analysis, "99999999800010", transmit=False) == []


def test_plain_pdf_must_not_be_transmitted() -> None:
    analysis = _analysis("invalid/horstoeko__pdf_plain.pdf")
    assert _codes(analysis, "73282932000074", transmit=True, headers=PLAIN_HEADERS) == [
        "plain-pdf-transmit"
    ]


def test_plain_pdf_needs_its_metadata_headers() -> None:
    analysis = _analysis("invalid/horstoeko__pdf_plain.pdf")
    assert _codes(analysis, "73282932000074", transmit=False) == ["plain-pdf-metadata"]
    bad_date = {**PLAIN_HEADERS, "issue-date": "27/11/2026"}
    assert _codes(analysis, "73282932000074", transmit=False, headers=bad_date) == [
        "plain-pdf-metadata"
    ]
    assert _codes(analysis, "73282932000074", transmit=False, headers=PLAIN_HEADERS) == []


def test_seller_key_is_the_seller_siren_or_the_tenant_siren() -> None:
    french = _analysis("ubl/akretion__ubl-21-en16931.xml").invoice
    german = _analysis("cii/zfc-xmlrechnung__EN16931_Einfach.cii.xml").invoice
    assert seller_key(french, "73282932000074") == "999999998"
    assert seller_key(german, "73282932000074") == "732829320"
    assert seller_key(None, "73282932000074") == "732829320"

"""flowInfo construction: syntax and profile mapping of contract section 5."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from services.transmit.domain.flow import flow_info, flow_profile, flow_syntax, sha256_hex
from shared.errors import PermanentError

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("BASIC WL", "Basic"),
        ("BASIC", "Basic"),
        ("EN16931", "CIUS"),
        ("XRECHNUNG 3.0", "CIUS"),
        ("PEPPOL BIS Billing 3.0", "CIUS"),
        ("EXTENDED", "Extended-CTC-FR"),
        ("EXTENDED-CTC-FR", "Extended-CTC-FR"),
        ("urn:factur-x.eu:1p0:basicwl", "Basic"),
        ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "Basic"),
        ("urn:cen.eu:en16931:2017", "CIUS"),
        ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "Extended-CTC-FR"),
        ("urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr",
         "Extended-CTC-FR"),
    ],
)
def test_profiles_map_to_the_afnor_flow_profile(profile: str, expected: str) -> None:
    assert flow_profile(profile) == expected


@pytest.mark.parametrize("profile", ["MINIMUM", "urn:factur-x.eu:1p0:minimum"])
def test_minimum_profile_is_not_transmittable(profile: str) -> None:
    with pytest.raises(PermanentError) as caught:
        flow_profile(profile)
    assert caught.value.code == "profile-not-transmittable"


def test_unknown_profile_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError) as caught:
        flow_profile("FANCY")
    assert caught.value.code == "unknown-profile"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("facturx", "Factur-X"), ("Factur-X", "Factur-X"), ("facturx-pdf", "Factur-X"),
     ("cii", "CII"), ("CII", "CII"), ("ubl", "UBL")],
)
def test_document_kinds_map_to_flow_syntax(kind: str, expected: str) -> None:
    assert flow_syntax(kind) == expected


def test_plain_pdf_has_no_flow_syntax() -> None:
    with pytest.raises(PermanentError):
        flow_syntax("pdf")


def test_every_admitted_corpus_profile_maps_and_minimum_does_not() -> None:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        pytest.skip("corpus not available")
    with manifest.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t")
                if row["expected"] == "valid" and row["format"] in {"cii", "ubl", "facturx-pdf"}]
    assert rows
    for row in rows:
        if row["profile"] == "MINIMUM":
            with pytest.raises(PermanentError):
                flow_profile(row["profile"])
        else:
            assert flow_profile(row["profile"]) in {"Basic", "CIUS", "Extended-CTC-FR"}
        assert flow_syntax(row["format"]) in {"Factur-X", "CII", "UBL"}


def test_flow_info_carries_every_contract_field() -> None:
    content = b"<Invoice/>"
    info = flow_info(tracking_id="0b8f", name="F1.xml", syntax="ubl", profile="EN16931",
                     sha256=hashlib.sha256(content).hexdigest().upper())
    assert info == {
        "trackingId": "0b8f", "name": "F1.xml", "flowSyntax": "UBL", "flowProfile": "CIUS",
        "processingRule": "B2B", "sha256": sha256_hex(content),
    }


def test_flow_info_rejects_a_malformed_digest() -> None:
    with pytest.raises(PermanentError):
        flow_info(tracking_id="x", name="F1.xml", syntax="cii", profile="BASIC", sha256="abc")

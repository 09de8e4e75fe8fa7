"""Every corpus file gets the verdict its source gives it (MANIFEST.tsv ``expected``)."""

import csv
from pathlib import Path

import pytest

from services.ingest.domain.admission import admission_reasons
from services.ingest.domain.analysis import analyse

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
FALLBACK_TENANT = "73282932000074"

# path -> why our verdict differs from the source's label; empty means full agreement.
KNOWN_DISAGREEMENTS: dict[str, str] = {}


def _rows() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = _rows() if (CORPUS / "MANIFEST.tsv").exists() else []


@pytest.mark.skipif(not ROWS, reason="corpus not available")
@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_corpus_verdict_matches_the_manifest(row: dict[str, str]) -> None:
    body = (CORPUS / row["path"]).read_bytes()
    content_type = "application/pdf" if row["path"].lower().endswith(".pdf") else "application/xml"
    analysis = analyse(body, content_type, sandbox=True, max_bytes=10 * 1024 * 1024)
    seller = analysis.invoice.seller if analysis.invoice else None
    # A sandbox tenant whose SIREN is the seller's, where the seller has one.
    tenant = seller.siren + "00000" if seller and seller.siren else FALLBACK_TENANT
    errors, _ = admission_reasons(
        analysis, tenant_siret=tenant, sandbox=True, transmit=False, headers={}
    )
    accepted = not analysis.errors and not errors
    expected = row["expected"] == "valid"
    if row["path"] in KNOWN_DISAGREEMENTS:
        assert accepted != expected, f"{row['path']} now agrees: drop it from KNOWN_DISAGREEMENTS"
        return
    codes = [e.code for e in (*analysis.errors, *errors)]
    assert accepted == expected, f"{row['path']}: expected {row['expected']}, got {codes}"


@pytest.mark.skipif(not ROWS, reason="corpus not available")
def test_corpus_profiles_are_detected_as_the_manifest_reads_them() -> None:
    names = {"BASIC WL": "BASIC WL", "BASIC": "BASIC", "MINIMUM": "MINIMUM",
             "EN16931": "EN16931", "EXTENDED": "EXTENDED", "EXTENDED-CTC-FR": "EXTENDED-CTC-FR"}
    mismatches = []
    for row in ROWS:
        profile = row["profile"]
        if row["expected"] != "valid":
            continue
        expected = names.get(profile)
        if profile.startswith("XRECHNUNG"):
            expected = "XRECHNUNG"
        elif profile.startswith("PEPPOL"):
            expected = "PEPPOL"
        elif profile.startswith("ZUGFeRD 2.0 "):
            expected = profile.removeprefix("ZUGFeRD 2.0 ")
        body = (CORPUS / row["path"]).read_bytes()
        got = analyse(body, None, sandbox=True, max_bytes=10 * 1024 * 1024).profile
        if got != expected:
            mismatches.append((row["path"], expected, got))
    assert mismatches == []

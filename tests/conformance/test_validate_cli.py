"""``efacture validate``: contract section 4 shape, exit codes, the official report beside."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from efacture.cli.main import cli
from tests.conformance.conftest import CORPUS, corpus_rows

pytestmark = [pytest.mark.conformance,
              pytest.mark.skipif(not corpus_rows(), reason="corpus not available")]
VALID = str(CORPUS / "ubl" / "cen__ubl-tc434-example1.xml")
FRENCH = str(CORPUS / "cii" / "mustang__validV2FR.xml")  # refused by BR-FR
TOTALS = str(CORPUS / "invalid" / "zfc-fail__not_validating_full_invoice_based_onTest_EeISI_300_"
             "CENfullmodel.ubl.xml")


def _run(*args: str) -> tuple[int, object]:
    result = CliRunner().invoke(cli, ["validate", *args, "--json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else None


def test_valid_file_exits_0_with_the_contract_shape() -> None:
    code, out = _run(VALID)
    assert code == 0
    assert out == [{"file": VALID, "valid": True, "syntax": "UBL", "profile": "EN16931",
                    "reasons": []}]


def test_an_invalid_file_among_valid_ones_exits_1_with_rule_ids_and_locations() -> None:
    code, out = _run(VALID, TOTALS)
    assert code == 1
    assert isinstance(out, list)
    assert [r["valid"] for r in out] == [True, False]
    reasons = out[1]["reasons"]
    assert {"BR-CO-10", "BR-CO-15"} <= {r["code"] for r in reasons}
    assert all(set(r) >= {"code", "message", "severity"} for r in reasons)


def test_br_fr_findings_are_errors_for_a_production_transmission_and_warnings_archive_only(
) -> None:
    code, out = _run(FRENCH)
    assert code == 1
    assert isinstance(out, list)
    assert ("BR-FR-05", "error") in {(r["code"], r["severity"]) for r in out[0]["reasons"]}
    code, out = _run(FRENCH, "--no-transmit")
    assert code == 0
    assert isinstance(out, list)
    assert ("BR-FR-05", "warning") in {(r["code"], r["severity"]) for r in out[0]["reasons"]}


def test_official_report_is_shown_beside_ingest(oracle: object) -> None:
    code, out = _run(TOTALS, FRENCH, "--official")
    assert code == 1
    assert isinstance(out, list)
    totals, french = out
    assert totals["official"]["valid"] is False
    assert totals["official"]["sets"] == ["CEN-UBL"]
    assert {"BR-CO-10", "BR-CO-15"} <= {r["code"] for r in totals["official"]["reasons"]}
    assert french["official"]["sets"] == ["FX-EN16931", "BR-FR-CII"]
    assert french["official"]["only_official"] == []
    assert french["official"]["only_ingest"] == []


def test_missing_file_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["validate", "/nonexistent.xml", "--json"])
    assert result.exit_code == 2

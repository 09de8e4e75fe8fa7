"""Every CDAR the project writes passes the CDAR D22B schema and the official BR-FR-CDV
schematron (XP Z12-012, compiled XSLT run with SaxonC-HE), and transmit reads back what it
says; documents breaking the rules are refused before anything is sent."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from saxonche import PySaxonProcessor

from services.transmit.adapters.cdar_schema import CdarInvalid, parse_valid, read_statuses
from services.transmit.domain.cdar import CdarError, CdarStatus, Party, Payment, build_cdar
from services.transmit.lifecycle_send import LifecycleSender, SendRefused, SendRequest
from services.transmit.pa_sim.cdar_emit import lifecycle_cdar
from services.transmit.pa_sim.invoice_facts import InvoiceFacts
from services.transmit.pa_sim.labels import LIFECYCLE_LABELS

pytestmark = pytest.mark.integration

XSLT = Path(__file__).resolve().parents[4] / "shared" / "spec" / "afnor" / "cdar-schematron" / \
    "BR-FR-CDV-Schematron-CDAR.xslt"
FACTS = InvoiceFacts(number="F2026-0042", issue_date=date(2026, 11, 27),
                     seller_siren="732829320")
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def schematron() -> Any:
    proc = PySaxonProcessor(license=False)
    executable = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(XSLT))
    return proc, executable


def fatal_failures(schematron: Any, data: bytes) -> list[str]:
    proc, executable = schematron
    report = executable.transform_to_string(xdm_node=proc.parse_xml(xml_text=data.decode()))
    failed = re.findall(r"<svrl:failed-assert\b[^>]*>", report)
    return [re.search(r'id="([^"]+)"', f).group(1)  # type: ignore[union-attr]
            for f in failed if 'flag="fatal"' in f]


def test_the_schematron_does_catch_a_broken_status(schematron: Any) -> None:
    good = lifecycle_cdar(212, FACTS, document_id="x", at=AT)
    broken = re.sub(rb"<ram:SpecifiedDocumentStatus>.*</ram:SpecifiedDocumentStatus>", b"",
                    good, flags=re.S)
    assert fatal_failures(schematron, good) == []
    assert "BR-FR-CDV-14_MDT-207" in fatal_failures(schematron, broken)


@pytest.mark.parametrize("code", sorted(LIFECYCLE_LABELS))
def test_every_status_the_simulator_emits_passes_schema_and_rules(schematron: Any,
                                                                  code: int) -> None:
    data = lifecycle_cdar(code, FACTS, document_id=str(uuid.uuid4()), at=AT)
    [status] = read_statuses(data)
    assert (status.code, status.invoice_number, status.seller_siren) == (
        code, "F2026-0042", "732829320")
    assert fatal_failures(schematron, data) == []


@pytest.mark.parametrize(("code", "reason"), [(212, None), (207, "AUTRE"), (210, "DOUBLON")])
def test_statuses_the_seller_sends_pass_schema_and_rules(schematron: Any, code: int,
                                                         reason: str | None) -> None:
    sender = LifecycleSender(pool=None, publish=None, pa=None)  # type: ignore[arg-type]
    req = SendRequest(invoice_id=uuid.uuid4(), code=code, on=date(2026, 12, 1),
                      amount=Decimal("120.00") if code == 212 else None,
                      vat_rate=Decimal("20") if code == 212 else None, reason_code=reason,
                      reason_text="motif")
    data = sender.document(req, "73282932000074", "F2026-0042", date(2026, 11, 27))
    assert data == sender.document(req, "73282932000074", "F2026-0042", date(2026, 11, 27))
    [status] = read_statuses(data)
    assert status.code == code
    assert fatal_failures(schematron, data) == []
    if code == 212:
        assert b"<ram:TypeCode>MEN</ram:TypeCode>" in data
        assert b'<ram:ValueAmount currencyID="EUR">120.00</ram:ValueAmount>' in data
        assert b"<ram:ValuePercent>20</ram:ValuePercent>" in data


@pytest.mark.parametrize(("changes", "code"), [
    ({"code": 212}, "cdar-amount"),
    ({"code": 212, "payments": (Payment(Decimal("10"), Decimal("19")),)}, "cdar-vat-rate"),
    ({"code": 210}, "cdar-reason"),
])
def test_statuses_breaking_the_rules_are_refused_before_sending(changes: dict[str, Any],
                                                                code: str) -> None:
    base: dict[str, Any] = {
        "document_id": "d", "issued_at": AT, "invoice_number": "F1",
        "invoice_date": date(2026, 11, 27), "seller_siren": "732829320",
        "sender": Party("SE"), "issuer": Party("SE", "732829320"), "recipient": Party("DFH")}
    with pytest.raises(CdarError) as caught:
        build_cdar(CdarStatus(**{**base, **changes}))
    assert caught.value.code == code
    sender = LifecycleSender(pool=None, publish=None, pa=None)  # type: ignore[arg-type]
    with pytest.raises(SendRefused):
        sender.document(SendRequest(invoice_id=uuid.uuid4(), code=210, on=date(2026, 12, 1),
                                    reason_code="PU_ERR"), "73282932000074", "F1", None)


@pytest.mark.parametrize(("data", "code"), [
    (b"not xml", "cdar-syntax"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "cdar-dtd"),
    (b"<x/>", "cdar-schema"),
    (b"<rsm:CrossDomainAcknowledgementAndResponse xmlns:rsm='urn:un:unece:uncefact:data:"
     b"standard:CrossDomainAcknowledgementAndResponse:100'/>", "cdar-schema"),
])
def test_hostile_or_invalid_cdars_are_refused_with_a_reason(data: bytes, code: str) -> None:
    with pytest.raises(CdarInvalid) as caught:
        parse_valid(data)
    assert caught.value.code == code

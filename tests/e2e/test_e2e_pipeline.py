"""The whole pipeline through `efacture up`, the CLI and the broker (issue 2's done-when)."""

from __future__ import annotations

import pytest

from tests.support.invoices import TENANT as INVOICES_TENANT
from tests.support.invoices import cii_invoice
from tests.support.system import CORPUS, System

pytestmark = pytest.mark.e2e

TENANT = "99999999800010"
BASIC_WL = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_BASICWL.pdf"


def _events_for(events: list[dict], submission_id: str) -> list[str]:
    return [e["event"] for e in events if e["submission_id"] == submission_id]


@pytest.fixture(scope="module")
def tenant(system: System) -> str:
    system.cli(
        "tenant", "add", TENANT, "--name", "Demo", "--subscribed-on", "2026-11-01", "--sandbox"
    )
    return TENANT


def test_submitted_factur_x_is_received_archived_and_transmitted(system, listener, tenant):
    [sub] = system.cli_json("submit", str(BASIC_WL), "--tenant", tenant)
    sid = sub["submission_id"]
    listener.wait_for(
        lambda ev: {"received", "archived", "transmitted"} <= set(_events_for(ev, sid))
    )
    names = _events_for(listener.snapshot(), sid)
    assert names.index("received") < names.index("archived") < names.index("transmitted")
    history = system.cli_json("status", sid)
    assert history["tenant"] == tenant
    assert history["invoice_number"]
    assert [e["event"] for e in history["events"]][:3] == ["received", "archived", "transmitted"]
    archived = next(e for e in history["events"] if e["event"] == "archived")
    assert {"sha256", "timestamp", "log_index"} <= set(archived["detail"])


def test_status_event_has_every_contract_key(system, listener, tenant):
    events = listener.wait_for(lambda ev: any(e["event"] == "received" for e in ev))
    keys = {
        "schema",
        "event_id",
        "event",
        "occurred_at",
        "tenant",
        "submission_id",
        "invoice_id",
        "invoice_number",
        "lifecycle_code",
        "lifecycle_label",
        "reasons",
        "detail",
    }
    for e in events:
        assert set(e) == keys
        assert e["schema"] == "efacture.status.v1"


def test_same_message_id_twice_archives_once_and_adds_no_event(system, listener, tmp_path):
    system.cli(
        "tenant",
        "add",
        INVOICES_TENANT,
        "--name",
        "Dup",
        "--subscribed-on",
        "2026-01-01",
        "--sandbox",
    )
    doc = tmp_path / "dup.xml"
    doc.write_bytes(cii_invoice("DUP-0001"))
    args = ("submit", str(doc), "--tenant", INVOICES_TENANT, "--no-transmit")
    system.cli_json(*args, "--message-id", "dup-check-1")
    listener.wait_for(lambda ev: "archived" in _events_for(ev, "dup-check-1"))
    system.cli_json(*args, "--message-id", "dup-check-1")
    # The same invoice under a new message id is the French DOUBLON: rejected, and its
    # verdict arriving proves the repeat before it was processed (one consumer, in order).
    system.cli_json(*args, "--message-id", "dup-check-2")
    events = listener.wait_for(lambda ev: "rejected" in _events_for(ev, "dup-check-2"))
    assert _events_for(events, "dup-check-1") == ["received", "archived"]
    doublon = next(e for e in events if e["submission_id"] == "dup-check-2")
    assert [r["code"] for r in doublon["reasons"]] == ["duplicate-invoice"]
    invoices = system.cli_json("invoice", "list", "--tenant", INVOICES_TENANT)
    assert sum(1 for i in invoices if i["submission_id"] == "dup-check-1") == 1
    assert system.cli_json("status", "dup-check-1")["state"] == "archived"


def test_unknown_tenant_is_rejected_with_a_reason(system, listener, tenant):
    [sub] = system.cli_json("submit", str(BASIC_WL), "--tenant", "12345678900000")
    events = listener.wait_for(lambda ev: "rejected" in _events_for(ev, sub["submission_id"]))
    rejected = next(e for e in events if e["submission_id"] == sub["submission_id"])
    assert rejected["reasons"][0]["code"] == "unknown-tenant"


def _sim(system):
    from services.transmit.pa_sim.controls import control_headers

    return (f"http://127.0.0.1:{system.env['EFACTURE_PA_SIM_PORT']}",
            control_headers(system.env["EFACTURE_DATA_DIR"]))


def _lifecycle(events: list[dict], sid: str) -> list[dict]:
    return [e for e in events if e["submission_id"] == sid and e["event"] == "lifecycle"]


def test_cdar_statuses_follow_the_acknowledgement_then_the_seller_sends_212(
    system, listener, tenant, tmp_path
):
    """200 → 202 → 205 through CDAR flows, a CDAR failing the schema skipped with its reason
    in the log, then 212 Encaissée sent by the seller, exactly once across two runs."""
    import httpx

    sim, ctl = _sim(system)
    httpx.post(f"{sim}/_sim/config", json={"lifecycle_codes": [202, 205]},
               headers=ctl).raise_for_status()
    try:
        system.cli("tenant", "add", INVOICES_TENANT, "--name", "Life", "--subscribed-on",
                   "2026-01-01", "--sandbox", check=False)
        bad = httpx.post(f"{sim}/_sim/inbound", headers=ctl, json={
            "client_id": INVOICES_TENANT, "name": "broken.xml",
            "content": "<rsm:CrossDomainAcknowledgementAndResponse xmlns:rsm="
                       "'urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse"
                       ":100'/>"})
        bad.raise_for_status()
        doc = tmp_path / "life.xml"
        doc.write_bytes(cii_invoice("LIFE-0001"))
        [sub] = system.cli_json("submit", str(doc), "--tenant", INVOICES_TENANT)
        sid = sub["submission_id"]
        events = listener.wait_for(lambda ev: len(_lifecycle(ev, sid)) >= 3, timeout=90)
        got = _lifecycle(events, sid)
        assert [e["lifecycle_code"] for e in got] == [200, 202, 205]
        assert [e["lifecycle_label"] for e in got] == ["Déposée", "Reçue", "Approuvée"]
        assert [e["detail"].get("source") for e in got[1:]] == ["cdar", "cdar"]
        log = system.log.read_text(errors="replace")
        assert "lifecycle-cdar-invalid" in log
        assert bad.json()["flowId"] in log
        invoice_id = got[0]["invoice_id"]
        args = ("lifecycle", "send", invoice_id, "--code", "212", "--amount", "120.00",
                "--vat-rate", "20", "--date", "2026-12-01")
        first = system.cli_json(*args, "--json")
        again = system.cli_json(*args, "--json")
        assert first["already_sent"] is False
        assert again["already_sent"] is True
        assert again["event_id"] == first["event_id"]
        events = listener.wait_for(
            lambda ev: any(e["lifecycle_code"] == 212 for e in _lifecycle(ev, sid)), timeout=60)
        sent = [e for e in _lifecycle(events, sid) if e["lifecycle_code"] == 212]
        assert {e["event_id"] for e in sent} == {first["event_id"]}
        assert sent[0]["detail"]["direction"] == "sent"
        assert sent[0]["lifecycle_label"] == "Encaissée"
        stats = httpx.get(f"{sim}/_sim/stats", headers=ctl).json()
        assert stats["by_tracking_id"][first["tracking_id"]] == 1
    finally:
        httpx.post(f"{sim}/_sim/config", json={"lifecycle_codes": []}, headers=ctl)


def test_upload_acknowledged_error_with_details_is_213_with_those_reasons(
    system, listener, tenant, tmp_path
):
    import httpx

    sim, ctl = _sim(system)
    httpx.post(f"{sim}/_sim/config", json={"ack_error_rate": 1.0},
               headers=ctl).raise_for_status()
    try:
        system.cli("tenant", "add", INVOICES_TENANT, "--name", "Life", "--subscribed-on",
                   "2026-01-01", "--sandbox", check=False)
        doc = tmp_path / "err.xml"
        doc.write_bytes(cii_invoice("ERR-0001"))
        [sub] = system.cli_json("submit", str(doc), "--tenant", INVOICES_TENANT)
        sid = sub["submission_id"]
        events = listener.wait_for(lambda ev: len(_lifecycle(ev, sid)) >= 1, timeout=90)
        [rejected] = _lifecycle(events, sid)
        assert rejected["lifecycle_code"] == 213
        assert rejected["detail"]["ack_status"] == "Error"
        assert [(r["code"], r["message"]) for r in rejected["reasons"]] == [
            ("InvalidSchema", "Rejet sémantique simulé par le PA")]
    finally:
        httpx.post(f"{sim}/_sim/config", json={"ack_error_rate": 0.0}, headers=ctl)


def test_lifecycle_send_after_a_lost_answer_uploads_nothing_twice(
    system, listener, tenant, tmp_path
):
    import httpx

    sim, ctl = _sim(system)
    system.cli("tenant", "add", INVOICES_TENANT, "--name", "Life", "--subscribed-on",
               "2026-01-01", "--sandbox", check=False)
    doc = tmp_path / "lost.xml"
    doc.write_bytes(cii_invoice("LOST-0001"))
    [sub] = system.cli_json("submit", str(doc), "--tenant", INVOICES_TENANT)
    sid = sub["submission_id"]
    events = listener.wait_for(lambda ev: len(_lifecycle(ev, sid)) >= 1, timeout=90)
    invoice_id = _lifecycle(events, sid)[0]["invoice_id"]
    args = ("lifecycle", "send", invoice_id, "--code", "212", "--amount", "50.00",
            "--vat-rate", "5.5", "--date", "2026-12-02")
    httpx.post(f"{sim}/_sim/config", json={"lost_answer_rate": 1.0},
               headers=ctl).raise_for_status()
    try:
        lost = system.cli(*args, "--json", check=False)
    finally:
        httpx.post(f"{sim}/_sim/config", json={"lost_answer_rate": 0.0}, headers=ctl)
    assert lost.returncode == 1
    assert "run the command again" in lost.stderr
    done = system.cli_json(*args)
    assert done["already_sent"] is False
    stats = httpx.get(f"{sim}/_sim/stats", headers=ctl).json()
    assert stats["by_tracking_id"][done["tracking_id"]] == 1
    events = listener.wait_for(
        lambda ev: any(e["lifecycle_code"] == 212 for e in _lifecycle(ev, sid)), timeout=60)
    assert len({e["event_id"] for e in _lifecycle(events, sid) if e["lifecycle_code"] == 212}) == 1

"""Webhooks from the PA (``EFACTURE_PA_WEBHOOK_URL`` set), through ``efacture up``.

Transmit subscribes the tenant at the simulator, the simulator's signed callbacks wake the
lifecycle follower (200 → 202 → 205 arrive), forged or stale callbacks are refused with a
reason, and ``tenant stop`` removes the subscription.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.transmit.pa_sim import free_port
from services.transmit.pa_sim.controls import control_headers
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    port = free_port()
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-webhooks"),
                  EFACTURE_PA_WEBHOOK_URL=f"http://127.0.0.1:{port}",
                  EFACTURE_PA_WEBHOOK_PORT=str(port),
                  EFACTURE_PA_SIM_LIFECYCLE_CODES="202,205")
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


def _stats(system: System) -> dict[str, Any]:
    sim = f"http://127.0.0.1:{system.env['EFACTURE_PA_SIM_PORT']}"
    data: dict[str, Any] = httpx.get(f"{sim}/_sim/stats", timeout=10, headers=control_headers(
        system.env["EFACTURE_DATA_DIR"])).json()
    return data


def _until(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def test_signed_callbacks_bring_the_statuses_and_stop_unsubscribes(
        system: System, listener: Any, tmp_path: Path) -> None:
    system.cli("tenant", "add", TENANT, "--name", "Hooks", "--subscribed-on", "2026-01-01",
               "--sandbox")
    _until(lambda: _stats(system)["webhooks"] == 1)
    doc = tmp_path / "hook.xml"
    doc.write_bytes(cii_invoice("HOOK-0001"))
    [sub] = system.cli_json("submit", str(doc), "--tenant", TENANT)
    sid = sub["submission_id"]

    def codes(events: list[dict[str, Any]]) -> list[int]:
        return [e["lifecycle_code"] for e in events
                if e["submission_id"] == sid and e["event"] == "lifecycle"]

    events = listener.wait_for(lambda ev: len(codes(ev)) >= 3, timeout=90)
    assert codes(events) == [200, 202, 205]
    # 2xx only once the receiver verified the signature with the key of that subscription.
    deliveries = _stats(system)["webhook_deliveries"]
    assert deliveries["accepted"] >= 2
    assert deliveries["refused"] == 0

    receiver = system.env["EFACTURE_PA_WEBHOOK_URL"]
    body = b'{"flowId": "forged"}'
    now = str(int(time.time()))
    forged = [
        ({}, 401, "no-signature"),
        ({"Afnor-Signature": "AAAA", "Afnor-Signature-Timestamp": now}, 401, "bad-signature"),
        ({"Afnor-Signature": "AAAA", "Afnor-Signature-Timestamp": "1000"}, 401,
         "stale-timestamp"),
    ]
    for headers, status, reason in forged:
        answer = httpx.post(f"{receiver}/{TENANT}", content=body, headers=headers)
        assert (answer.status_code, answer.json()["errorCode"]) == (status, reason)
    assert httpx.post(f"{receiver}/12345678900000", content=body).status_code == 404

    system.cli("tenant", "stop", TENANT, "-o", str(tmp_path / "export.zip"))
    _until(lambda: _stats(system)["webhooks"] == 0)
    assert "pa-webhook-refused" in system.log.read_text(errors="replace")

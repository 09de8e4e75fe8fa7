"""Metering through ``efacture up``: archived invoices are counted once, and reconcile agrees."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

pytestmark = pytest.mark.e2e

COUNT = 4


@pytest.fixture(scope="module")
def tenant(system: System) -> str:
    system.cli("tenant", "add", TENANT, "--name", "Metered", "--subscribed-on", "2026-01-01",
               "--sandbox")
    return TENANT


@pytest.fixture(scope="module")
def invoices(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("metered")
    made = []
    for i in range(COUNT):
        path = folder / f"metered-{i}.xml"
        path.write_bytes(cii_invoice(f"MTR-{i:04d}"))
        made.append((f"metering-e2e-{i}", path))
    return made


def _submit(system: System, tenant: str, invoices: list[tuple[str, Path]]) -> None:
    for message_id, path in invoices:
        system.cli("submit", str(path), "--tenant", tenant, "--no-transmit",
                   "--message-id", message_id)


def _archived(events: list[dict[str, Any]], ids: set[str]) -> set[str]:
    return {e["submission_id"] for e in events if e["event"] == "archived"} & ids


def _usage_when(system: System, tenant: str, count: int, timeout: float = 60) -> dict[str, Any]:
    """The usage report once metering has caught up with ``count`` invoices."""
    deadline = time.monotonic() + timeout
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        report = system.cli_json("usage", tenant)
        if report["cumulative"] >= count:
            return report
        time.sleep(0.2)
    raise AssertionError(f"metering did not count {count} invoices: {report}")


def test_archived_invoices_are_counted_and_reconcile_agrees(system, listener, tenant, invoices):
    ids = {message_id for message_id, _ in invoices}
    _submit(system, tenant, invoices)
    listener.wait_for(lambda ev: _archived(ev, ids) == ids)
    report = _usage_when(system, tenant, COUNT)
    assert (report["period_count"], report["stored"], report["cumulative"]) == (COUNT,) * 3
    assert (report["tenant"], report["subscribed_on"]) == (tenant, "2026-01-01")
    assert (report["plan"], report["tranches"]) == ("free", 0)
    res = system.cli("usage", "reconcile", "--json", check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_resubmitting_the_same_message_ids_changes_nothing(system, listener, tenant, invoices):
    before = system.cli_json("usage", tenant)
    _submit(system, tenant, invoices)
    # A later, new invoice being counted proves the repeats went through the pipeline first.
    probe_dir = invoices[0][1].parent
    probe = probe_dir / "probe.xml"
    probe.write_bytes(cii_invoice("MTR-PROBE"))
    _submit(system, tenant, [("metering-e2e-probe", probe)])
    listener.wait_for(lambda ev: _archived(ev, {"metering-e2e-probe"}) == {"metering-e2e-probe"})
    after = _usage_when(system, tenant, COUNT + 1)
    assert after["cumulative"] == before["cumulative"] + 1
    assert after["period_count"] == before["period_count"] + 1
    assert after["stored"] == before["stored"] + 1
    assert system.cli("usage", "reconcile", check=False).returncode == 0

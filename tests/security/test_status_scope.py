"""Issue 10 property 6: two tenants using the same ``message_id`` never see each other's
history in ``efacture status``: ``--tenant`` scopes it, and without it an ambiguous id is
refused in one sentence (exit 1)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from tests.support.hostile import seller_siret
from tests.support.system import StatusListener, System

pytestmark = pytest.mark.security

A = f"9{random.randrange(10**8):08d}00010"
B = f"9{random.randrange(10**8):08d}00029"
MID = f"shared-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def submitted(system: System, listener: StatusListener,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``{tenant: invoice_id}``: A and B each archived an invoice under the same MID."""
    folder = tmp_path_factory.mktemp("status-docs")
    for siret in (A, B):
        system.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                   "2026-01-01", "--sandbox")
        doc = folder / f"{siret}.xml"
        doc.write_bytes(seller_siret(f"ST-{siret[-6:]}", siret))
        system.cli("submit", str(doc), "--tenant", siret, "--no-transmit", "--message-id", MID)
    events = listener.wait_for(lambda ev: {A, B} <= {
        e["tenant"] for e in ev if e["submission_id"] == MID and e["event"] == "archived"})
    return {e["tenant"]: e["invoice_id"] for e in events
            if e["submission_id"] == MID and e["event"] == "archived"}


def _status(system: System, *args: str) -> Any:
    return system.cli_json("status", *args)


def test_an_id_two_tenants_used_is_refused_without_tenant(
    system: System, submitted: dict[str, str],
) -> None:
    for extra in ((), ("--json",)):
        res = system.cli("status", MID, *extra, check=False)
        assert res.returncode == 1
        assert res.stdout == ""
        sentence = res.stderr.strip()
        assert "\n" not in sentence
        assert "--tenant" in sentence


@pytest.mark.parametrize("who", ["A", "B"])
def test_tenant_scopes_the_history_to_that_tenant_alone(
    system: System, submitted: dict[str, str], who: str,
) -> None:
    tenant, other = (A, B) if who == "A" else (B, A)
    h = _status(system, MID, "--tenant", tenant)
    assert h["tenant"] == tenant
    assert h["invoice_id"] == submitted[tenant]
    assert h["invoice_number"] == f"ST-{tenant[-6:]}"
    assert h["state"] == "archived"
    assert {e["tenant"] for e in h["events"]} == {tenant}
    assert submitted[other] not in {e["invoice_id"] for e in h["events"]}


def test_an_invoice_id_is_unambiguous_without_tenant(
    system: System, submitted: dict[str, str],
) -> None:
    h = _status(system, submitted[A])
    assert (h["tenant"], h["submission_id"]) == (A, MID)
    assert {e["tenant"] for e in h["events"]} == {A}


def test_another_tenants_invoice_id_is_unknown_under_tenant(
    system: System, submitted: dict[str, str],
) -> None:
    res = system.cli("status", submitted[B], "--tenant", A, check=False)
    assert res.returncode == 1
    assert "\n" not in res.stderr.strip()
    assert B not in res.stdout

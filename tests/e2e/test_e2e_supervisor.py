"""`efacture up` keeps its services alive: a SIGKILLed service is restarted and nothing is lost."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from efacture.cli.submit import Submitter
from tests.support.invoices import TENANT, cii_invoice

pytestmark = pytest.mark.e2e

N = 60


@pytest.mark.parametrize("victim", ["archive", "ingest", "metering"])
def test_sigkilled_service_is_restarted_and_no_invoice_is_lost(system, listener, victim):
    system.cli(
        "tenant", "add", TENANT, "--name", "Kill", "--subscribed-on", "2026-01-01", "--sandbox"
    )
    run = uuid.uuid4().hex[:8]
    ids = [f"{victim}-{run}-{i}" for i in range(N)]
    before = system.child_pids(victim)
    assert before, f"no {victim} child running"

    def publish() -> None:
        sub = Submitter(system.env["EFACTURE_AMQP_URL"])
        try:
            for i, mid in enumerate(ids):
                sub.publish(
                    cii_invoice(f"K-{run}-{i}"),
                    tenant=TENANT,
                    message_id=mid,
                    content_type="application/xml",
                    transmit=False,
                )
        finally:
            sub.close()

    t = threading.Thread(target=publish)
    t.start()
    time.sleep(0.3)
    killed = system.kill(victim)
    t.join()
    assert killed
    wanted = set(ids)
    listener.wait_for(
        lambda ev: wanted <= {e["submission_id"] for e in ev if e["event"] == "archived"},
        timeout=120,
    )
    # Restarted: a new process runs under the same name.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (set(system.child_pids(victim)) - set(killed)):
        time.sleep(0.2)
    assert set(system.child_pids(victim)) - set(killed)
    archived = [
        e for e in listener.snapshot() if e["event"] == "archived" and e["submission_id"] in wanted
    ]
    assert len({e["invoice_id"] for e in archived}) == N  # each invoice archived, once
    invoices = system.cli_json("invoice", "list", "--tenant", TENANT)
    assert sum(1 for i in invoices if i["submission_id"] in wanted) == N

"""`efacture up` drains on SIGTERM: a clean exit, and after a restart nothing lost or doubled."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from efacture.cli.submit import Submitter
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

pytestmark = pytest.mark.e2e

N = 150


def test_sigterm_drains_in_flight_work_and_a_restart_finishes_the_rest(infra, tmp_path):
    system = System(infra, tmp_path)
    system.start()
    system.cli(
        "tenant", "add", TENANT, "--name", "Drain", "--subscribed-on", "2026-01-01", "--sandbox"
    )
    run = uuid.uuid4().hex[:8]
    sub = Submitter(system.env["EFACTURE_AMQP_URL"])
    try:
        for i in range(N):
            sub.publish(
                cii_invoice(f"D-{run}-{i}"),
                tenant=TENANT,
                message_id=f"drain-{run}-{i}",
                content_type="application/xml",
                transmit=False,
            )
    finally:
        sub.close()
    time.sleep(0.5)  # work is in flight in every service
    assert system.stop() == 0  # SIGTERM: consumers stop, in-flight messages finish, exit 0

    system.start()
    try:
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline:
            with psycopg.connect(infra.database_url) as conn:
                count = conn.execute(
                    "SELECT count(*) FROM archive.invoice WHERE submission_id LIKE %s",
                    (f"drain-{run}-%",),
                ).fetchone()[0]
                metered = conn.execute("SELECT count(*) FROM metering.counted").fetchone()[0]
            if count == N and metered == N:
                break
            time.sleep(0.5)
        assert count == N
        assert metered == N
        with psycopg.connect(infra.database_url) as conn:
            leaves = conn.execute("SELECT count(*) FROM archive.log_leaf").fetchone()[0]
            archived_events = conn.execute(
                "SELECT count(*) FROM core.outbox WHERE routing_key LIKE 'status.%%.archived'"
            ).fetchone()[0]
        assert leaves == N  # one Merkle leaf per invoice, none doubled
        assert archived_events == N
    finally:
        system.stop()

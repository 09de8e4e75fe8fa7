"""``efacture up`` with two processes of every service: each its own health port, each
restarted on its own when it dies, and the invoices of a run archived once while one archive
process is SIGKILLed."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from efacture.cli.submit import Submitter
from shared.metrics import service_port
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

pytestmark = pytest.mark.e2e

SERVICES = ("ingest", "archive", "transmit", "metering")
REPLICAS = ",".join(f"{s}=2" for s in SERVICES)
N = 60


@pytest.fixture(scope="module")
def system(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    # Small pools: eight service processes share the machine's PostgreSQL with other suites.
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-replicas"), EFACTURE_REPLICAS=REPLICAS,
                  EFACTURE_DB_POOL_SIZE="4")
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_two_processes_of_each_service_each_answer_their_own_health_port(system: System) -> None:
    base = int(system.env["EFACTURE_METRICS_PORT_BASE"])
    for service in SERVICES:
        assert len(system.child_pids(service)) == 2, f"{service} does not run twice"
        for replica in (0, 1):
            url = f"http://127.0.0.1:{service_port(base, service, replica)}/health"
            assert httpx.get(url, timeout=5).status_code == 200, url
    listed = system.log.read_text()
    assert "efacture up: archive#1 pid" in listed, "up did not list its processes"


def test_a_killed_replica_is_restarted_alone_and_every_invoice_is_archived_once(
        system: System, listener: Any) -> None:
    system.cli("tenant", "add", TENANT, "--name", "Replicas", "--subscribed-on", "2026-01-01",
               "--sandbox")
    run = uuid.uuid4().hex[:8]
    ids = [f"rep-{run}-{i}" for i in range(N)]
    victim, survivor = sorted(system.child_pids("archive"))

    def publish() -> None:
        sub = Submitter(system.env["EFACTURE_AMQP_URL"])
        try:
            for i, mid in enumerate(ids):
                sub.publish(cii_invoice(f"R-{run}-{i}"), tenant=TENANT, message_id=mid,
                            content_type="application/xml", transmit=False)
        finally:
            sub.close()

    t = threading.Thread(target=publish)
    t.start()
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    t.join()
    wanted = set(ids)
    listener.wait_for(
        lambda ev: wanted <= {e["submission_id"] for e in ev if e["event"] == "archived"},
        timeout=120)
    _wait(lambda: len(system.child_pids("archive")) == 2, 30, "the dead replica stayed dead")
    pids = set(system.child_pids("archive"))
    assert survivor in pids, "up restarted a replica that had not died"
    assert victim not in pids
    # Events are at-least-once: a process killed between publish and outbox mark sends the
    # same event again with the same event_id, which partners dedupe. Twice archived would be
    # two different event_ids for one submission.
    archived: dict[str, set[str]] = {}
    for e in listener.snapshot():
        if e["event"] == "archived" and e["submission_id"] in wanted:
            archived.setdefault(e["submission_id"], set()).add(e["event_id"])
    assert set(archived) == wanted
    twice = {sid: ids_ for sid, ids_ in archived.items() if len(ids_) != 1}
    assert not twice, f"an invoice was archived other than once: {twice}"
    invoices = system.cli_json("invoice", "list", "--tenant", TENANT)
    assert sum(1 for i in invoices if i["submission_id"] in wanted) == N

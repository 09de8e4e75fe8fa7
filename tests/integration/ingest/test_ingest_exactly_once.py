"""Ingest exactly once (issue 3 item 5): the same ``message_id`` again adds nothing; the same
seller + invoice number under a new ``message_id`` is ``duplicate-invoice``. Both hold with
two ``efacture serve ingest`` processes on the same queue, the same message published many
times at once, and across a SIGKILL of every ingest process (a unique constraint, not a cache).
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from efacture.cli.submit import Submitter
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE, StatusListener, System

pytestmark = pytest.mark.integration

COPIES = 24
PUBLISHERS = 6


class ExtraIngest:
    """A second ``efacture serve ingest`` next to the one ``efacture up`` runs."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([EFACTURE, "serve", "ingest"], env=self.system.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == b"READY ingest":
                return
        raise AssertionError("the second ingest process did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def ready(system: System) -> Iterator[ExtraIngest]:
    system.cli("tenant", "add", TENANT, "--name", "Once", "--subscribed-on", "2026-01-01",
               "--sandbox")
    extra = ExtraIngest(system)
    extra.start()
    yield extra
    extra.stop()


@pytest.fixture(scope="module")
def listener(system: System) -> Iterator[StatusListener]:
    lst = StatusListener(system.infra.amqp_url)
    yield lst
    lst.close()


def publish_concurrently(system: System, items: list[tuple[str, bytes]]) -> None:
    """Publish every (message_id, body) from ``PUBLISHERS`` threads released at once."""
    gate = threading.Barrier(PUBLISHERS)

    def run(share: list[tuple[str, bytes]]) -> None:
        sub = Submitter(system.infra.amqp_url)
        gate.wait()
        for mid, body in share:
            sub.publish(body, tenant=TENANT, message_id=mid, content_type="application/xml",
                        transmit=False)
        sub.close()

    threads = [threading.Thread(target=run, args=(items[i::PUBLISHERS],))
               for i in range(PUBLISHERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def drained(system: System, queue: str = "efacture.ingest", timeout: float = 120) -> None:
    """Wait until ``queue`` holds no message, ready or unacknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", system.infra.vhost,
                              "name", "messages"], capture_output=True, text=True).stdout
        counts = dict(line.split("\t") for line in out.strip().splitlines() if "\t" in line)
        if counts.get(queue) == "0":
            return
        time.sleep(0.3)
    raise AssertionError(f"{queue} did not drain")


def facts(system: System, mids: list[str]) -> dict[str, Any]:
    with psycopg.connect(system.infra.database_url, autocommit=True) as conn:
        subs = conn.execute("SELECT message_id, state, invoice_id FROM ingest.submission"
                            " WHERE message_id = ANY(%s)", (mids,)).fetchall()
        ids = [r[2] for r in subs if r[1] == "accepted"]
        events = conn.execute(
            "SELECT submission_id, convert_from(body, 'UTF8')::jsonb->>'event',"
            " convert_from(body, 'UTF8')::jsonb->'reasons' FROM core.outbox"
            " WHERE exchange = 'efacture.status' AND submission_id = ANY(%s)", (mids,)).fetchall()
        archived = conn.execute("SELECT count(*) FROM archive.invoice WHERE invoice_id = ANY(%s)",
                                (ids,)).fetchone()
        counted = conn.execute("SELECT count(*) FROM metering.counted WHERE invoice_id = ANY(%s)",
                               (ids,)).fetchone()
    return {"submissions": subs, "events": sorted((e[0], e[1]) for e in events),
            "reasons": {e[0]: [r["code"] for r in e[2]] for e in events if e[1] == "rejected"},
            "archived": archived[0] if archived else 0, "counted": counted[0] if counted else 0,
            "accepted": [str(i) for i in ids]}


def settled(listener: StatusListener, mids: set[str], event: str = "archived") -> None:
    listener.wait_for(lambda ev: any(e["event"] == event and e["submission_id"] in mids
                                     for e in ev), timeout=120)


def wait_counted(system: System, expected: int, mids: list[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        got = facts(system, mids)
        if got["counted"] >= expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_same_message_id_published_many_times_to_two_consumers_is_archived_once(
        system, ready, listener, tmp_path):
    mid = f"once-{uuid.uuid4().hex[:8]}"
    publish_concurrently(system, [(mid, cii_invoice(f"ONCE-{mid}"))] * COPIES)
    settled(listener, {mid})
    drained(system)
    got = wait_counted(system, 1, [mid])
    assert len(got["submissions"]) == 1
    assert got["events"] == [(mid, "archived"), (mid, "received")]
    assert got["archived"] == 1
    assert got["counted"] == 1
    seen = [e for e in listener.snapshot() if e["submission_id"] == mid]
    assert sorted({(e["event"], e["event_id"]) for e in seen}) == sorted(
        {(e["event"], e["event_id"]) for e in seen if e["event"] in ("received", "archived")})
    assert len({e["event_id"] for e in seen}) == 2
    # The archived document opens: no concurrent duplicate rewrote its blob.
    system.cli("invoice", "get", got["accepted"][0], "-o", str(tmp_path / "doc.xml"))
    assert Path(tmp_path / "doc.xml").read_bytes() == cii_invoice(f"ONCE-{mid}")


def test_same_invoice_number_under_many_message_ids_is_archived_once(system, ready, listener):
    run = uuid.uuid4().hex[:8]
    body = cii_invoice(f"DOUBLON-{run}")
    mids = [f"doublon-{run}-{i}" for i in range(COPIES)]
    publish_concurrently(system, [(m, body) for m in mids] * 2)
    settled(listener, set(mids))
    drained(system)
    got = wait_counted(system, 1, mids)
    states = sorted(r[1] for r in got["submissions"])
    assert states == ["accepted"] + ["rejected"] * (COPIES - 1)
    assert set(got["reasons"]) == set(mids) - {r[0] for r in got["submissions"]
                                                if r[1] == "accepted"}
    assert all(codes == ["duplicate-invoice"] for codes in got["reasons"].values())
    assert len(got["events"]) == 2 + (COPIES - 1)  # received + archived, one rejected each
    assert got["archived"] == 1
    assert got["counted"] == 1


def test_both_decisions_hold_after_every_ingest_process_is_killed(system, ready, listener):
    mid = f"again-{uuid.uuid4().hex[:8]}"
    body = cii_invoice(f"AGAIN-{mid}")
    publish_concurrently(system, [(mid, body)] * PUBLISHERS)
    settled(listener, {mid})
    drained(system)
    before = wait_counted(system, 1, [mid])
    killed = system.kill("ingest")
    ready.stop()
    assert killed
    ready.start()
    deadline = time.monotonic() + 60
    while not set(system.child_pids("ingest")) - set(killed) - {ready.proc.pid}:
        assert time.monotonic() < deadline, "efacture up did not restart ingest"
        time.sleep(0.2)
    late = f"{mid}-late"
    publish_concurrently(system, [(mid, body)] * PUBLISHERS + [(late, body)] * PUBLISHERS)
    settled(listener, {late}, event="rejected")
    drained(system)
    after = facts(system, [mid, late])
    assert after["events"] == sorted([*before["events"], (late, "rejected")])
    assert after["reasons"] == {late: ["duplicate-invoice"]}
    assert after["archived"] == 1
    assert after["counted"] == 1

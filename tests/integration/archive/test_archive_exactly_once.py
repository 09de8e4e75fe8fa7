"""Archive exactly once (issue 4 item 10): a redelivered archive message creates nothing new —
one blob, one leaf, one catalogue row, one ``archived`` event — even when the consumer is
SIGKILLed between the blob write and the commit, or between the commit and the ack. Blob keys
are content-addressed (a fresh data key per attempt): the crashed attempt's blob is recorded as
pending and swept once the redelivery committed its own.

``efacture serve archive`` runs with ``EFACTURE_FAULT_POINT`` (``shared.faults``), dies at
that point on its first message, and is started again without it.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from efacture.cli.submit import Submitter
from shared.messages.base import derived_id
from shared.vault.blobstore import FileBlobStore
from tests.support.infra import Infra, answers
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE, StatusListener

pytestmark = pytest.mark.integration


class Node:
    """``efacture serve`` processes on one vhost, database and data directory."""

    def __init__(self, infra: Infra, data_dir: Path) -> None:
        self.infra = infra
        self.data_dir = data_dir
        self.env = infra.env(str(data_dir))
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> str:
        return subprocess.run([EFACTURE, *args], env=self.env, check=True, capture_output=True,
                              text=True, timeout=120).stdout

    def serve(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([EFACTURE, "serve", name], env={**self.env, **extra},
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        if name == "tsa":
            deadline = time.monotonic() + 30
            while not answers("127.0.0.1", int(self.env["EFACTURE_TSA_PORT"])):
                assert time.monotonic() < deadline, "the TSA did not start"
                time.sleep(0.1)
            return proc
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == f"READY {name}".encode():
                return proc
        raise AssertionError(f"efacture serve {name} did not start")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def facts(self, invoice_id: uuid.UUID) -> dict[str, Any]:
        with psycopg.connect(self.infra.database_url, autocommit=True) as conn:
            def one(q: str, *a: Any) -> Any:
                row = conn.execute(q, a).fetchone()
                return row[0] if row else None
            return {
                "rows": one("SELECT count(*) FROM archive.invoice WHERE invoice_id = %s",
                            invoice_id),
                "catalogue": one("SELECT count(*) FROM archive.invoice"),
                "leaves": one("SELECT count(*) FROM archive.log_leaf"),
                "archived_events": one(
                    "SELECT count(*) FROM core.outbox WHERE invoice_id = %s AND exchange ="
                    " 'efacture.status' AND convert_from(body, 'UTF8')::jsonb->>'event'"
                    " = 'archived'", invoice_id),
                "pending": one("SELECT count(*) FROM core.outbox WHERE published_at IS NULL"),
                "blob_keys": {r[0] for r in conn.execute(
                    "SELECT blob_key FROM archive.invoice").fetchall()},
                "blobs": set(FileBlobStore(self.data_dir / "blobs").keys()),
                "pending_blobs": {r[0] for r in conn.execute(
                    "SELECT blob_key FROM archive.pending_blob WHERE invoice_id = %s",
                    (invoice_id,)).fetchall()},
            }


@pytest.fixture(scope="module")
def node(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(infra, tmp_path_factory.mktemp("archive-once"))
    n.cli("topology", "apply")
    n.cli("tenant", "add", TENANT, "--name", "Once", "--subscribed-on", "2026-01-01",
          "--sandbox")
    n.serve("tsa")
    n.serve("ingest")
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def listener(infra: Infra, node: Node) -> Iterator[StatusListener]:
    lst = StatusListener(infra.amqp_url)
    yield lst
    lst.close()


@pytest.mark.parametrize("point", ["archive.after_blob", "archive.after_commit"])
def test_archive_killed_at_a_fault_point_archives_once_after_restart(node, listener, point,
                                                                      tmp_path):
    mid = f"fault-{uuid.uuid4().hex[:8]}"
    invoice_id = derived_id("invoice", TENANT, mid)
    before = node.facts(invoice_id)
    doomed = node.serve("archive", EFACTURE_FAULT_POINT=point)
    sub = Submitter(node.infra.amqp_url)
    body = cii_invoice(f"F-{mid}")
    sub.publish(body, tenant=TENANT, message_id=mid, content_type="application/xml",
                transmit=False)
    sub.close()
    assert doomed.wait(timeout=60) == -9, "archive did not die at the fault point"
    crashed = node.facts(invoice_id)
    [written] = crashed["blobs"] - before["blobs"]
    assert crashed["rows"] == (0 if point == "archive.after_blob" else 1)
    # Recorded before the put, forgotten by the commit that made it the catalogue's key.
    assert crashed["pending_blobs"] == ({written} if point == "archive.after_blob" else set())

    survivor = node.serve("archive")
    events = listener.wait_for(lambda ev: any(e["event"] == "archived" and
                                              e["submission_id"] == mid for e in ev), timeout=60)
    deadline = time.monotonic() + 30
    while (after := node.facts(invoice_id))["pending"] and time.monotonic() < deadline:
        time.sleep(0.2)
    survivor.kill()
    survivor.wait()
    assert after["rows"] == 1
    assert after["archived_events"] == 1
    assert after["catalogue"] == before["catalogue"] + 1
    assert after["leaves"] == before["leaves"] + 1
    assert after["blobs"] == after["blob_keys"], "a blob without its row or a row without blob"
    if point == "archive.after_blob":
        assert written not in after["blobs"], "the crashed attempt's blob was not swept"
    else:
        assert written in after["blob_keys"]
    assert len({e["event_id"] for e in events
                if e["event"] == "archived" and e["submission_id"] == mid}) == 1
    out = tmp_path / "doc.xml"
    node.cli("invoice", "get", str(invoice_id), "-o", str(out))
    assert out.read_bytes() == body

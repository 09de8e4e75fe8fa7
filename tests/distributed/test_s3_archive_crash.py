"""Archive SIGKILLed between the blob write and the catalogue commit, with its blobs on S3.

The S3 store never overwrites a different object (create-only put). Blob keys are the content
address of the ciphertext, a fresh data key per attempt: the redelivery writes a blob under a
new key, commits it (one row, one leaf, one ``archived`` event, no dead letter), and sweeps the
crashed attempt's blob, so the store holds exactly the key the catalogue row names.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pika
import psycopg
import pytest

from efacture.cli.submit import Submitter
from shared.messages.base import derived_id
from shared.topology import dlq_name
from shared.vault.blob_factory import blob_store_for_env
from tests.distributed.node import Node
from tests.distributed.seaweed import SeaweedFS
from tests.support.infra import Infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener

pytestmark = pytest.mark.distributed

WAIT = 120.0


@pytest.fixture(scope="module")
def node(infra: Infra, seaweed: SeaweedFS, bucket: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(infra, tmp_path_factory.mktemp("s3-crash"), EFACTURE_BLOB_URL=f"s3://{bucket}/crash",
             **seaweed.env())
    n.cli("topology", "apply")
    n.cli("tenant", "add", TENANT, "--name", "Crash", "--subscribed-on", "2026-01-01",
          "--sandbox")
    n.serve("tsa")
    n.serve("ingest")
    try:
        yield n
    finally:
        n.stop()


def _dead_letters(amqp_url: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        q = conn.channel().queue_declare(dlq_name("efacture.archive"), passive=True)
        return int(q.method.message_count)
    finally:
        conn.close()


def test_a_crash_after_the_blob_write_archives_once_on_s3(node: Node, infra: Infra) -> None:
    listener = StatusListener(infra.amqp_url)
    try:
        mid = f"crash-{uuid.uuid4().hex[:8]}"
        invoice_id = derived_id("invoice", TENANT, mid)
        doomed = node.serve("archive", EFACTURE_FAULT_POINT="archive.after_blob")
        sub = Submitter(infra.amqp_url)
        sub.publish(cii_invoice(f"F-{mid}"), tenant=TENANT, message_id=mid,
                    content_type="application/xml", transmit=False)
        sub.close()
        assert doomed.wait(timeout=60) == -9, "archive did not die at the fault point"
        store = blob_store_for_env(node.env)
        [crashed] = set(store.keys())  # this module's prefix: the crashed attempt's blob only
        node.serve("archive")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            archived = any(e["event"] == "archived" and e["submission_id"] == mid
                           for e in listener.snapshot())
            if archived or _dead_letters(infra.amqp_url):
                break
            time.sleep(0.2)
        assert _dead_letters(infra.amqp_url) == 0, "the redelivery was dead-lettered"
        events = [e for e in listener.snapshot()
                  if e["event"] == "archived" and e["submission_id"] == mid]
        assert len({e["event_id"] for e in events}) == 1
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            rows = conn.execute("SELECT blob_key FROM archive.invoice WHERE invoice_id = %s",
                                (invoice_id,)).fetchall()
            leaves = conn.execute("SELECT count(*) FROM archive.log_leaf").fetchone()
        assert len(rows) == 1
        assert leaves == (1,)
        [(committed,)] = rows
        assert committed != crashed
        # The sweep runs before the event is published: the orphan is already gone.
        assert set(store.keys()) == {committed}, "the crashed attempt's blob was not swept"
    finally:
        listener.close()

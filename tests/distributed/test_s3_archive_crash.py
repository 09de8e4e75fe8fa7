"""Archive SIGKILLed between the blob write and the catalogue commit, with its blobs on S3.

On the local disk the redelivery rewrites the blob under its fixed per-invoice key (another
data key, so other bytes) and archives the invoice once. On S3 the store never overwrites a
different object, so the same redelivery meets ``blob-conflict`` — until archive keys its blobs
by content (or guards duplicates in the database): the expected failure below records that gap
and turns into an error (strict) the day archive no longer needs to overwrite.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pika
import pytest

from efacture.cli.submit import Submitter
from shared.messages.base import derived_id
from shared.topology import dlq_name
from shared.vault.blob_factory import blob_store_for_env
from shared.vault.blob_key import blob_key
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


@pytest.mark.xfail(strict=True, reason="archive rewrites its fixed per-invoice blob key after a "
                   "crash; the S3 store refuses to overwrite other bytes (blob-conflict)")
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
        assert blob_store_for_env(node.env).exists(blob_key(TENANT, invoice_id))
        node.serve("archive")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            archived = any(e["event"] == "archived" and e["submission_id"] == mid
                           for e in listener.snapshot())
            if archived or _dead_letters(infra.amqp_url):
                break
            time.sleep(0.2)
        assert _dead_letters(infra.amqp_url) == 0, "the redelivery was dead-lettered"
        assert any(e["event"] == "archived" and e["submission_id"] == mid
                   for e in listener.snapshot())
    finally:
        listener.close()

"""An object store that is down when transmit reads the document is a transient failure:
the transmission waits in its retry queues and goes out once the store is back, instead of
being dead-lettered (as a missing blob on the local disk of another host would be).

The services reach the session's SeaweedFS through a loopback forwarder; "the store goes
down" is the forwarder closing (connections refused) after archive wrote the blob and before
transmit starts, "it comes back" is a forwarder on the same port again. Retry delays are
distinct (the topology keeps one queue per distinct delay): 55 s of retries in all.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from efacture.cli.submit import Submitter
from tests.distributed.node import Node
from tests.distributed.seaweed import SeaweedFS
from tests.distributed.tcp_proxy import TcpProxy
from tests.support.infra import Infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener

pytestmark = pytest.mark.distributed

WAIT = 120.0


@pytest.fixture(scope="module")
def gate(seaweed: SeaweedFS) -> Iterator[list[TcpProxy]]:
    """The forwarder in front of SeaweedFS's S3 port (a list: the test replaces it)."""
    holder = [TcpProxy(seaweed.s3_port)]
    try:
        yield holder
    finally:
        for proxy in holder:
            proxy.close()


@pytest.fixture(scope="module")
def node(infra: Infra, seaweed: SeaweedFS, bucket: str, gate: list[TcpProxy],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(infra, tmp_path_factory.mktemp("s3-outage"),
             EFACTURE_BLOB_URL=f"s3://{bucket}/outage",
             EFACTURE_TRANSMIT_RETRY_DELAYS="1,2,3,4,5,6,7,8,9,10",
             **{**seaweed.env(), "EFACTURE_S3_ENDPOINT": f"http://127.0.0.1:{gate[0].port}"})
    n.cli("topology", "apply")
    n.cli("tenant", "add", TENANT, "--name", "Outage", "--subscribed-on", "2026-01-01",
          "--sandbox")
    for name in ("tsa", "pa-sim", "ingest", "archive"):
        n.serve(name)
    try:
        yield n
    finally:
        n.stop()


def _poll(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_transmit_waits_for_the_store_and_then_transmits(node: Node, infra: Infra,
                                                         gate: list[TcpProxy]) -> None:
    listener = StatusListener(infra.amqp_url)
    try:
        mid = f"outage-{uuid.uuid4().hex[:8]}"

        def seen(event: str) -> bool:
            return any(e["event"] == event and e["submission_id"] == mid
                       for e in listener.snapshot())

        sub = Submitter(infra.amqp_url)
        sub.publish(cii_invoice(f"F-{mid}"), tenant=TENANT, message_id=mid,
                    content_type="application/xml", transmit=True)
        sub.close()
        _poll(lambda: seen("archived"), "the archived event")
        gate[0].kill()  # the object store goes away, the ciphertext in it
        node.serve("transmit")
        # Parked, not dead-lettered: transmit's own line says which delay queue took it.
        log = node.data_dir / "transmit.log"
        _poll(lambda: "transmit-retry-scheduled" in log.read_text()
              or seen("transmission_failed"), "a retry scheduled")
        assert not seen("transmission_failed"), "the outage was taken for a permanent failure"
        assert "object store get" in log.read_text()
        assert not seen("transmitted")
        gate.append(TcpProxy(gate[0].target[1], port=gate[0].port))  # and comes back
        _poll(lambda: seen("transmitted") or seen("transmission_failed"), "an outcome")
        failed = [e["detail"] for e in listener.snapshot()
                  if e["event"] == "transmission_failed" and e["submission_id"] == mid]
        assert not failed, f"dead-lettered: {failed}"
        assert seen("transmitted")
    finally:
        listener.close()

"""Two archive processes compete for two copies of each invoice (issue 14, items 3 and 4).

Every ``invoice.accepted`` is published twice in a row once both processes consume, so the
broker hands the two copies to the two consumers together. The catalogue decides at commit
(its primary key, under the log's lock): one row, one leaf, one ``archived`` event per
invoice; the losing attempt deletes its own blob (content-addressed, so it never overwrote
the winner's) and publishes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared import db
from shared.vault.blobstore import FileBlobStore
from tests.security.archive_support import Node, accepted, publish_accepted
from tests.support.infra import Infra, free_port

pytestmark = pytest.mark.integration

INVOICES = 24


@pytest.fixture
def node(infra: Infra, tmp_path: Path) -> Iterator[Node]:
    n = Node(infra, tmp_path)
    n.cli("topology", "apply")
    db.migrate(infra.database_url)
    n.serve("tsa")
    try:
        yield n
    finally:
        n.stop()


def _facts(infra: Infra, data_dir: Path) -> dict[str, Any]:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        keys = [r[0] for r in conn.execute("SELECT blob_key FROM archive.invoice").fetchall()]
        events = conn.execute(
            "SELECT invoice_id, count(*) FROM core.outbox WHERE exchange = 'efacture.status'"
            " AND convert_from(body, 'UTF8')::jsonb->>'event' = 'archived' GROUP BY 1").fetchall()
        leaves = conn.execute("SELECT count(*) FROM archive.log_leaf").fetchone()
        unpublished = conn.execute(
            "SELECT count(*) FROM core.outbox WHERE published_at IS NULL").fetchone()
    return {"keys": keys, "events": dict(events), "leaves": leaves[0] if leaves else None,
            "unpublished": unpublished[0] if unpublished else None,
            "blobs": set(FileBlobStore(data_dir / "blobs").keys())}


def test_two_processes_two_copies_archive_each_invoice_once(node: Node, infra: Infra) -> None:
    messages = [accepted(f"C-{i:03d}") for i in range(INVOICES)]
    # No periodic sweep during the test (it starts after an hour): the losers clean up alone.
    quiet = {"EFACTURE_LOG_LEVEL": "INFO", "EFACTURE_CHECKPOINT_INTERVAL_SECONDS": "3600"}
    node.serve("archive", **quiet)
    node.serve("archive", **quiet, EFACTURE_METRICS_PORT_BASE=str(free_port()))
    # Consecutive copies: the broker hands them round-robin to the two consumers.
    publish_accepted(infra.amqp_url, [m for m in messages for _ in range(2)])
    log = node.data_dir / "archive.log"
    deadline = time.monotonic() + 180
    while True:  # every first copy committed, every second one answered (it logs once done)
        facts = _facts(infra, node.data_dir)
        text = log.read_text(errors="replace")
        lost, repeated = text.count("archive-duplicate-lost"), text.count("archive-repeated")
        if (len(facts["keys"]) >= INVOICES and facts["unpublished"] == 0
                and lost + repeated >= INVOICES):
            break
        assert time.monotonic() < deadline, f"not settled: {facts}, {lost}+{repeated} answered"
        time.sleep(0.3)
    assert lost + repeated == INVOICES, "a second copy was answered twice"
    assert lost >= 1, "no two copies met at the commit: the test did not race"
    assert len(facts["keys"]) == len(set(facts["keys"])) == INVOICES
    assert facts["leaves"] == INVOICES
    assert facts["events"] == {m.invoice_id: 1 for m in messages}, "an invoice archived twice"
    assert facts["blobs"] == set(facts["keys"]), "a losing attempt left its blob"

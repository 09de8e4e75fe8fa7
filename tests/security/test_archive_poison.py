"""Issue 10, property 3 (archive side): one poison message never fails the batch it lands in.

The internal ``invoice.accepted`` messages are published directly (as ingest would), all
before archive starts, so they reach it together and share batches. Archive must answer each
poison invoice alone (a ``rejected`` event with its reason code) and archive every other one
on its first delivery: its ``efacture_messages_retried_total`` stays 0 and its DLQ empty.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from shared import db
from shared.messages.internal import InvoiceAccepted
from shared.topology import Q_ARCHIVE, dlq_name
from shared.vault.blobstore import FileBlobStore
from tests.security.archive_support import Node, accepted, publish_accepted
from tests.support.infra import Infra
from tests.support.system import StatusListener

pytestmark = [pytest.mark.security, pytest.mark.integration]


def _archived(infra: Infra, ids: list[uuid.UUID]) -> int:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM archive.invoice WHERE invoice_id = ANY(%s)",
                           (ids,)).fetchone()
    return int(row[0]) if row else 0


def _dlq_depth(node: Node) -> int:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(node.infra.amqp_url))
    try:
        return int(conn.channel().queue_declare(dlq_name(Q_ARCHIVE), passive=True)
                   .method.message_count)
    finally:
        conn.close()


def _rejections(listener: StatusListener, poison: list[uuid.UUID]) -> dict[str, list[str]]:
    wanted = {str(i) for i in poison}
    events = listener.wait_for(
        lambda ev: wanted <= {e["invoice_id"] for e in ev if e["event"] == "rejected"},
        timeout=180)
    return {e["invoice_id"]: [r["code"] for r in e["reasons"]] for e in events
            if e["event"] == "rejected" and e["invoice_id"] in wanted}


def _wait_archived(node: Node, good: list[uuid.UUID]) -> None:
    deadline = time.monotonic() + 180
    while (n := _archived(node.infra, good)) < len(good):
        assert time.monotonic() < deadline, f"only {n} of {len(good)} good invoices archived"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory (one master key) for the module's database."""
    return tmp_path_factory.mktemp("poison")


@pytest.fixture
def node(infra: Infra, data_dir: Path) -> Iterator[Node]:
    n = Node(infra, data_dir)
    n.cli("topology", "apply")
    db.migrate(infra.database_url)
    n.serve("tsa")
    try:
        yield n
    finally:
        n.stop()


def _run_batch(node: Node, listener: StatusListener, good: list[InvoiceAccepted],
               poison: list[InvoiceAccepted], **env: str) -> dict[str, list[str]]:
    """Publish good and poison messages interleaved, then start archive; the poison codes."""
    half = len(good) // 2
    publish_accepted(node.infra.amqp_url, [*good[:half], *poison, *good[half:]])
    node.serve("archive", **env)
    codes = _rejections(listener, [m.invoice_id for m in poison])
    _wait_archived(node, [m.invoice_id for m in good])
    assert _archived(node.infra, [m.invoice_id for m in poison]) == 0
    assert node.metric("archive", "efacture_messages_retried_total") == 0, \
        "a good invoice was retried: the poison failed its batch"
    assert _dlq_depth(node) == 0
    return codes


def test_one_year_9999_invoice_among_63_good_ones_archives_the_63_on_first_delivery(
        node: Node, infra: Infra) -> None:
    listener = StatusListener(infra.amqp_url)
    try:
        run = uuid.uuid4().hex[:6]
        good = [accepted(f"G-{run}-{i}") for i in range(63)]
        poison = accepted(f"P-{run}-9999", issue_date=date(9999, 12, 31))
        codes = _run_batch(node, listener, good, [poison])
    finally:
        listener.close()
    assert codes == {str(poison.invoice_id): ["implausible-issue-date"]}


def test_each_kind_of_poison_is_answered_alone_with_its_reason(node: Node, infra: Infra) -> None:
    # A constraint archive cannot foresee: only the bisection of the failed batch finds the row.
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE archive.invoice ADD CONSTRAINT test_no_poison_row"
                     " CHECK (invoice_number NOT LIKE 'ROW-%')")
    listener = StatusListener(infra.amqp_url)
    try:
        run = uuid.uuid4().hex[:6]
        # 7975 years: 1995 + 7975 fits in a date, 2026 + 7975 does not.
        good = [accepted(f"G-{run}-{i}", issue_date=date(1995, 6, 1)) for i in range(40)]
        kinds = {
            "implausible-issue-date": accepted(f"P-{run}-0001", issue_date=date(1, 1, 1)),
            "retention-overflow": accepted(f"P-{run}-ret", issue_date=date(2026, 1, 1)),
            "invalid-field": accepted(f"P-{run}-nul", recipient_name="Client\x00"),
            "archive-row-refused": accepted(f"ROW-{run}", issue_date=date(1995, 6, 1)),
        }
        codes = _run_batch(node, listener, good, list(kinds.values()),
                           EFACTURE_RETENTION_YEARS="7975")
    finally:
        listener.close()
    assert codes == {str(m.invoice_id): [code] for code, m in kinds.items()}
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        keys = {r[0] for r in conn.execute("SELECT blob_key FROM archive.invoice").fetchall()}
        refused = conn.execute(
            "SELECT count(*) FROM archive.pending_blob WHERE invoice_id = ANY(%s)",
            ([m.invoice_id for m in kinds.values()],)).fetchone()
    # Blob keys are content addresses, named by the catalogue row: every good invoice's blob
    # is there, and a refused one left neither its blob nor its pending record.
    assert set(FileBlobStore(node.data_dir / "blobs").keys()) == keys, \
        "a refused invoice left its blob"
    assert refused == (0,)

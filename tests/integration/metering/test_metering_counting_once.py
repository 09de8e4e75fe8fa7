"""Each archived invoice counts once: redelivery, replay, concurrent consumers and restarts.

Real ``efacture serve metering`` processes consume real ``InvoiceArchived`` / ``InvoicePurged``
events published to ``efacture.internal``; the counters are read from PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from shared import db
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.topology import INTERNAL, Q_METERING, RK_ARCHIVED_KEEP, RK_PURGED, dlq_name
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

EFACTURE = str(Path(sys.executable).parent / "efacture")
TENANT = "99999999800010"
OTHER = "99999999800028"


class Consumer:
    """One ``efacture serve metering`` process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.proc = subprocess.Popen([EFACTURE, "serve", "metering"], env=env,
                                     stdout=subprocess.PIPE, stderr=open(log, "ab"))  # noqa: SIM115
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith(b"READY"):
                break
        assert self.proc.poll() is None, log.read_text()[-3000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    environment = infra.env(str(tmp_path_factory.mktemp("metering")))
    db.migrate(infra.database_url)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        for siret in (TENANT, OTHER):
            conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                         " VALUES (%s, 'Test', '2026-01-31', true)", (siret,))
    subprocess.run([EFACTURE, "topology", "apply"], env=environment, check=True,
                   capture_output=True, timeout=60)
    return environment


@pytest.fixture
def consumers(env: dict[str, str], tmp_path: Path) -> Iterator[list[Consumer]]:
    started: list[Consumer] = []

    def start() -> Consumer:
        c = Consumer(env, tmp_path / f"metering-{len(started)}.log")
        started.append(c)
        return c

    started_fn: Any = start
    yield started_fn
    for c in started:
        c.stop()


def _sql(infra: Infra, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _archived(tenant: str, when: datetime) -> InvoiceArchived:
    return InvoiceArchived(invoice_id=uuid.uuid4(), tenant=tenant, submission_id=str(uuid.uuid4()),
                           invoice_number="F-1", sha256="0" * 64, syntax=None, profile=None,
                           transmit=False, archived_at=when)


def _publish(infra: Infra, events: list[tuple[str, bytes]]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(infra.amqp_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for rk, body in events:
            ch.basic_publish(INTERNAL, rk, body, pika.BasicProperties(
                delivery_mode=2, content_type="application/json", message_id=str(uuid.uuid4())),
                mandatory=True)
    finally:
        conn.close()


def _queue_depth(infra: Infra, queue: str = Q_METERING) -> int:
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", infra.vhost, "name",
                          "messages"], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


def _drain(infra: Infra, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _queue_depth(infra) == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"metering queue not drained: {_queue_depth(infra)} left")


def _totals(infra: Infra, tenant: str) -> tuple[int, int]:
    rows = _sql(infra, "SELECT stored, cumulative FROM metering.tenant_count WHERE tenant = %s",
                (tenant,))
    return (rows[0][0], rows[0][1]) if rows else (0, 0)


def _period(infra: Infra, tenant: str, start: str) -> int:
    rows = _sql(infra, "SELECT count FROM metering.period_count WHERE tenant = %s"
                " AND period_start = %s", (tenant, start))
    return int(rows[0][0]) if rows else 0


def test_same_archived_event_twice_counts_once(infra, env, consumers):
    consumers()
    event = _archived(TENANT, datetime(2026, 3, 10, 12, tzinfo=UTC))
    body = event.model_dump_json().encode()
    _publish(infra, [(RK_ARCHIVED_KEEP, body), (RK_ARCHIVED_KEEP, body)])
    _drain(infra)
    assert _sql(infra, "SELECT count(*) FROM metering.counted WHERE invoice_id = %s",
                (event.invoice_id,)) == [(1,)]
    # Mar 10 is in the period Feb 28 – Mar 30 of a subscription on Jan 31.
    assert _period(infra, TENANT, "2026-02-28") == 1
    assert _totals(infra, TENANT) == (1, 1)


def test_events_replayed_to_two_concurrent_consumers_count_once(infra, env, consumers):
    consumers()
    consumers()
    before = _totals(infra, OTHER)
    events = [_archived(OTHER, datetime(2026, 5, 2, 9, tzinfo=UTC)) for _ in range(400)]
    bodies = [(RK_ARCHIVED_KEEP, e.model_dump_json().encode()) for e in events]
    _publish(infra, bodies + bodies + bodies[::-1])
    _drain(infra)
    assert _totals(infra, OTHER) == (before[0] + 400, before[1] + 400)
    assert _period(infra, OTHER, "2026-04-30") == 400


def test_consumer_killed_mid_stream_then_restarted_counts_each_once(infra, env, consumers):
    first = consumers()
    events = [_archived(TENANT, datetime(2026, 7, 1, 8, tzinfo=UTC)) for _ in range(1500)]
    _publish(infra, [(RK_ARCHIVED_KEEP, e.model_dump_json().encode()) for e in events] * 2)
    time.sleep(0.3)
    first.kill()
    consumers()
    _drain(infra)
    assert _period(infra, TENANT, "2026-06-30") == 1500


def test_purge_lowers_stored_once_and_never_cumulative(infra, env, consumers):
    consumers()
    stored, cumulative = _totals(infra, TENANT)
    [(invoice_id,)] = _sql(infra, "SELECT invoice_id FROM metering.counted WHERE tenant = %s"
                                  " LIMIT 1", (TENANT,))
    purge = InvoicePurged(invoice_id=invoice_id, tenant=TENANT,
                          purged_at=datetime.now(UTC)).model_dump_json().encode()
    _publish(infra, [(RK_PURGED, purge), (RK_PURGED, purge)])
    _drain(infra)
    assert _totals(infra, TENANT) == (stored - 1, cumulative)


def test_undecodable_event_is_dead_lettered_and_counts_nothing(infra, env, consumers):
    consumers()
    before = _totals(infra, TENANT)
    _publish(infra, [(RK_ARCHIVED_KEEP, b'{"not": "an event"}')])
    _drain(infra)
    assert _totals(infra, TENANT) == before
    deadline = time.monotonic() + 30
    while _queue_depth(infra, dlq_name(Q_METERING)) == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _queue_depth(infra, dlq_name(Q_METERING)) == 1

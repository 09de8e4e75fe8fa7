"""Recipient notifications: one e-mail per archived invoice, through a real broker, a real
database and a real SMTP server, whatever duplicates, redeliveries and SIGKILLs happen.

The notifier runs as its own process (``python -m services.portal.notify_app``); archived
events are published to ``efacture.internal`` as archive publishes them; the catalogue rows are
written as archive writes them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.settings import Settings
from shared.topology import (
    INTERNAL,
    Q_PORTAL_NOTIFY,
    RK_ARCHIVED_KEEP,
    RK_ARCHIVED_TRANSMIT,
    RK_PURGED,
)
from shared.vault.reader import Vault
from tests.integration.portal.catalogue import TENANT, Archive, migrate
from tests.support.infra import Infra
from tests.support.smtp_sink import Received, SmtpSink

pytestmark = pytest.mark.integration

EFACTURE = str(Path(sys.executable).parent / "efacture")
CII = (Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cii"
       / "cen__CII_example2.xml").read_bytes()
PORTAL_URL = "https://portail.example.test:8443"


class Notifier:
    """One notifier process; ``fault`` arms a crash point (``shared.faults``)."""

    def __init__(self, env: dict[str, str], log: Path, fault: str | None = None) -> None:
        env = dict(env)
        if fault:
            env["EFACTURE_FAULT_POINT"] = fault
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "services.portal.notify_app"],
                                     env=env, stdout=subprocess.PIPE,
                                     stderr=open(log, "ab"))  # noqa: SIM115
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith(b"READY"):
                break
        assert self.proc.poll() is None, log.read_text()[-3000:]

    def wait_dead(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def env(infra: Infra, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    environment = infra.env(str(tmp_path_factory.mktemp("notify")))
    environment.update({
        "EFACTURE_SMTP_URL": smtp.url, "EFACTURE_MAIL_FROM": "factures@efacture.test",
        "EFACTURE_PORTAL_URL": PORTAL_URL, "EFACTURE_NOTIFY_LEASE_SECONDS": "2",
        "EFACTURE_LOG_LEVEL": "WARNING",
        "EFACTURE_METRICS_PORT_BASE": str(19_000 + (abs(hash(infra.vhost)) % 500) * 10),
    })
    migrate(infra.database_url)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                     " VALUES (%s, 'Menuiserie Dupont', '2026-01-31', true)", (TENANT,))
    subprocess.run([EFACTURE, "topology", "apply"], env=environment, check=True,
                   capture_output=True, timeout=90)
    return environment


@pytest.fixture(scope="module")
def archive(infra: Infra, env: dict[str, str]) -> Archive:
    # The notifier's own data directory: the blobs the test writes are the ones it deletes.
    vault = Vault(Settings(database_url=infra.database_url,
                           data_dir=Path(env["EFACTURE_DATA_DIR"])))
    return Archive(infra.database_url, vault)


@pytest.fixture
def notifiers(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Notifier]]:
    started: list[Notifier] = []

    def start(fault: str | None = None) -> Notifier:
        n = Notifier(env, tmp_path / f"notify-{len(started)}.log", fault)
        started.append(n)
        return n

    yield start
    for n in started:
        n.stop()


def _event(invoice_id: uuid.UUID, tenant: str = TENANT) -> bytes:
    return InvoiceArchived(
        invoice_id=invoice_id, tenant=tenant, submission_id=f"s-{invoice_id}",
        invoice_number="F-1", sha256="0" * 64, syntax="CII", profile="EN16931",
        transmit=False, archived_at=datetime(2026, 12, 1, tzinfo=UTC),
    ).model_dump_json().encode()


def _publish(infra: Infra, events: list[tuple[str, bytes]]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(infra.amqp_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for rk, body in events:
            ch.basic_publish(INTERNAL, rk, body, pika.BasicProperties(
                delivery_mode=2, content_type="application/json",
                message_id=str(uuid.uuid4())), mandatory=True)
    finally:
        conn.close()


def _rows(infra: Infra, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    with psycopg.connect(infra.database_url) as conn, conn.cursor(
            row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM portal.notification WHERE invoice_id = ANY(%s)", (ids,))
        return {r["invoice_id"]: r for r in cur.fetchall()}


def _queue_depth(infra: Infra, queue: str) -> int:
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", infra.vhost, "name",
                          "messages"], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


def _wait(predicate: Callable[[], bool], timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _for(smtp: SmtpSink, invoice_id: uuid.UUID) -> list[Received]:
    return [r for r in smtp.received if invoice_id.hex in str(r.message["Message-ID"])]


def _add(archive: Archive, email: str | None, number: str) -> uuid.UUID:
    return asyncio.run(archive.add(CII, "cii", recipient_email=email, invoice_number=number,
                                   issue_date=date(2026, 11, 30)))


def test_one_email_per_invoice_whatever_the_duplicates(
    infra: Infra, smtp: SmtpSink, archive: Archive, notifiers: Callable[..., Notifier]
) -> None:
    with_mail = [_add(archive, f"client{i}@example.fr", f"F-{i}") for i in range(3)]
    without = _add(archive, None, "F-none")
    notifiers()
    # Each event published three times, under both archived keys (redelivery, replay).
    _publish(infra, [(rk, _event(i)) for i in [*with_mail, without]
                     for rk in (RK_ARCHIVED_KEEP, RK_ARCHIVED_TRANSMIT, RK_ARCHIVED_KEEP)])
    _wait(lambda: all(_for(smtp, i) for i in with_mail), what="three e-mails")
    _wait(lambda: _queue_depth(infra, Q_PORTAL_NOTIFY) == 0, what="queue drained")
    _wait(lambda: all(r["sent_at"] for r in _rows(infra, with_mail).values()), what="marked")
    time.sleep(3)  # longer than the lease: nothing more may go out
    for n, invoice_id in enumerate(with_mail):
        [mail] = _for(smtp, invoice_id)
        assert mail.rcpt_tos == [f"client{n}@example.fr"]
        assert mail.message["Subject"] == "Nouvelle facture disponible"
        assert mail.message["From"] == "factures@efacture.test"
        assert mail.message["Message-ID"] == f"<invoice.{invoice_id.hex}@efacture.test>"
        text = mail.text
        assert "Menuiserie Dupont a mis à votre disposition la facture n° F-" in text
        assert f"{PORTAL_URL}/invoices/{invoice_id}" in text
        assert "30/11/2026" in text
    assert _rows(infra, [without]) == {}
    rows = _rows(infra, with_mail)
    assert all(r["attempts"] == 1 and r["body_text"] is None for r in rows.values())


def test_crash_after_recording_before_ack_sends_once(
    infra: Infra, smtp: SmtpSink, archive: Archive, notifiers: Callable[..., Notifier]
) -> None:
    invoice_id = _add(archive, "crash-record@example.fr", "F-CR")
    first = notifiers(fault="portal.notify.after_record")
    _publish(infra, [(RK_ARCHIVED_KEEP, _event(invoice_id))])
    assert first.wait_dead() == -signal.SIGKILL
    assert invoice_id in _rows(infra, [invoice_id])  # committed, never acked
    assert _for(smtp, invoice_id) == []
    notifiers()  # the redelivery finds the row: nothing new is recorded
    _wait(lambda: bool(_for(smtp, invoice_id)), what="the e-mail")
    _wait(lambda: _queue_depth(infra, Q_PORTAL_NOTIFY) == 0, what="queue drained")
    time.sleep(3)
    assert len(_for(smtp, invoice_id)) == 1


def test_crash_between_send_and_mark_resends_the_same_message(
    infra: Infra, smtp: SmtpSink, archive: Archive, notifiers: Callable[..., Notifier]
) -> None:
    invoice_id = _add(archive, "crash-send@example.fr", "F-CS")
    first = notifiers(fault="portal.notify.after_send")
    _publish(infra, [(RK_ARCHIVED_KEEP, _event(invoice_id))])
    assert first.wait_dead() == -signal.SIGKILL
    assert len(_for(smtp, invoice_id)) == 1  # accepted by the server, not marked
    assert _rows(infra, [invoice_id])[invoice_id]["sent_at"] is None
    notifiers()
    _wait(lambda: _rows(infra, [invoice_id])[invoice_id]["sent_at"] is not None, what="mark")
    time.sleep(3)
    first_copy, second_copy = _for(smtp, invoice_id)  # the documented duplicate, and only it
    assert first_copy.message["Message-ID"] == second_copy.message["Message-ID"]
    assert first_copy.text == second_copy.text
    assert _rows(infra, [invoice_id])[invoice_id]["attempts"] == 2


def test_refused_recipient_marked_failed_and_bad_events_dead_lettered(
    infra: Infra, smtp: SmtpSink, archive: Archive, notifiers: Callable[..., Notifier]
) -> None:
    smtp.refuse("nobody@example.fr")
    refused = _add(archive, "nobody@example.fr", "F-REF")
    notifiers()
    _publish(infra, [(RK_ARCHIVED_KEEP, _event(refused)),
                     (RK_ARCHIVED_KEEP, _event(uuid.uuid4())),          # unknown invoice
                     (RK_ARCHIVED_KEEP, _event(refused, "99999999800028")),  # other tenant
                     (RK_ARCHIVED_KEEP, b"{not json")])
    _wait(lambda: _queue_depth(infra, f"{Q_PORTAL_NOTIFY}.dlq") == 3, what="3 dead letters")
    _wait(lambda: _rows(infra, [refused])[refused]["failed_at"] is not None, what="failed")
    row = _rows(infra, [refused])[refused]
    assert re.search(r"550", row["last_error"])
    assert row["attempts"] == 1
    assert _for(smtp, refused) == []


def test_a_link_that_cannot_be_made_delays_its_row_only(
    infra: Infra, archive: Archive, env: dict[str, str], tmp_path: Path
) -> None:
    from psycopg_pool import AsyncConnectionPool

    from services.portal.adapters.mailer import Mailer
    from services.portal.notify import InvoicePageLinks, Link
    from services.portal.notify_consumer import record
    from services.portal.notify_sender import Sender

    good = _add(archive, "good@example.fr", "F-GOOD")
    bad = _add(archive, "bad@example.fr", "F-BAD")

    class Links(InvoicePageLinks):
        async def link(self, conn: Any, *, email: str, tenant: str,
                       invoice_id: uuid.UUID) -> Link:
            if email == "bad@example.fr":
                raise RuntimeError("no enrolment token today")
            return await super().link(conn, email=email, tenant=tenant, invoice_id=invoice_id)

    settings = Settings(database_url=infra.database_url, data_dir=tmp_path,
                        mail_from="factures@efacture.test")
    with psycopg.connect(infra.database_url, autocommit=True) as conn:  # the issuer's own name
        conn.execute("INSERT INTO portal.brand (tenant, display_name, updated_at)"
                     " VALUES (%s, 'Dupont & Fils', now())", (TENANT,))

    async def run() -> int:
        async with AsyncConnectionPool(infra.database_url, min_size=1, max_size=2) as pool:
            for invoice_id in (bad, good):
                event = InvoiceArchived.model_validate_json(_event(invoice_id))
                await record(pool, event, settings.mail_from)
            sender = Sender(lambda: pool, Mailer(settings), Links(PORTAL_URL), lease_seconds=60)
            return await sender.drain()

    assert asyncio.run(run()) == 1
    rows = _rows(infra, [good, bad])
    assert rows[good]["sent_at"] is not None
    assert rows[bad]["sent_at"] is None
    assert "no enrolment token" in rows[bad]["last_error"]
    assert rows[bad]["body_text"] is None  # nothing composed: the next attempt starts afresh
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "good@example.fr"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Dupont & Fils a mis à votre disposition la facture n° F-GOOD" in body.get_content()


def test_a_purged_invoice_loses_its_rendering_and_its_unsent_notification(
    infra: Infra, archive: Archive, notifiers: Callable[..., Notifier]
) -> None:
    from services.portal.rendering.pdf import invoice_pdf

    invoice_id = _add(archive, "purge@example.fr", "F-PURGE")

    async def render() -> bytes:
        async with await psycopg.AsyncConnection.connect(infra.database_url,
                                                         autocommit=True) as conn:
            return await invoice_pdf(conn, archive.vault, invoice_id)

    asyncio.run(render())
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        [(blob_key,)] = conn.execute("SELECT blob_key FROM portal.rendering"
                                     " WHERE invoice_id = %s", (invoice_id,)).fetchall()
        conn.execute("INSERT INTO portal.notification (invoice_id, tenant, email, message_id,"
                     " next_attempt_at) VALUES (%s, %s, 'purge@example.fr', '<x@y>',"
                     " now() + interval '1 day')", (invoice_id, TENANT))
        conn.execute("UPDATE archive.invoice SET wrapped_data_key = NULL, state = 'purged',"
                     " purged_at = now() WHERE invoice_id = %s", (invoice_id,))
    assert archive.vault.blobs.exists(blob_key)
    notifiers()
    gone = InvoicePurged(invoice_id=invoice_id, tenant=TENANT,
                         purged_at=datetime(2036, 1, 2, tzinfo=UTC)).model_dump_json().encode()
    _publish(infra, [(RK_PURGED, gone), (RK_PURGED, gone)])  # and its redelivery
    _wait(lambda: not archive.vault.blobs.exists(blob_key), what="rendering blob deleted")
    _wait(lambda: _queue_depth(infra, Q_PORTAL_NOTIFY) == 0, what="queue drained")
    with psycopg.connect(infra.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM portal.rendering WHERE invoice_id = %s",
                            (invoice_id,)).fetchone() == (0,)
    row = _rows(infra, [invoice_id])[invoice_id]
    assert row["failed_at"] is not None
    assert row["last_error"] == "purged"
    assert row["sent_at"] is None

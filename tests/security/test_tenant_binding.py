"""Issue 10 property 1: tenant A's ERP credentials never get anything accepted, archived,
counted or transmitted for tenant B, whatever ``user_id`` (set, absent, empty), exchange,
routing key or CC/BCC header it uses; operators keep plain ``invoice.submit``; ``efacture
submit`` sets ``user_id``; a DLQ replay keeps the authenticated tenant and the message_id.

Users come from ``scripts/rabbitmq-tenant-users`` (RabbitMQ user names are cluster-wide: the
SIRETs are random per run) and are deleted after. Before ``efacture up`` starts, three ERP
submissions are dead-lettered from ``efacture.ingest`` by the broker itself (a consumer's
reject), so the replay test replays what RabbitMQ wrote, ``x-death`` included.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import pika.exceptions
import psycopg
import pytest

from tests.support import infra as infra_mod
from tests.support.hostile import seller_siret
from tests.support.system import EFACTURE, REPO, StatusListener, System

pytestmark = pytest.mark.security

SCRIPT = REPO / "scripts" / "rabbitmq-tenant-users"
A = f"9{random.randrange(10**8):08d}00010"  # unique names, not secrets
B = f"9{random.randrange(10**8):08d}00029"
KEY_A, KEY_B, PLAIN = f"invoice.submit.{A}", f"invoice.submit.{B}", "invoice.submit"
DEAD_MID = f"dlq-{uuid.uuid4().hex[:10]}"  # the same message_id for A and for B
DEAD_FORGED = f"dlq-forged-{uuid.uuid4().hex[:8]}"
ATTACKS: list[str] = []  # every message_id tenant A's ERP published claiming B


def _invoice(number: str, tenant: str = A) -> bytes:
    """A valid invoice whose seller is ``tenant`` (its SIRET as legal id)."""
    return seller_siret(number, tenant)


def _url(amqp_url: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_url)
    netloc = f"{quote(user)}:{quote(password)}@{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _publish(url: str, routing_key: str, body: bytes, *, mid: str, headers: dict[str, Any],
             user_id: str | None = None, exchange: str = "efacture.inbound") -> None:
    """One confirmed, mandatory publish; raises ``ChannelClosedByBroker`` when refused."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish(exchange, routing_key, body, pika.BasicProperties(
            message_id=mid, content_type="application/xml", delivery_mode=2, headers=headers,
            user_id=user_id), mandatory=True)
    finally:
        if conn.is_open:
            conn.close()


def _dead_letter_everything_in_ingest(amqp_url: str, expected: int) -> None:
    """Reject (no requeue) what waits in efacture.ingest: the broker dead-letters it."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = conn.channel()
        got = 0
        deadline = time.monotonic() + 60
        while got < expected and time.monotonic() < deadline:
            method, _props, _body = ch.basic_get("efacture.ingest", auto_ack=False)
            if method is None:
                time.sleep(0.1)
                continue
            ch.basic_nack(method.delivery_tag, requeue=False)
            got += 1
        assert got == expected
    finally:
        conn.close()


@pytest.fixture(scope="module")
def users(infra: infra_mod.Infra, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[System, dict[str, str]]]:
    """The system (not started yet) and ``{user name: amqp url}`` of A's and B's users."""
    system = System(infra, tmp_path_factory.mktemp("efacture-data"))
    urls: dict[str, str] = {}
    try:
        system.cli("topology", "apply")
        for siret in (A, B):
            system.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                       "2026-01-01", "--sandbox")
            out = subprocess.run([str(SCRIPT), "add", siret, "-p", infra.vhost], env=system.env,
                                 capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            for line in out.stdout.splitlines():
                name, password = line.split()
                urls[name] = _url(infra.amqp_url, name, password)
        yield system, urls
    finally:
        for siret in (A, B):
            subprocess.run([str(SCRIPT), "delete", siret, "-p", infra.vhost], env=system.env,
                           capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def system(users: tuple[System, dict[str, str]]) -> Iterator[System]:
    """``efacture up``, started once three ERP submissions are dead-lettered from ingest."""
    sys_, urls = users
    _publish(urls[f"erp-{A}"], KEY_A, _invoice(f"DLQ-A-{DEAD_MID}"), mid=DEAD_MID,
             headers={"tenant": A, "transmit": False}, user_id=f"erp-{A}")
    _publish(urls[f"erp-{B}"], KEY_B, _invoice(f"DLQ-B-{DEAD_MID}", B), mid=DEAD_MID,
             headers={"tenant": B, "transmit": False}, user_id=f"erp-{B}")
    # A forgery that dies before ingest saw it: the replay must not make it B's.
    _publish(urls[f"erp-{A}"], KEY_A, _invoice(f"DLQ-F-{DEAD_FORGED}", B), mid=DEAD_FORGED,
             headers={"tenant": B, "transmit": False, "CC": [KEY_B]})
    ATTACKS.append(DEAD_FORGED)
    _dead_letter_everything_in_ingest(sys_.infra.amqp_url, 3)
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


@pytest.fixture(scope="module")
def erp_a(users: tuple[System, dict[str, str]]) -> str:
    return users[1][f"erp-{A}"]


def _final(listener: StatusListener, mid: str, tenant: str) -> dict[str, Any]:
    def done(ev: list[dict[str, Any]]) -> bool:
        return any(e["submission_id"] == mid and e["tenant"] == tenant
                   and e["event"] in ("archived", "rejected") for e in ev)
    events = listener.wait_for(done)
    return next(e for e in events if e["submission_id"] == mid and e["tenant"] == tenant
                and e["event"] in ("archived", "rejected"))


def _forged_for_a(listener: StatusListener, mid: str) -> None:
    verdict = _final(listener, mid, A)
    assert verdict["event"] == "rejected"
    assert [r["code"] for r in verdict["reasons"]] == ["tenant-forged"]


# Everything tenant A's ERP may write: its key with user_id set or absent, with CC/BCC naming
# B's keys; the headers claim B (and ask for transmission).
ROUTES = {
    "own-key-user-id": dict(user_id=f"erp-{A}"),
    "own-key-no-user-id": dict(),
    "own-key-cc-to-b": dict(cc=True),
    "own-key-bcc-to-b": dict(bcc=True),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_erp_of_a_claiming_b_on_every_key_it_may_write_is_tenant_forged(
    system: System, erp_a: str, listener: StatusListener, route: str,
) -> None:
    opts = ROUTES[route]
    mid = f"forge-{route}-{uuid.uuid4().hex[:8]}"
    headers: dict[str, Any] = {"tenant": B, "transmit": True}
    if opts.get("cc"):
        headers["CC"] = [KEY_B, PLAIN]
    if opts.get("bcc"):
        headers["BCC"] = [KEY_B, PLAIN]
    ATTACKS.append(mid)
    _publish(erp_a, KEY_A, _invoice(f"F-{mid[-8:]}", B), mid=mid, headers=headers,
             user_id=opts.get("user_id"))
    _forged_for_a(listener, mid)


@pytest.mark.parametrize("key", [PLAIN, KEY_B, "invoice.submit.x", f"{KEY_A}.more", "#"])
@pytest.mark.parametrize("user_id", [None, f"erp-{A}"])
def test_the_broker_refuses_every_other_routing_key_of_erp_a(
    system: System, erp_a: str, key: str, user_id: str | None,
) -> None:
    mid = f"refused-{uuid.uuid4().hex[:8]}"
    ATTACKS.append(mid)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        _publish(erp_a, key, _invoice(f"R-{mid}", B), mid=mid,
                 headers={"tenant": B, "transmit": True}, user_id=user_id)
    assert err.value.reply_code == 403  # ACCESS_REFUSED


@pytest.mark.parametrize(("exchange", "key"), [("", "efacture.ingest"),
                                          ("efacture.internal", "invoice.accepted"),
                                          ("amq.topic", KEY_B)])
def test_the_broker_refuses_every_other_exchange_of_erp_a(
    system: System, erp_a: str, exchange: str, key: str,
) -> None:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        _publish(erp_a, key, _invoice("X-1"), mid="x", headers={"tenant": B},
                 exchange=exchange)
    assert err.value.reply_code == 403


@pytest.mark.parametrize("user_id", ["", f"erp-{B}", "guest"])
def test_the_broker_refuses_a_user_id_of_erp_a_that_is_not_its_own(
    system: System, erp_a: str, user_id: str,
) -> None:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        _publish(erp_a, KEY_A, _invoice("U-1"), mid="u", headers={"tenant": B},
                 user_id=user_id)
    assert err.value.reply_code == 406  # PRECONDITION_FAILED


def test_erp_of_a_on_its_own_key_without_user_id_or_header_is_archived_for_a(
    system: System, erp_a: str, listener: StatusListener,
) -> None:
    mid = f"own-{uuid.uuid4().hex[:8]}"
    _publish(erp_a, KEY_A, _invoice(f"O-{mid}"), mid=mid,
             headers={"transmit": False, "CC": [KEY_B]})
    assert _final(listener, mid, A)["event"] == "archived"


def test_operator_submits_for_any_tenant_on_the_plain_key(
    system: System, listener: StatusListener,
) -> None:
    mid = f"op-{uuid.uuid4().hex[:8]}"
    _publish(system.infra.amqp_url, PLAIN, _invoice(f"OP-{mid}", B), mid=mid,
             headers={"tenant": B, "transmit": False})
    assert _final(listener, mid, B)["event"] == "archived"


def _submit_file(system: System, url: str, tenant: str, tmp_path: Path,
                 ) -> subprocess.CompletedProcess[str]:
    mid = f"cli-{uuid.uuid4().hex[:8]}"
    doc = tmp_path / f"{mid}.xml"
    doc.write_bytes(_invoice(f"CLI-{mid}", tenant))
    env = {**system.env, "EFACTURE_AMQP_URL": url}
    return subprocess.run([EFACTURE, "submit", str(doc), "--tenant", tenant,
                           "--no-transmit", "--message-id", mid, "--json"],
                          env=env, capture_output=True, text=True, timeout=120,
                          cwd=system.log.parent)


def test_efacture_submit_with_erp_credentials_works_for_its_tenant_only(
    system: System, erp_a: str, listener: StatusListener, tmp_path: Path,
) -> None:
    ok = _submit_file(system, erp_a, A, tmp_path)
    assert ok.returncode == 0, ok.stderr
    mid = json.loads(ok.stdout)[0]["submission_id"]
    assert _final(listener, mid, A)["event"] == "archived"
    refused = _submit_file(system, erp_a, B, tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().count("\n") == 0
    assert "refused" in refused.stderr


def test_efacture_submit_sets_user_id_and_the_tenant_key(system: System, tmp_path: Path) -> None:
    """Seen by a queue of our own bound to every submission key."""
    conn = pika.BlockingConnection(pika.URLParameters(system.infra.amqp_url))
    try:
        ch = conn.channel()
        spy = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(spy, "efacture.inbound", "invoice.submit.#")
        ch.queue_bind(spy, "efacture.inbound", PLAIN)
        res = _submit_file(system, system.infra.amqp_url, A, tmp_path)
        assert res.returncode == 0, res.stderr
        method, props, _ = ch.basic_get(spy, auto_ack=True)
        assert method is not None
        assert (method.routing_key, props.user_id) == (KEY_A, "guest")
    finally:
        conn.close()


def _rows(system: System, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(system.infra.database_url, autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()


def test_dlq_replay_keeps_the_authenticated_tenant_and_the_message_id(
    system: System, listener: StatusListener,
) -> None:
    listed = system.cli_json("dlq", "list", "--queue", "ingest")
    mine = [r for r in listed if r["id"].startswith(DEAD_MID) or r["id"].startswith(DEAD_FORGED)]
    # Two tenants' letters with one message_id are two letters; the tenant is the key's.
    assert sorted(r["tenant"] for r in mine) == sorted([A, B, A])
    system.cli("dlq", "replay", "--queue", "ingest", "--all")
    assert _final(listener, DEAD_MID, A)["event"] == "archived"
    assert _final(listener, DEAD_MID, B)["event"] == "archived"
    _forged_for_a(listener, DEAD_FORGED)
    archived = _rows(system, "SELECT tenant, invoice_number FROM archive.invoice"
                     " WHERE submission_id = %s ORDER BY tenant", DEAD_MID)
    deadline = time.monotonic() + 60
    while len(archived) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        archived = _rows(system, "SELECT tenant, invoice_number FROM archive.invoice"
                         " WHERE submission_id = %s ORDER BY tenant", DEAD_MID)
    assert sorted(archived) == sorted([(A, f"DLQ-A-{DEAD_MID}"), (B, f"DLQ-B-{DEAD_MID}")])
    assert system.cli_json("dlq", "list", "--queue", "ingest") == []


def test_nothing_tenant_a_forged_reached_b(system: System, listener: StatusListener) -> None:
    """Runs last: every attack above left no trace under B, in any service (each verdict
    was awaited, and a rejection is recorded before its event is published)."""
    assert len(ATTACKS) > 10
    recorded = _rows(system, "SELECT tenant FROM ingest.submission WHERE message_id = ANY(%s)",
                     ATTACKS)
    assert {r[0] for r in recorded} <= {A}
    b_invoices = _rows(system, "SELECT invoice_id, submission_id FROM archive.invoice"
                       " WHERE tenant = %s", B)
    assert not {r[1] for r in b_invoices} & set(ATTACKS)
    for table in ("metering.counted", "transmit.transmission"):
        query = f"SELECT invoice_id FROM {table} WHERE tenant = %s"  # noqa: S608 - our names
        ids = {r[0] for r in _rows(system, query, B)}
        assert ids <= {r[0] for r in b_invoices}, table
    assert not [e for e in listener.snapshot()
                if e["submission_id"] in ATTACKS and e["tenant"] == B]

"""Tenant isolation through RabbitMQ users and the read side (issue 7 item 4; the broker-
enforced tenant binding of issue 10 is proved in ``tests/security/test_tenant_binding.py``).

Users come from ``scripts/rabbitmq-tenant-users`` in this module's vhost and are deleted after.
RabbitMQ user names are cluster-wide, so the tenants' SIRETs are random per run. The archive
side (a blob moved under another tenant does not decrypt: its AAD names the tenant) is covered
by ``tests/unit/archive/test_archive_envelope.py``:
``test_blob_moved_to_another_tenant_fails_to_decrypt``.
"""

from __future__ import annotations

import json
import random
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import pika.exceptions
import pytest

from tests.support.hostile import seller_siret
from tests.support.system import REPO, StatusListener, System

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "scripts" / "rabbitmq-tenant-users"
A = f"9{random.randrange(10**8):08d}00010"  # a unique name, not a secret
B = f"9{random.randrange(10**8):08d}00029"


def _url(system: System, user: str, password: str) -> str:
    parts = urlsplit(system.infra.amqp_url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user)}:{quote(password)}@{host}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@pytest.fixture(scope="module")
def users(system: System) -> Iterator[dict[str, str]]:
    """``{user name: amqp url}`` for erp-/partner- users of tenants A and B."""
    urls: dict[str, str] = {}
    env = dict(system.env)
    try:
        for siret in (A, B):
            system.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                       "2026-01-01", "--sandbox")
            out = subprocess.run([str(SCRIPT), "add", siret, "-p", system.infra.vhost],
                                 env=env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            for line in out.stdout.splitlines():
                name, password = line.split()
                urls[name] = _url(system, name, password)
        yield urls
    finally:
        for siret in (A, B):
            subprocess.run([str(SCRIPT), "delete", siret, "-p", system.infra.vhost], env=env,
                           capture_output=True, timeout=120)


def _submit(url: str, tenant: str, user_id: str | None, number: str, key: str | None = None
            ) -> str:
    """Publish an invoice of seller ``tenant`` on ``key`` (default: the ERP user's own key,
    ``invoice.submit.<SIRET of user_id>``, else ``tenant``'s)."""
    own = user_id[4:] if user_id and user_id.startswith("erp-") else tenant
    mid = f"iso-{uuid.uuid4().hex[:10]}"
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("efacture.inbound", key or f"invoice.submit.{own}",
                         seller_siret(number, tenant), pika.BasicProperties(
                             message_id=mid, content_type="application/xml", delivery_mode=2,
                             headers={"tenant": tenant, "transmit": False}, user_id=user_id),
                         mandatory=True)
    finally:
        if conn.is_open:
            conn.close()
    return mid


def _drain(url: str, queue: str) -> list[dict[str, Any]]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        got: list[dict[str, Any]] = []
        while True:
            _m, _p, body = ch.basic_get(queue, auto_ack=True)
            if body is None:
                return got
            got.append(json.loads(body))
    finally:
        if conn.is_open:
            conn.close()


def _refused(url: str, action: Any) -> int:
    """The AMQP reply code with which the broker closed the channel during ``action``."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
            action(ch)
        return int(err.value.reply_code)
    finally:
        if conn.is_open:
            conn.close()


def _verdict(listener: StatusListener, mid: str, event: str) -> dict[str, Any]:
    events = listener.wait_for(lambda ev: any(e["submission_id"] == mid and e["event"] == event
                                              for e in ev))
    return next(e for e in events if e["submission_id"] == mid and e["event"] == event)


def test_erp_submitting_for_its_own_tenant_is_archived_and_its_partner_hears(
    system: System, users: dict[str, str], listener: StatusListener,
) -> None:
    mid = _submit(users[f"erp-{A}"], A, f"erp-{A}", f"ISO-A-{uuid.uuid4().hex[:6]}")
    _verdict(listener, mid, "archived")
    mine = [e for e in _drain(users[f"partner-{A}"], f"efacture.partner.{A}")
            if e["submission_id"] == mid]
    assert {e["event"] for e in mine} >= {"received", "archived"}


def test_erp_of_a_publishing_as_b_is_rejected_tenant_forged_and_b_never_hears(
    system: System, users: dict[str, str], listener: StatusListener,
) -> None:
    mid = _submit(users[f"erp-{A}"], B, f"erp-{A}", f"ISO-F-{uuid.uuid4().hex[:6]}")
    rejected = _verdict(listener, mid, "rejected")
    assert [r["code"] for r in rejected["reasons"]] == ["tenant-forged"]
    assert rejected["tenant"] == A
    assert not [e for e in listener.snapshot() if e["submission_id"] == mid and e["tenant"] == B]
    assert not [e for e in _drain(users[f"partner-{B}"], f"efacture.partner.{B}")
                if e["submission_id"] == mid]
    assert any(e["submission_id"] == mid
               for e in _drain(users[f"partner-{A}"], f"efacture.partner.{A}"))


def test_rabbitmq_refuses_a_user_id_that_is_not_the_connection_user(
    users: dict[str, str],
) -> None:
    def publish(ch: Any) -> None:
        ch.basic_publish("efacture.inbound", f"invoice.submit.{A}", seller_siret("ISO-U", A),
                         pika.BasicProperties(message_id="x", user_id=f"erp-{B}",
                                              headers={"tenant": B}))
    assert _refused(users[f"erp-{A}"], publish) == 406  # PRECONDITION_FAILED


def test_erp_may_publish_nowhere_but_the_inbound_exchange(users: dict[str, str]) -> None:
    def publish(ch: Any) -> None:
        ch.basic_publish("efacture.status", f"status.{B}.archived", b"{}")
    assert _refused(users[f"erp-{A}"], publish) == 403  # ACCESS_REFUSED


def test_erp_may_not_read_any_queue(users: dict[str, str]) -> None:
    assert _refused(users[f"erp-{A}"],
                    lambda ch: ch.basic_get(f"efacture.partner.{A}")) == 403


def test_partner_of_a_cannot_consume_the_queue_of_b(users: dict[str, str]) -> None:
    def consume(ch: Any) -> None:
        ch.basic_consume(f"efacture.partner.{B}", lambda *_: None)
    assert _refused(users[f"partner-{A}"], consume) == 403


def test_partner_of_a_cannot_bind_a_queue_of_its_own_to_the_status_exchange(
    users: dict[str, str],
) -> None:
    assert _refused(users[f"partner-{A}"],
                    lambda ch: ch.queue_declare("", exclusive=True)) == 403


def test_invoice_list_of_a_never_shows_b_invoices(
    system: System, users: dict[str, str], listener: StatusListener,
) -> None:
    mid_b = _submit(users[f"erp-{B}"], B, f"erp-{B}", f"ISO-B-{uuid.uuid4().hex[:6]}")
    mid_a = _submit(users[f"erp-{A}"], A, f"erp-{A}", f"ISO-A-{uuid.uuid4().hex[:6]}")
    _verdict(listener, mid_b, "archived")
    _verdict(listener, mid_a, "archived")
    listed_a = system.cli_json("invoice", "list", "--tenant", A)
    listed_b = system.cli_json("invoice", "list", "--tenant", B)
    assert mid_a in {i["submission_id"] for i in listed_a}
    assert mid_b in {i["submission_id"] for i in listed_b}
    assert not {i["invoice_id"] for i in listed_a} & {i["invoice_id"] for i in listed_b}

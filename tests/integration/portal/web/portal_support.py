"""Seeding and driving the portal in its integration tests: tenants and archived invoices
written as archive would (sealed with shared/vault), a settable clock, a recording mailer,
and a signed-in TestClient per person."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pyotp
from starlette.testclient import TestClient

from shared.settings import Settings
from shared.vault.reader import Vault

PASSWORD = "un-mot-de-passe-assez-long"  # noqa: S105 - test accounts
T0 = datetime(2026, 11, 20, 9, 0, 7, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Sent:
    to: str
    subject: str
    text: str


@dataclass
class RecordingMailer:
    sent: list[Sent] = field(default_factory=list)

    async def send(self, to: str, subject: str, text: str, html: str | None = None,
                   message_id: str | None = None) -> None:
        self.sent.append(Sent(to, subject, text))

    def last_link(self, to: str) -> str:
        for m in reversed(self.sent):
            if m.to == to:
                found = re.search(r"https://\S+/link/\S+", m.text)
                assert found, m.text
                return found.group(0)
        raise AssertionError(f"no mail to {to}")


def add_tenant(url: str, siret: str, name: str, subscribed_on: date = date(2026, 11, 1)) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                     " VALUES (%s, %s, %s, true) ON CONFLICT DO NOTHING",
                     (siret, name, subscribed_on))


_LOG_INDEX = [1000]


def archive_invoice(settings: Settings, tenant: str, number: str, email: str | None,
                    data: bytes | None = None, issue_date: date = date(2026, 11, 10)) -> uuid.UUID:
    """One catalogue row and its sealed blob, as archive writes them."""
    invoice_id = uuid.uuid4()
    document = data or f"<Invoice><ID>{number}</ID></Invoice>".encode()
    _LOG_INDEX[0] += 1

    async def run() -> None:
        vault = Vault(settings)
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            sealed = await vault.sealer.seal_document(conn, tenant, invoice_id, document)
            key = sealed.blob_key
            vault.blobs.put(key, sealed.ciphertext)
            await conn.execute(
                "INSERT INTO archive.invoice (invoice_id, tenant, submission_id, invoice_number,"
                " type_code, issue_date, recipient_id, recipient_name, recipient_email,"
                " amount_payable, currency, kind, syntax, profile, content_type, size_bytes,"
                " sha256, blob_key, wrapped_data_key, tenant_key_version, tsa_token, tsa_time,"
                " log_index, retain_until, transmit, archived_at) VALUES (%s, %s, %s, %s, '380',"
                " %s, %s, %s, %s, %s, 'EUR', 'cii', 'CII', 'EN16931', 'application/xml', %s,"
                " %s, %s, %s, %s, %s, %s, %s, %s, false, %s)",
                (invoice_id, tenant, f"sub-{number}", number, issue_date, f"ID-{email}",
                 f"Client {email}", email, Decimal("120.00"), len(document),
                 hashlib.sha256(document).hexdigest(), key, sealed.wrapped_data_key,
                 sealed.tenant_key_version, b"\x30\x00", T0, _LOG_INDEX[0],
                 date(2036, 11, 10), T0))
            body = ('{"schema": "efacture.status.v1", "event": "archived", "occurred_at": '
                    f'"{T0.isoformat()}", "tenant": "{tenant}", "invoice_id": "{invoice_id}",'
                    f' "invoice_number": "{number}", "lifecycle_code": null,'
                    ' "lifecycle_label": null, "reasons": [], "detail": {}}')
            await conn.execute(
                "INSERT INTO core.outbox (event_id, exchange, routing_key, body, tenant,"
                " submission_id, invoice_id, published_at) VALUES (%s, 'efacture.status',"
                " %s, %s, %s, %s, %s, now())",
                (uuid.uuid4(), f"status.{tenant}.archived", body.encode(), tenant,
                 f"sub-{number}", invoice_id))
            await conn.commit()

    asyncio.run(run())
    return invoice_id


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token in the page"
    return found.group(1)


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol(client: TestClient, link: str, clock: Clock) -> str:
    """Confirm the link, set the password, confirm TOTP; returns the TOTP secret."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    assert page.status_code == 200
    r = client.post("/" + path, data={"csrf_token": csrf(page.text)})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/enrol/password"
    page = client.get("/enrol/password")
    r = client.post("/enrol/password", data={"csrf_token": csrf(page.text),
                                             "password": PASSWORD,
                                             "password_confirm": PASSWORD})
    assert r.status_code == 303, r.text
    page = client.get("/enrol/totp")
    found = re.search(r"secret=([A-Z2-7]+)", page.text)
    assert found, page.text
    secret = found.group(1)
    r = client.post("/enrol/totp", data={"csrf_token": csrf(page.text),
                                         "code": code_at(secret, clock())})
    assert r.status_code == 200, r.text
    assert "Codes de secours" in r.text
    return secret


def login(client: TestClient, email: str, secret: str, clock: Clock,
          password: str = PASSWORD, code: str | None = None) -> Any:
    page = client.get("/login")
    r = client.post("/login", data={"csrf_token": csrf(page.text), "email": email,
                                    "password": password})
    if r.status_code != 303:
        return r
    page = client.get("/login/otp")
    return client.post("/login/otp", data={"csrf_token": csrf(page.text),
                                           "code": code or code_at(secret, clock())})

"""Portal pages (contract v2 section 7): isolation between recipients and between tenants
(404 exactly like a missing invoice), JSON answers, downloads checked and audited, issuer
clients (revoke, re-send), usage from metering's counters, settings (sanitised logo), roles,
and the ``efacture user`` / ``efacture audit`` commands."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from services.portal.auth import links, members
from shared.settings import Settings
from tests.integration.portal.web.portal_support import (
    T0,
    Clock,
    add_tenant,
    archive_invoice,
    csrf,
    enrol,
)
from tests.support.system import EFACTURE

pytestmark = pytest.mark.integration
X, Y = "55208131700010", "73282932000074"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" '
       b'onload="alert(1)"><script>alert(2)</script><rect width="10" height="10" fill="red"/>'
       b'<image href="https://evil.example/x.png"/></svg>')


def _async(body: Callable[[psycopg.AsyncConnection[Any]], Any], url: str) -> Any:
    async def run() -> Any:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            out = await body(conn)
            await conn.commit()
            return out
    return asyncio.run(run())


def enrolment_link(settings: Settings, email: str) -> str:
    token = _async(lambda c: links.issue(c, email, "enrol", T0), settings.database_url)
    return f"https://portal.test/link/{token}"


def issuer_link(settings: Settings, tenant: str, email: str, role: str) -> str:
    url = _async(lambda c: members.add(c, "https://portal.test", tenant, email, role, T0),
                 settings.database_url)
    assert url is not None
    return str(url)


@pytest.fixture(scope="module")
def world(settings: Settings) -> dict[str, uuid.UUID]:
    add_tenant(settings.database_url, X, "Société X")
    add_tenant(settings.database_url, Y, "Société Y", date(2026, 9, 1))
    return {
        "x_alice": archive_invoice(settings, X, "X-ALICE-1", "alice@example.org"),
        "x_bob": archive_invoice(settings, X, "X-BOB-1", "Bob@Example.org"),
        "y_alice": archive_invoice(settings, Y, "Y-ALICE-1", "alice@example.org"),
        "y_carol": archive_invoice(settings, Y, "Y-CAROL-1", "carol@example.org"),
    }


def signed_in(make_client: Callable[[], TestClient], link: str, clock: Clock) -> TestClient:
    c = make_client()
    enrol(c, link, clock)
    return c


def test_recipient_sees_only_their_invoices(
        settings: Settings, world: dict[str, uuid.UUID],
        make_client: Callable[[], TestClient], clock: Clock) -> None:
    alice = signed_in(make_client, enrolment_link(settings, "alice@example.org"), clock)
    listing = alice.get("/invoices", headers={"accept": "application/json"}).json()
    numbers = sorted(i["invoice_number"] for i in listing["invoices"])
    assert numbers == ["X-ALICE-1", "Y-ALICE-1"]  # both issuers, nothing of Bob's or Carol's
    assert {i["issuer"] for i in listing["invoices"]} == {"Société X", "Société Y"}
    page = alice.get(f"/invoices/{world['x_alice']}")
    assert page.status_code == 200
    assert "X-ALICE-1" in page.text
    assert "Archivée" in page.text  # the lifecycle history, from the status events
    assert page.headers["cache-control"] == "no-store"
    missing = alice.get(f"/invoices/{uuid.uuid4()}")
    for other in ("x_bob", "y_carol"):
        for suffix in ("", "/pdf", "/original", "/proof.zip"):
            r = alice.get(f"/invoices/{world[other]}{suffix}")
            assert r.status_code == 404
            assert r.text == missing.text
    assert alice.get("/invoices/not-a-uuid").status_code == 404
    assert alice.get("/issuer/invoices").status_code == 404  # not an issuer user


def test_address_case_does_not_matter(
        settings: Settings, world: dict[str, uuid.UUID],
        make_client: Callable[[], TestClient], clock: Clock) -> None:
    bob = signed_in(make_client, enrolment_link(settings, "bob@example.org"), clock)
    assert bob.get(f"/invoices/{world['x_bob']}").status_code == 200


def test_original_download_is_checked_and_audited(
        settings: Settings, world: dict[str, uuid.UUID],
        make_client: Callable[[], TestClient], clock: Clock) -> None:
    carol = signed_in(make_client, enrolment_link(settings, "carol@example.org"), clock)
    r = carol.get(f"/invoices/{world['y_carol']}/original")
    assert r.status_code == 200
    assert r.content == b"<Invoice><ID>Y-CAROL-1</ID></Invoice>"
    assert r.headers["cache-control"] == "no-store"
    assert "attachment" in r.headers["content-disposition"]
    rows = psycopg.connect(settings.database_url).execute(
        "SELECT tenant, actor, action FROM portal.audit WHERE invoice_id = %s",
        (world["y_carol"],)).fetchall()
    assert ("73282932000074", "carol@example.org", "download-original") in rows


def test_issuer_sees_its_tenant_only_and_staff_is_not_admin(
        settings: Settings, world: dict[str, uuid.UUID],
        make_client: Callable[[], TestClient], clock: Clock) -> None:
    staff = signed_in(make_client, issuer_link(settings, X, "staff@x.example", "staff"), clock)
    listing = staff.get("/issuer/invoices", headers={"accept": "application/json"}).json()
    assert sorted(i["invoice_number"] for i in listing["invoices"]) == ["X-ALICE-1", "X-BOB-1"]
    assert staff.get(f"/invoices/{world['x_bob']}").status_code == 200
    assert staff.get(f"/invoices/{world['y_carol']}").status_code == 404
    assert staff.get(f"/invoices/{world['y_carol']}/original").status_code == 404
    clients = staff.get("/issuer/clients", headers={"accept": "application/json"}).json()
    assert sorted(c["email"] for c in clients["clients"]) == ["alice@example.org",
                                                             "bob@example.org"]
    for path in ("/issuer/settings", "/issuer/audit"):
        assert staff.get(path).status_code == 404
    assert staff.get("/issuer/usage").status_code == 200


def test_usage_shows_metering_counters(
        settings: Settings, world: dict[str, uuid.UUID],
        make_client: Callable[[], TestClient], clock: Clock) -> None:
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO metering.period_count VALUES (%s, '2026-11-01', '2026-11-30',"
                     " 7), (%s, '2026-10-01', '2026-10-31', 12) ON CONFLICT DO NOTHING", (Y, Y))
        conn.execute("INSERT INTO metering.tenant_count VALUES (%s, 19, 21)"
                     " ON CONFLICT DO NOTHING", (Y,))
    admin = signed_in(make_client, issuer_link(settings, Y, "admin@y.example", "admin"), clock)
    u = admin.get("/issuer/usage", headers={"accept": "application/json"}).json()
    assert (u["period_start"], u["period_end"]) == ("2026-11-01", "2026-11-30")
    assert (u["period_count"], u["previous_period_count"]) == (7, 12)
    assert (u["stored"], u["cumulative"], u["plan"], u["tranches"]) == (19, 21, "paid", 0)


def test_revoke_and_resend_access(
        settings: Settings, world: dict[str, uuid.UUID], make_client: Callable[[], TestClient],
        clock: Clock, mailer: Any) -> None:
    admin = signed_in(make_client, issuer_link(settings, X, "admin@x.example", "admin"), clock)
    dora = archive_invoice(settings, X, "X-DORA-1", "dora@example.org")
    dora_c = signed_in(make_client, enrolment_link(settings, "dora@example.org"), clock)
    assert dora_c.get(f"/invoices/{dora}").status_code == 200
    page = admin.get("/issuer/clients")
    r = admin.post("/issuer/clients", data={"csrf_token": csrf(page.text),
                                            "email": "dora@example.org", "action": "revoke"})
    assert r.status_code == 303
    assert dora_c.get(f"/invoices/{dora}").status_code == 404
    # Someone not a client of X cannot be "re-sent" anything: 404 as for a missing one.
    r = admin.post("/issuer/clients", data={"csrf_token": csrf(page.text),
                                            "email": "carol@example.org", "action": "resend"})
    assert r.status_code == 404
    r = admin.post("/issuer/clients", data={"csrf_token": csrf(page.text),
                                            "email": "dora@example.org", "action": "resend"})
    assert r.status_code == 303
    assert dora_c.get(f"/invoices/{dora}").status_code == 200
    assert mailer.sent[-1].to == "dora@example.org"
    audit = admin.get("/issuer/audit", headers={"accept": "application/json"}).json()["audit"]
    assert {"revoke-access", "resend-access"} <= {a["action"] for a in audit}


def test_logo_is_sanitised_and_shown_to_recipients_only(
        settings: Settings, world: dict[str, uuid.UUID], make_client: Callable[[], TestClient],
        clock: Clock) -> None:
    admin = signed_in(make_client, issuer_link(settings, X, "logo@x.example", "admin"), clock)
    page = admin.get("/issuer/settings")
    r = admin.post("/issuer/settings", data={"csrf_token": csrf(page.text),
                                             "display_name": "X & Fils"},
                   files={"logo": ("logo.svg", SVG, "image/svg+xml")})
    assert r.status_code == 200, r.text
    logo = admin.get(f"/brand/{X}/logo")
    assert logo.status_code == 200
    assert b"<rect" in logo.content
    for bad in (b"script", b"onload", b"evil.example"):
        assert bad not in logo.content
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (600 * 1024)
    r = admin.post("/issuer/settings", data={"csrf_token": csrf(page.text)},
                   files={"logo": ("big.png", big, "image/png")})
    assert r.status_code in (400, 413)
    erik_invoice = archive_invoice(settings, X, "X-ERIK-1", "erik@example.org")
    archive_invoice(settings, Y, "Y-FAYE-1", "faye@example.org")
    erik = signed_in(make_client, enrolment_link(settings, "erik@example.org"), clock)
    shown = erik.get(f"/invoices/{erik_invoice}")
    assert f"/brand/{X}/logo" in shown.text
    assert "X &amp; Fils" in shown.text
    assert f"/brand/{X}/logo" in erik.get("/invoices").text
    assert erik.get(f"/brand/{X}/logo").status_code == 200
    faye = signed_in(make_client, enrolment_link(settings, "faye@example.org"), clock)
    assert faye.get(f"/brand/{X}/logo").status_code == 404  # not a client of X


def test_user_and_audit_commands(settings: Settings, world: dict[str, uuid.UUID],
                                 tmp_path: Any) -> None:
    env = {"EFACTURE_DATABASE_URL": settings.database_url, "EFACTURE_DATA_DIR": str(tmp_path),
           "EFACTURE_PORTAL_URL": "https://portal.test", "PATH": "/usr/bin:/bin"}

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EFACTURE, *args], env=env, capture_output=True, text=True,
                              timeout=120, check=check)

    added = json.loads(cli("user", "add", X, "New@X.example", "--role", "admin", "--json").stdout)
    assert added == {"tenant": X, "email": "new@x.example", "role": "admin",
                     "enrolment_sent": True}
    mails = list((tmp_path / "mail").glob("*.eml"))
    assert len(mails) == 1
    assert "https://portal.test/link/" in mails[0].read_text()
    listed = json.loads(cli("user", "list", X, "--json").stdout)
    assert {"email": "new@x.example", "role": "admin", "enrolled": False} in [
        {k: u[k] for k in ("email", "role", "enrolled")} for u in listed]
    removed = cli("user", "remove", X, "new@x.example", "--json", check=False)
    assert removed.returncode == 0, removed.stderr
    assert cli("user", "remove", X, "new@x.example", check=False).returncode == 1
    assert cli("user", "add", "00000000000000", "a@b.example", check=False).returncode == 1
    audit = json.loads(cli("audit", Y, "--json").stdout)
    assert any(a["action"] == "download-original" for a in audit)
    assert all(a["invoice_id"] != str(world["x_alice"]) for a in audit)  # X's stay X's

"""Portal sign-in (contract v2 section 7): links consumed only by POST, TOTP refused when
wrong or reused, lockout after ten failures, same answer for unknown accounts, cookie flags,
security headers, CSRF, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest
from starlette.testclient import TestClient

from services.portal.auth import links
from shared.settings import Settings
from tests.integration.portal.web.portal_support import (
    Clock,
    RecordingMailer,
    add_tenant,
    archive_invoice,
    code_at,
    csrf,
    enrol,
    login,
)

pytestmark = pytest.mark.integration
ISSUER = "55208131700010"
WRONG = "not-the-password"


def _link(settings: Settings, email: str, clock: Clock, purpose: str = "enrol") -> str:
    async def run() -> str:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            token = await links.issue(conn, email, purpose, clock())
            await conn.commit()
            return f"https://portal.test/link/{token}"
    return asyncio.run(run())


@pytest.fixture(scope="module")
def invoice(settings: Settings) -> str:
    add_tenant(settings.database_url, ISSUER, "Émetteur Un")
    return str(archive_invoice(settings, ISSUER, "F-SIGNIN-1", "alice@example.org"))


def test_enrolment_link_is_consumed_only_by_post(
        settings: Settings, make_client: Callable[[], TestClient], clock: Clock) -> None:
    link = _link(settings, "bob@example.org", clock)
    scanner = make_client()
    for _ in range(3):  # a mail scanner following the link many times spends nothing
        assert scanner.get(link.replace("https://portal.test", "")).status_code == 200
    person = make_client()
    enrol(person, link, clock)
    again = make_client()
    path = link.replace("https://portal.test", "")
    page = again.get(path)
    r = again.post(path, data={"csrf_token": csrf(page.text)})
    assert r.status_code == 410  # spent by the first POST


def test_expired_link_is_refused(settings: Settings, make_client: Callable[[], TestClient],
                                 clock: Clock) -> None:
    link = _link(settings, "late@example.org", clock, "signin")
    clock.advance(minutes=16)
    c = make_client()
    path = link.replace("https://portal.test", "")
    r = c.post(path, data={"csrf_token": csrf(c.get(path).text)})
    assert r.status_code == 410


def test_recipient_journey_and_reused_code(
        settings: Settings, invoice: str, make_client: Callable[[], TestClient],
        clock: Clock) -> None:
    c = make_client()
    secret = enrol(c, _link(settings, "alice@example.org", clock), clock)
    assert c.get("/invoices").status_code == 200
    stored = psycopg.connect(settings.database_url).execute(
        "SELECT totp_secret FROM portal.account WHERE email = 'alice@example.org'").fetchone()
    assert stored is not None
    assert stored[0].startswith("v1:")
    assert secret not in stored[0]  # sealed at rest
    assert "F-SIGNIN-1" in c.get("/invoices").text
    # The enrolment's code was used in this step: signing in with it again is refused.
    other = make_client()
    r = login(other, "alice@example.org", secret, clock)
    assert r.status_code == 200
    assert "incorrect" in r.text
    clock.advance(seconds=30)
    r = login(other, "alice@example.org", secret, clock)
    assert r.status_code == 303
    assert r.headers["location"] == "/invoices"
    assert other.get("/invoices").status_code == 200
    # ... and the very same code, a second time in the same step, is refused.
    third = make_client()
    r = login(third, "alice@example.org", secret, clock, code=code_at(secret, clock()))
    assert r.status_code == 200
    assert "incorrect" in r.text
    assert third.get("/invoices").status_code == 303


def test_wrong_code_is_refused(settings: Settings, make_client: Callable[[], TestClient],
                               clock: Clock) -> None:
    c = make_client()
    secret = enrol(c, _link(settings, "carol@example.org", clock), clock)
    clock.advance(seconds=60)
    d = make_client()
    wrong = "000000" if code_at(secret, clock()) != "000000" else "111111"
    r = login(d, "carol@example.org", secret, clock, code=wrong)
    assert r.status_code == 200
    assert "incorrect" in r.text
    assert d.get("/invoices").status_code == 303


def test_lockout_after_ten_failures(settings: Settings, make_client: Callable[[], TestClient],
                                    clock: Clock) -> None:
    c = make_client()
    secret = enrol(c, _link(settings, "dave@example.org", clock), clock)
    d = make_client()
    for _ in range(10):
        r = login(d, "dave@example.org", secret, clock, password=WRONG)
        assert r.status_code == 200
    clock.advance(seconds=30)
    r = login(d, "dave@example.org", secret, clock)  # right password and code: still locked
    assert r.status_code == 200
    assert "incorrect" in r.text
    clock.advance(minutes=15, seconds=30)
    r = login(d, "dave@example.org", secret, clock)
    assert r.status_code == 303


def test_unknown_account_gets_the_same_answer(
        settings: Settings, make_client: Callable[[], TestClient], clock: Clock) -> None:
    c = make_client()
    secret = enrol(c, _link(settings, "erin@example.org", clock), clock)
    d = make_client()
    known = login(d, "erin@example.org", secret, clock, password=WRONG)
    unknown = login(d, "nobody@example.org", secret, clock, password=WRONG)
    assert known.status_code == unknown.status_code == 200
    strip = lambda t: t.replace(csrf(t), "")  # noqa: E731
    assert strip(known.text).replace("erin@", "X@") == strip(unknown.text).replace("nobody@",
                                                                                    "X@")


def test_access_request_answers_the_same_and_mails_only_known(
        settings: Settings, invoice: str, make_client: Callable[[], TestClient],
        clock: Clock, mailer: RecordingMailer) -> None:
    c = make_client()
    answers = []
    for email in ("alice@example.org", "stranger@example.org"):
        page = c.get("/access")
        answers.append(c.post("/access", data={"csrf_token": csrf(page.text), "email": email}))
    assert answers[0].status_code == answers[1].status_code == 200
    assert [m.to for m in mailer.sent] == ["alice@example.org"]
    assert "/link/" in mailer.sent[0].text


def test_post_without_csrf_token_is_refused(
        settings: Settings, make_client: Callable[[], TestClient], clock: Clock) -> None:
    c = make_client()
    c.get("/login")
    r = c.post("/login", data={"email": "a@example.org", "password": "x"})
    assert r.status_code == 403
    r = c.post("/login", data={"email": "a@example.org", "password": "x",
                               "csrf_token": "forged"})
    assert r.status_code == 403


def test_cookie_flags_and_security_headers(make_client: Callable[[], TestClient]) -> None:
    c = make_client()
    r = c.get("/login")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-efacture=")
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags
    assert not any(f.startswith("domain") for f in flags)
    h = r.headers
    assert "max-age=" in h["strict-transport-security"]
    assert "default-src 'none'" in h["content-security-policy"]
    assert "script-src" not in h["content-security-policy"]  # so none at all, inline or not
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"


def test_session_id_changes_at_each_step_and_logout_ends_it(
        settings: Settings, make_client: Callable[[], TestClient], clock: Clock) -> None:
    c = make_client()
    secret = enrol(c, _link(settings, "frank@example.org", clock), clock)
    clock.advance(seconds=30)
    d = make_client()
    d.get("/login")
    first = d.cookies.get("__Host-efacture")
    r = login(d, "frank@example.org", secret, clock)
    assert r.status_code == 303
    signed_in = d.cookies.get("__Host-efacture")
    assert signed_in != first
    # An old cookie is worthless.
    stale = make_client()
    stale.cookies.set("__Host-efacture", first, domain="testserver")
    assert stale.get("/invoices").status_code == 303
    page = d.get("/account")
    assert page.status_code == 200
    assert "frank@example.org" in page.text
    # c (from the enrolment) sees d's session and ends it.
    sessions = c.get("/account", headers={"accept": "application/json"}).json()["sessions"]
    assert len(sessions) == 2
    target = next(s["public_id"] for s in sessions if not s["current"])
    page = c.get("/account")
    r = c.post("/account/sessions/end", data={"csrf_token": csrf(page.text),
                                              "session": target})
    assert r.status_code == 303
    assert d.get("/invoices").status_code == 303
    r = c.post("/logout", data={"csrf_token": csrf(c.get("/account").text)})
    assert r.status_code == 303
    assert c.get("/invoices").status_code == 303


def test_idle_session_expires(settings: Settings, make_client: Callable[[], TestClient],
                              clock: Clock) -> None:
    c = make_client()
    enrol(c, _link(settings, "gina@example.org", clock), clock)
    assert c.get("/invoices").status_code == 200
    clock.advance(minutes=31)
    assert c.get("/invoices").status_code == 303


def test_access_links_to_one_address_are_limited(
        settings: Settings, invoice: str, make_client: Callable[[], TestClient],
        clock: Clock, mailer: RecordingMailer) -> None:
    c = make_client()
    clock.advance(hours=1)
    for _ in range(8):
        page = c.get("/access")
        r = c.post("/access", data={"csrf_token": csrf(page.text), "email": "alice@example.org"})
        assert r.status_code == 200
    assert len([m for m in mailer.sent if m.to == "alice@example.org"]) == 5


def test_french_by_default_english_when_asked(make_client: Callable[[], TestClient]) -> None:
    c = make_client()
    fr = c.get("/login")
    assert '<html lang="fr">' in fr.text
    assert "Mot de passe" in fr.text
    en = c.get("/login", headers={"accept-language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in en.text
    assert "Password" in en.text
    assert "Mot de passe" not in en.text
    assert '<html lang="fr">' in c.get("/login", headers={"accept-language": "fr-FR,en;q=0.8"}).text

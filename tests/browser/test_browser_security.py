"""Sign-in and transport properties seen from Chromium: wrong and reused codes, CSRF, cookie
flags, security headers, plain HTTP, lockout after ten failures (last: it trips throttling)."""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg
import pyotp

from tests.browser.portal import PASSWORD, Browser, PortalWorld, assert_security_headers, submit

TENANT = "55208131700010"


def _enrolled(world: PortalWorld, browser: Callable[[str], Browser], who: str,
              number: str) -> tuple[Browser, str, str]:
    email = f"{who}@client.example"
    submit(world, TENANT, number, email)
    person = browser(who)
    secret = person.enrol(world.link_in(world.wait_mail(email)), f"{who}-enrol")
    return person, email, secret


def _logout(person: Browser) -> None:
    person.visit("/invoices", "before-logout")
    person.submit("form[action$='/logout']")
    assert not person.signed_in()


def test_wrong_and_reused_codes_refused(world: PortalWorld, tenant: str,
                                        browser: Callable[[str], Browser]) -> None:
    person, email, secret = _enrolled(world, browser, "fanny", "PORTAIL-S-1")
    _logout(person)
    now = int(pyotp.TOTP(secret).now())
    person.login(email, secret, code=f"{(now + 500_000) % 1_000_000:06d}")  # never valid now
    person.check("login-wrong-code")
    assert not person.signed_in()

    code = world.fresh_code(secret)
    person.login(email, secret, code=code)
    assert person.signed_in()
    _logout(person)
    person.login(email, secret, code=code)  # the same code, in the same time step
    assert not person.signed_in()


def test_post_without_csrf_token_refused(world: PortalWorld, tenant: str,
                                         browser: Callable[[str], Browser]) -> None:
    person, email, _ = _enrolled(world, browser, "gaspard", "PORTAIL-S-2")
    answer = person.post("/logout", {})
    assert answer.status in (400, 403), answer.status
    assert person.signed_in()  # the forged logout did nothing
    wrong = person.post("/logout", {"csrf_token": "x" * 43})
    assert wrong.status in (400, 403), wrong.status
    assert person.signed_in()

    stranger = browser("stranger")
    stranger.visit("/login", "login-csrf")
    refused = stranger.post("/login", {"email": email, "password": PASSWORD})
    assert refused.status in (400, 403), refused.status


def test_session_cookie_flags_and_security_headers(world: PortalWorld, tenant: str,
                                                   browser: Callable[[str], Browser]) -> None:
    person, _, _ = _enrolled(world, browser, "hugo", "PORTAIL-S-3")
    [cookie] = [c for c in person.context.cookies() if c["name"] == "__Host-efacture"]
    assert cookie["secure"] is True
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["domain"].startswith(".")  # __Host-: no Domain attribute
    for path in ("/login", "/invoices", "/does-not-exist"):
        answer = person.get(path)
        assert_security_headers(answer.headers, path)


def test_a_user_ends_their_other_session(world: PortalWorld, tenant: str,
                                         browser: Callable[[str], Browser]) -> None:
    laptop, email, secret = _enrolled(world, browser, "jules", "PORTAIL-S-5")
    phone = browser("jules-phone")
    phone.login(email, secret)
    assert phone.signed_in()
    laptop.visit("/account", "account-two-sessions")
    assert laptop.page.locator("form[action$='/account/sessions/end']").count() == 1
    laptop.submit("form[action$='/account/sessions/end']")
    laptop.check("account-session-ended")
    assert not phone.signed_in()
    assert laptop.signed_in()


def test_plain_http_is_refused_or_redirected(world: PortalWorld) -> None:
    parts = urlsplit(world.url)
    conn = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=10)
    try:
        conn.request("GET", "/login")
        answer = conn.getresponse()
    except (OSError, http.client.HTTPException):
        return  # refused: the port speaks TLS only
    finally:
        conn.close()
    assert answer.status in (301, 302, 307, 308, 400), answer.status
    if answer.status != 400:
        assert (answer.getheader("Location") or "").startswith("https://")


def test_tls_1_2_or_later_only(world: PortalWorld) -> None:
    parts = urlsplit(world.url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((parts.hostname or "localhost", parts.port or 443)) as raw, \
            ctx.wrap_socket(raw, server_hostname=parts.hostname) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_zz_lockout_after_ten_failures(world: PortalWorld, tenant: str,
                                       browser: Callable[[str], Browser]) -> None:
    person, email, secret = _enrolled(world, browser, "ines", "PORTAIL-S-4")
    _logout(person)
    for _ in range(10):
        person.visit("/login", "login-lockout")
        token = person.csrf()
        answer = person.post("/login", {"email": email, "password": "mauvais-mot-de-passe",
                                        "csrf_token": token})
        assert answer.status in (200, 303, 400, 401, 403, 429), answer.status
    person.visit("/login", "login-locked")
    person.page.locator("input[name=email]").fill(email)
    person.page.locator("input[name=password]").fill(PASSWORD)
    person.submit("form:has(input[name=password])")
    if person.page.locator("input[name=code]").count():
        person.page.locator("input[name=code]").fill(world.fresh_code(secret))
        person.submit("form:has(input[name=code])")
    person.check("login-locked-answer")
    assert not person.signed_in()
    # The account itself is locked (not only this address throttled).
    with psycopg.connect(world.system.infra.database_url) as conn:
        row = conn.execute("SELECT locked_until > now() FROM portal.account WHERE email = %s",
                           (email,)).fetchone()
    assert row == (True,)

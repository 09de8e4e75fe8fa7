"""What the browser tests do to the portal: visit (with axe, headers, screenshot), enrol, sign in.

Pages are found by the contract's URLs and field names (``email``, ``password``, ``code``,
``csrf_token``); the enrolment wizard is walked by what each page asks for (a confirmation
button, a password, a TOTP code with its ``otpauth://`` URI, recovery codes), so the tests do
not depend on the order or wording of its pages.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import APIResponse, BrowserContext, Page, Response

from tests.support.smtp_sink import Received, SmtpSink
from tests.support.system import System

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "Ceci-est-un-mot-de-passe-solide-42"  # noqa: S105 - a test account's
SERIOUS = ("serious", "critical")
_OTPAUTH = re.compile(r"otpauth://totp/[^\s\"'<>]+")
_URL = re.compile(r"https://[^\s<>\"']+")


@dataclass
class PortalWorld:
    system: System
    smtp: SmtpSink
    url: str
    data: Path
    used_steps: dict[str, set[int]] = field(default_factory=dict)

    def mails_to(self, address: str) -> list[Received]:
        return [r for r in self.smtp.received if address in r.rcpt_tos]

    def wait_mail(self, address: str, count: int = 1, timeout: float = 180) -> Received:
        """The ``count``-th e-mail to ``address`` (waits for it)."""
        self.smtp.wait_for(lambda rs: len([r for r in rs if address in r.rcpt_tos]) >= count,
                           timeout=timeout)
        return self.mails_to(address)[count - 1]

    def link_in(self, mail: Received) -> str:
        links = [u.rstrip(".,);") for u in _URL.findall(mail.text)
                 if u.startswith(self.url)]
        assert links, f"no portal link in the e-mail:\n{mail.text}"
        return links[0]

    def fresh_code(self, secret: str) -> str:
        """A TOTP code of a time step not used yet for ``secret`` (waits for the next step)."""
        totp = pyotp.TOTP(secret)
        used = self.used_steps.setdefault(secret, set())
        while int(time.time()) // 30 in used:
            time.sleep(0.5)
        step = int(time.time()) // 30
        if 30 - time.time() % 30 < 3:  # too close to the step's end: the server may see the next
            time.sleep(30 - time.time() % 30 + 0.2)
            step = int(time.time()) // 30
        used.add(step)
        return totp.at(step * 30)


@dataclass(frozen=True)
class Submitted:
    invoice_id: str
    number: str
    file: Path


def submit(world: PortalWorld, tenant: str, number: str, email: str | None) -> Submitted:
    """Submit a CII invoice numbered ``number`` (archive only) and wait until it is archived."""
    from tests.support.invoices import cii_invoice

    path = world.data / f"{number}.xml"
    path.write_bytes(cii_invoice(number))
    args = ["submit", str(path), "--tenant", tenant, "--no-transmit"]
    if email:
        args += ["--recipient-email", email]
    world.system.cli(*args)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rows = world.system.cli_json("invoice", "list", "--tenant", tenant)
        for row in rows:
            if row["invoice_number"] == number:
                return Submitted(row["invoice_id"], number, path)
        time.sleep(0.5)
    raise AssertionError(f"invoice {number} was never archived")


class Browser:
    """One person's Chromium (own profile, own cookies) and what it checks on every page."""

    def __init__(self, world: PortalWorld, context: BrowserContext, profile: Path,
                 name: str) -> None:
        self.world = world
        self.context = context
        self.profile = profile
        self.name = name
        self.page: Page = context.pages[0] if context.pages else context.new_page()
        self.axe = Axe()
        self.checked: list[str] = []

    def close(self) -> None:
        self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)  # the user-data-dir is the test's own

    # -- every page -------------------------------------------------------------------------
    def check(self, name: str, response: Response | None = None) -> None:
        """Screenshot, axe (no serious or critical violation), the security headers."""
        page = self.page
        page.wait_for_load_state("load")
        shot = ARTIFACTS / f"{self.name}-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        results = self.axe.run(page)
        violations = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
        (ARTIFACTS / f"{self.name}-{name}.axe.json").write_text(
            json.dumps(results.response["violations"], indent=1, ensure_ascii=False))
        assert not violations, f"{name} ({page.url}): axe " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:3])
            for v in violations)
        broken = page.evaluate(
            "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0)"
            ".map(i => (i.getAttribute('alt') || '') + ' <' + i.src.slice(0, 60) + '>')")
        assert not broken, f"{name} ({page.url}): images that do not display: {broken}"
        if response is not None:
            assert_security_headers(response.headers, page.url)
        self.checked.append(name)

    def visit(self, path: str, name: str, *, expect: int = 200) -> Response | None:
        response = self.page.goto(self.world.url + path if path.startswith("/") else path)
        assert response is not None
        assert response.status == expect, f"{path}: {response.status}"
        if expect == 200:
            self.check(name, response)
        return response

    def narrow(self, name: str) -> None:
        """The current page at 360 px: screenshot, and nothing wider than the screen."""
        self.page.set_viewport_size({"width": 360, "height": 780})
        try:
            self.page.wait_for_timeout(200)
            self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{name}-360.png"),
                                 full_page=True)
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 362, f"{name}: {width} px wide at 360 px"
        finally:
            self.page.set_viewport_size({"width": 1280, "height": 900})

    # -- forms ------------------------------------------------------------------------------
    def submit(self, form_selector: str) -> Response | None:
        form = self.page.locator(form_selector).first
        button = form.locator("button[type=submit], input[type=submit], button:not([type])")
        with self.page.expect_navigation() as nav:
            button.first.click()
        return nav.value

    def enrol(self, link: str, label: str) -> str:
        """Walk the enrolment wizard from an e-mailed link; returns the TOTP secret."""
        self.page.goto(link)
        self.check(f"{label}-1-confirm")
        secret: str | None = None
        for step in range(2, 10):
            page = self.page
            content = page.content()
            if page.locator("input[type=password]").count():
                for box in page.locator("input[type=password]").all():
                    box.fill(PASSWORD)
                self.submit("form:has(input[type=password])")
            elif _OTPAUTH.search(content) and page.locator("input[name=code]").count():
                uri = html.unescape(_OTPAUTH.search(content).group(0))  # type: ignore[union-attr]
                secret = parse_qs(urlsplit(uri).query)["secret"][0]
                page.locator("input[name=code]").fill(self.world.fresh_code(secret))
                self.submit("form:has(input[name=code])")
            elif secret is not None:
                # Past the TOTP step: the recovery codes (checked above). A page that asks to
                # acknowledge them has a form; anything else is the end of the wizard.
                ack = "form[method=post i]:not([action$='/logout'])"
                if page.locator(ack).count():
                    self.submit(ack)
                    self.check(f"{label}-{step}-after-codes")
                return secret
            else:
                self.submit("form[method=post i]:not([action$='/logout'])")
            self.check(f"{label}-{step}-enrolment")
        raise AssertionError(f"enrolment did not finish; at {self.page.url}")

    def login(self, email: str, secret: str, *, code: str | None = None) -> Response | None:
        """Sign in (``/login`` then ``/login/otp``); returns the answer to the code."""
        self.visit("/login", "login")
        self.page.locator("input[name=email]").fill(email)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.submit("form:has(input[name=password])")
        assert self.page.locator("input[name=code]").count(), f"no code asked: {self.page.url}"
        self.check("login-otp")
        self.page.locator("input[name=code]").fill(code or self.world.fresh_code(secret))
        return self.submit("form:has(input[name=code])")

    def signed_in(self) -> bool:
        answer = self.get("/invoices")
        return answer.status == 200 and "/login" not in answer.url

    # -- HTTP with this browser's cookies ---------------------------------------------------
    def get(self, path: str, **headers: str) -> APIResponse:
        return self.context.request.get(self.world.url + path, headers=headers or None,
                                        max_redirects=5)

    def post(self, path: str, form: dict[str, Any]) -> APIResponse:
        return self.context.request.post(self.world.url + path, form=form, max_redirects=0)

    def csrf(self) -> str:
        value = self.page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value, "no csrf_token on the page"
        return value


def assert_security_headers(headers: dict[str, str], where: str) -> None:
    """Contract v2 section 7: HSTS, a restrictive CSP, nosniff, no referrer."""
    h = {k.lower(): v for k, v in headers.items()}
    assert "max-age=" in h.get("strict-transport-security", ""), f"{where}: no HSTS"
    csp = h.get("content-security-policy", "")
    assert "default-src" in csp, f"{where}: no CSP default-src"
    assert "'unsafe-eval'" not in csp, f"{where}: CSP allows eval"
    script = re.search(r"script-src ([^;]*)", csp)
    assert script is None or "'unsafe-inline'" not in script.group(1), f"{where}: inline JS"
    assert "frame-ancestors 'none'" in csp or h.get("x-frame-options", "").upper() == "DENY", \
        f"{where}: may be framed"
    assert h.get("x-content-type-options", "").lower() == "nosniff", f"{where}: no nosniff"
    assert h.get("referrer-policy", "").lower() == "no-referrer", f"{where}: referrer"

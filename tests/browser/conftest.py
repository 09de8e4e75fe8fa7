"""The browser suite's world: one real ``efacture up`` (portal included) on its own vhost and
database, a real SMTP server (aiosmtpd), and Debian's Chromium driven by Playwright.

One system serves the whole suite (starting it costs most of a minute); every test makes its
own accounts and invoices, so tests do not depend on each other's data. Screenshots and axe
reports go to ``tests/browser/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Playwright, sync_playwright

from tests.browser.portal import ARTIFACTS, Browser, PortalWorld
from tests.support import infra as infra_mod
from tests.support.infra import free_port
from tests.support.invoices import TENANT
from tests.support.smtp_sink import SmtpSink
from tests.support.system import System

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _wait_for_portal(url: str, system: System, timeout: float = 60) -> None:
    """Fail at once (for every test) when ``efacture up`` does not serve the portal."""
    parts = urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname or "localhost", parts.port or 443),
                                          timeout=5) as raw, ctx.wrap_socket(raw):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"efacture up does not serve the portal at {url}; log:\n"
                f"{system.log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def world(smtp: SmtpSink) -> Iterator[PortalWorld]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see README set-up)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    made = infra_mod.create("efacture_browser")
    data = Path(tempfile.mkdtemp(prefix="efacture-browser-"))
    portal_url = f"https://localhost:{free_port()}"
    system = System(made, data, EFACTURE_SMTP_URL=smtp.url, EFACTURE_PORTAL_URL=portal_url,
                    EFACTURE_MAIL_FROM="factures@efacture.test")
    try:
        system.start(timeout=180)
        _wait_for_portal(portal_url, system)
        yield PortalWorld(system=system, smtp=smtp, url=portal_url, data=data)
    finally:
        system.stop()
        log = system.log
        if log.exists():
            shutil.copy(log, ARTIFACTS / "efacture-up.log")
        infra_mod.destroy(made)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def tenant(world: PortalWorld) -> str:
    """The issuer of the suite's invoices (the seller of ``tests.support.invoices``)."""
    world.system.cli("tenant", "add", TENANT, "--name", "Menuiserie Dupont", "--subscribed-on",
                     "2026-11-01", "--sandbox")
    return TENANT


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright: Playwright, world: PortalWorld) -> Iterator[Callable[[str], Browser]]:
    """A factory of browsers, each with a fresh user-data-dir (one per person in a test)."""
    opened: list[Browser] = []

    def open_one(name: str) -> Browser:
        profile = Path(tempfile.mkdtemp(prefix=f"chromium-{name}-"))
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            ignore_https_errors=True, locale="fr-FR", accept_downloads=True,
            viewport={"width": 1280, "height": 900})
        b = Browser(world, context, profile, name)
        opened.append(b)
        return b

    yield open_one
    for b in opened:
        b.close()

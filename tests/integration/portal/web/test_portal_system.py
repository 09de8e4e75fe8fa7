"""The portal in the real ``efacture up`` over HTTPS: an invoice submitted with
``--recipient-email`` is archived, its e-mail (an ``.eml`` file) carries an enrolment link,
the recipient enrols and downloads the PDF, the original and the proof bundle, which
``efacture verify`` accepts against the published anchors."""

from __future__ import annotations

import io
import re
import ssl
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.support.infra import Infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

pytestmark = pytest.mark.e2e
PASSWORD = "mot-de-passe-de-test-long"  # noqa: S105


@pytest.fixture(scope="module")
def up(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    s = System(infra, tmp_path_factory.mktemp("portal-up"))
    s.start(timeout=180)
    try:
        yield s
    finally:
        s.stop()


def _wait(predicate, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_recipient_enrols_from_the_email_and_downloads(up: System, tmp_path: Path) -> None:
    url = up.env["EFACTURE_PORTAL_URL"]
    data = Path(up.env["EFACTURE_DATA_DIR"])
    up.cli("tenant", "add", TENANT, "--name", "Démo", "--subscribed-on", "2026-11-01",
           "--sandbox")
    doc = tmp_path / "f.xml"
    doc.write_bytes(cii_invoice("PORTAL-E2E-1"))
    up.cli("submit", str(doc), "--tenant", TENANT, "--no-transmit",
           "--recipient-email", "client@example.org")
    mail = _wait(lambda: [p for p in (data / "mail").glob("*.eml")
                          if "client@example.org" in p.read_text()] if (data / "mail").exists()
                 else None)[0].read_text()
    link = re.search(re.escape(url) + r"/link/[A-Za-z0-9_\-]+", mail)
    assert link, mail
    # The certificate is the self-signed one in the data directory: trust exactly it.
    ctx = ssl.create_default_context(cafile=str(data / "portal-tls" / "cert.pem"))
    with httpx.Client(base_url=url, verify=ctx, timeout=60) as web:
        path = link.group(0)[len(url):]
        page = web.get(path)
        r = web.post(path, data={"csrf_token": _csrf(page.text)})
        assert r.status_code == 303
        page = web.get("/enrol/password")
        web.post("/enrol/password", data={"csrf_token": _csrf(page.text),
                                          "password": PASSWORD, "password_confirm": PASSWORD})
        page = web.get("/enrol/totp")
        secret = re.search(r"secret=([A-Z2-7]+)", page.text).group(1)  # type: ignore[union-attr]
        r = web.post("/enrol/totp", data={"csrf_token": _csrf(page.text),
                                          "code": pyotp.TOTP(secret).now()})
        assert "Codes de secours" in r.text
        listing = web.get("/invoices", headers={"accept": "application/json"}).json()
        (inv,) = listing["invoices"]
        assert inv["invoice_number"] == "PORTAL-E2E-1"
        base = f"/invoices/{inv['invoice_id']}"
        assert web.get(base + "/original").content == doc.read_bytes()
        pdf = web.get(base + "/pdf")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        proof = _wait(lambda: (r := web.get(base + "/proof.zip")).status_code == 200 and r)
        period = web.get("/invoices/download", params={"from": "2000-01-01", "to": "2099-12-31"})
        assert period.status_code == 200
        (name,) = zipfile.ZipFile(io.BytesIO(period.content)).namelist()
        assert name == f"{TENANT}/PORTAL-E2E-1.pdf"
        assert zipfile.ZipFile(io.BytesIO(period.content)).read(name) == pdf.content
    bundle = tmp_path / "proof"
    zipfile.ZipFile(io.BytesIO(proof.content)).extractall(bundle)
    assert {"timestamp.tsr", "inclusion.json", "checkpoint.json", "log.pub", "tsa-ca.pem"} <= {
        p.name for p in bundle.iterdir()}
    checked = up.cli("verify", str(doc), "--proof", str(bundle), "--log-key",
                     str(bundle / "log.pub"), "--tsa-ca", str(bundle / "tsa-ca.pem"),
                     check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

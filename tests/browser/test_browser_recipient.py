"""A recipient's whole journey in Chromium, and what another recipient cannot see.

Invoice submitted with ``recipient-email`` → « Nouvelle facture disponible » e-mail → link →
confirmation (a POST consumes the link) → password → TOTP enrolment → the list → the invoice
page → PDF, original and proof downloads → the proof verified offline with ``efacture verify``.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import facturx

from tests.browser.portal import Browser, PortalWorld, submit
from tests.support.system import EFACTURE

TENANT = "55208131700010"


def test_recipient_journey(world: PortalWorld, tenant: str,
                           browser: Callable[[str], Browser], tmp_path: Path) -> None:
    email = "alice@client.example"
    invoice = submit(world, TENANT, "PORTAIL-A-1", email)
    mail = world.wait_mail(email)
    assert mail.message["Subject"] == "Nouvelle facture disponible"
    assert "PORTAIL-A-1" in mail.text
    link = world.link_in(mail)

    alice = browser("alice")
    # Following the link (as a mail scanner would) consumes nothing: it can be opened again.
    alice.page.goto(link)
    alice.enrol(link, "alice-enrol")
    assert alice.signed_in()

    answer = alice.visit("/invoices", "invoices")
    assert answer is not None
    alice.narrow("invoices")
    assert "PORTAIL-A-1" in alice.page.inner_text("main")
    assert "Menuiserie Dupont" in alice.page.inner_text("body")

    page = alice.visit(f"/invoices/{invoice.invoice_id}", "invoice")
    assert page is not None
    assert "no-store" in page.headers.get("cache-control", "")
    alice.narrow("invoice")
    text = alice.page.inner_text("main")
    assert "PORTAIL-A-1" in text
    for suffix in ("pdf", "original", "proof.zip"):
        assert alice.page.locator(f"a[href$='/{invoice.invoice_id}/{suffix}']").count(), suffix

    pdf = alice.get(f"/invoices/{invoice.invoice_id}/pdf")
    assert pdf.status == 200
    assert "no-store" in pdf.headers.get("cache-control", "")
    assert pdf.headers["content-type"].startswith("application/pdf")
    name, xml = facturx.get_xml_from_pdf(pdf.body(), check_xsd=False)
    assert name == "factur-x.xml"
    assert xml == invoice.file.read_bytes()  # the rendering carries the original XML

    original = alice.get(f"/invoices/{invoice.invoice_id}/original")
    assert original.status == 200
    assert hashlib.sha256(original.body()).digest() == hashlib.sha256(
        invoice.file.read_bytes()).digest()

    proof = alice.get(f"/invoices/{invoice.invoice_id}/proof.zip")
    deadline = time.monotonic() + 120
    while proof.status == 503 and time.monotonic() < deadline:  # no checkpoint covers it yet
        time.sleep(1)
        proof = alice.get(f"/invoices/{invoice.invoice_id}/proof.zip")
    assert proof.status == 200, proof.text()[:500]
    bundle = tmp_path / "proof"
    with zipfile.ZipFile(io.BytesIO(proof.body())) as z:
        z.extractall(bundle)
    [log_pub] = list(bundle.rglob("log.pub"))
    [tsa_ca] = list(bundle.rglob("tsa-ca.pem"))
    document = tmp_path / "original.xml"
    document.write_bytes(original.body())
    verified = subprocess.run(
        [EFACTURE, "verify", str(document), "--proof", str(log_pub.parent),
         "--log-key", str(log_pub), "--tsa-ca", str(tsa_ca), "--json"],
        env=world.system.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    listed = alice.get("/invoices", Accept="application/json")
    assert listed.headers["content-type"].startswith("application/json")
    assert "PORTAIL-A-1" in listed.text()
    period = alice.get("/invoices/download?from=2017-11-01&to=2017-11-30")
    assert period.status == 200
    with zipfile.ZipFile(io.BytesIO(period.body())) as z:
        [member] = z.namelist()
        assert member.endswith(".pdf")
        assert facturx.get_xml_from_pdf(z.read(member), check_xsd=False)[1] == xml

    alice.visit("/account", "account")  # sessions, second factors
    alice.narrow("account")
    stranger = browser("alice-logged-out")
    stranger.visit("/access", "access")  # ask for a sign-in link
    stranger.visit("/login", "login")
    stranger.narrow("login")

    # One notification per invoice: no second e-mail arrived meanwhile.
    assert len([m for m in world.mails_to(email) if "Nouvelle facture" in str(
        m.message["Subject"])]) == 1


def test_recipient_cannot_open_another_recipients_invoice(
        world: PortalWorld, tenant: str, browser: Callable[[str], Browser]) -> None:
    mine = submit(world, TENANT, "PORTAIL-B-1", "bruno@client.example")
    theirs = submit(world, TENANT, "PORTAIL-C-1", "chloe@client.example")
    bruno = browser("bruno")
    bruno.enrol(world.link_in(world.wait_mail("bruno@client.example")), "bruno-enrol")
    assert bruno.get(f"/invoices/{mine.invoice_id}").status == 200
    for suffix in ("", "/pdf", "/original", "/proof.zip"):
        answer = bruno.get(f"/invoices/{theirs.invoice_id}{suffix}")
        assert answer.status == 404, (suffix, answer.status)
    unknown = bruno.get("/invoices/00000000-0000-4000-8000-000000000000")
    assert unknown.status == 404
    # Exactly as an invoice that does not exist: the same page.
    assert bruno.get(f"/invoices/{theirs.invoice_id}").text() == unknown.text()
    bruno.visit(f"/invoices/{theirs.invoice_id}", "not-found", expect=404)
    bruno.check("not-found")
    assert "PORTAIL-C-1" not in bruno.get("/invoices").text()

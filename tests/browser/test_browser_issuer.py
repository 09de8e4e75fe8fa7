"""An issuer's journey in Chromium: user added with the CLI → enrolment → invoices, clients,
usage (the same numbers as ``efacture usage``), logo upload shown on the recipient's pages,
and the audit trail of the recipient's views."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser.portal import Browser, PortalWorld, submit

TENANT = "55208131700010"
USAGE_KEYS = ("stored", "cumulative", "period_count", "previous_period_count", "plan",
              "tranches")


def _png(width: int = 96, height: int = 32) -> bytes:
    """A small valid PNG (a two-colour band), made here so the test needs no image file."""
    rows = b"".join(b"\x00" + bytes([30, 80, 160] if y < height // 2 else [240, 180, 20])
                    * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _find(data: Any, key: str) -> Any:
    """``data[key]`` wherever it is nested in a JSON document (first match)."""
    if isinstance(data, dict):
        if key in data:
            return data[key]
        for value in data.values():
            found = _find(value, key)
            if found is not None:
                return found
    if isinstance(data, list):
        for value in data:
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _user_add(world: PortalWorld, email: str) -> None:
    answer = world.system.cli("user", "add", TENANT, email, "--role", "admin", check=False)
    if answer.returncode == 2:  # no --role option: the first user is the admin
        answer = world.system.cli("user", "add", TENANT, email, check=False)
    assert answer.returncode == 0, answer.stderr


def test_issuer_journey(world: PortalWorld, tenant: str, browser: Callable[[str], Browser],
                        tmp_path: Path) -> None:
    first = submit(world, TENANT, "PORTAIL-I-1", "dora@client.example")
    second = submit(world, TENANT, "PORTAIL-I-2", "dora@client.example")
    third = submit(world, TENANT, "PORTAIL-I-3", "emile@client.example")

    admin_email = "gerante@menuiserie-dupont.example"
    _user_add(world, admin_email)
    issuer = browser("issuer")
    issuer.enrol(world.link_in(world.wait_mail(admin_email)), "issuer-enrol")

    issuer.visit("/issuer/invoices", "issuer-invoices")
    issuer.narrow("issuer-invoices")
    listed = issuer.page.inner_text("main")
    for invoice in (first, second, third):
        assert invoice.number in listed

    issuer.visit("/issuer/clients", "issuer-clients")
    clients = issuer.page.inner_text("main")
    assert "dora@client.example" in clients
    assert "emile@client.example" in clients

    issuer.visit("/issuer/usage", "issuer-usage")
    usage_text = issuer.page.inner_text("main")
    expected = world.system.cli_json("usage", TENANT)
    shown = issuer.get("/issuer/usage", Accept="application/json")
    assert shown.status == 200
    assert shown.headers["content-type"].startswith("application/json")
    shown_json = shown.json()
    for key in USAGE_KEYS:
        assert _find(shown_json, key) == expected[key], key
    assert str(expected["stored"]) in usage_text
    assert str(expected["cumulative"]) in usage_text

    issuer.visit("/issuer/settings", "issuer-settings")
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    issuer.page.locator("input[type=file]").first.set_input_files(str(logo))
    issuer.submit("form:has(input[type=file])")
    issuer.check("issuer-settings-logo")

    dora = browser("dora")
    dora.enrol(world.link_in(world.wait_mail("dora@client.example")), "dora-enrol")
    dora.visit("/invoices", "dora-invoices")
    loaded = dora.page.evaluate(
        "Array.from(document.images).filter(i => i.complete && i.naturalWidth === 96"
        " && i.naturalHeight === 32).map(i => i.getAttribute('alt') || '')")
    assert loaded, "the issuer's logo is not shown on the recipient's list"
    dora.visit(f"/invoices/{first.invoice_id}", "dora-invoice")
    assert dora.get(f"/invoices/{first.invoice_id}/pdf").status == 200

    issuer.visit("/issuer/audit", "issuer-audit")
    audit = issuer.page.inner_text("main")
    assert "dora@client.example" in audit

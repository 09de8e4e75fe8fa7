"""Portal throughput over HTTPS: the invoice list of a recipient with N invoices, one invoice's
page, the original download and the (cached) PDF download.

Seeds N archived invoices addressed to one recipient (catalogue rows and sealed blobs, as
archive writes them), runs ``efacture serve portal`` (TLS, its own self-signed certificate),
enrols the recipient through an enrolment link, then requests each page for a few seconds
from C keep-alive clients in threads and prints pages per second.

Usage: ``python benchmarks/portal.py [N] [SECONDS] [CLIENTS]`` (default 1000 5 4; own vhost
and database, cleaned up after). Needs the local RabbitMQ (rabbitmqctl) and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.portal.auth import links
from shared import db
from shared.settings import Settings
from shared.vault.reader import Vault
from tests.support import infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE

EMAIL = "bench@example.org"
PASSWORD = "benchmark-password-long"  # noqa: S105


async def seed(settings: Settings, n: int) -> str:
    vault = Vault(settings)
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        await conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                           " VALUES (%s, 'Bench', '2026-01-01', true)", (TENANT,))
        for i in range(n):
            invoice_id = uuid.uuid4()
            document = cii_invoice(f"BENCH-{i:05d}")
            sealed = await vault.sealer.seal_document(conn, TENANT, invoice_id, document)
            vault.blobs.put(sealed.blob_key, sealed.ciphertext)
            await conn.execute(
                "INSERT INTO archive.invoice (invoice_id, tenant, submission_id, invoice_number,"
                " issue_date, recipient_email, amount_payable, currency, kind, syntax,"
                " content_type, size_bytes, sha256, blob_key, wrapped_data_key,"
                " tenant_key_version, tsa_token, tsa_time, log_index, retain_until, transmit)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, 'EUR', 'cii', 'CII', 'application/xml',"
                " %s, %s, %s, %s, %s, '\\x3000', %s, %s, '2036-01-01', false)",
                (invoice_id, TENANT, f"s{i}", f"BENCH-{i:05d}",
                 date(2026, 1, 1) + timedelta(days=i % 330), EMAIL, Decimal("100.00") + i,
                 len(document), hashlib.sha256(document).hexdigest(), sealed.blob_key,
                 sealed.wrapped_data_key, sealed.tenant_key_version, now, i))
        token = await links.issue(conn, EMAIL, "enrol", now)
        await conn.commit()
    return token


def csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def enrol(client: httpx.Client, token: str) -> None:
    page = client.get(f"/link/{token}")
    client.post(f"/link/{token}", data={"csrf_token": csrf(page.text)})
    page = client.get("/enrol/password")
    client.post("/enrol/password", data={"csrf_token": csrf(page.text), "password": PASSWORD,
                                         "password_confirm": PASSWORD})
    page = client.get("/enrol/totp")
    secret = re.search(r"secret=([A-Z2-7]+)", page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/enrol/totp", data={"csrf_token": csrf(page.text),
                                         "code": pyotp.TOTP(secret).now()})
    assert "Codes de secours" in r.text


def rate(url: str, ctx: ssl.SSLContext, cookies: httpx.Cookies, path: str, seconds: float,
         clients: int) -> float:
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, verify=ctx, cookies=cookies, timeout=60) as c:
            while time.monotonic() < stop:
                r = c.get(path)
                assert r.status_code == 200, (path, r.status_code)
                counts[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def main(n: int, seconds: float, clients: int) -> None:
    made = infra.create("efacture_bench_portal")
    work = Path(tempfile.mkdtemp(prefix="efacture-portal-bench-"))
    env = made.env(str(work))
    url = env["EFACTURE_PORTAL_URL"]
    settings = Settings(database_url=made.database_url, data_dir=work)
    proc = None
    try:
        db.migrate(made.database_url)
        t0 = time.monotonic()
        token = asyncio.run(seed(settings, n))
        print(f"seeded {n} invoices in {time.monotonic() - t0:.1f} s")
        proc = subprocess.Popen([EFACTURE, "serve", "portal"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "READY portal":
                break
        ctx = ssl.create_default_context(cafile=str(work / "portal-tls" / "cert.pem"))
        with httpx.Client(base_url=url, verify=ctx, timeout=60) as client:
            enrol(client, token)
            first = client.get("/invoices", headers={"accept": "application/json"}).json()
            assert first["total"] == n, first["total"]
            one = first["invoices"][0]["invoice_id"]
            cookies = client.cookies
            t0 = time.monotonic()
            assert client.get(f"/invoices/{one}/pdf").content.startswith(b"%PDF")
            print(f"first PDF download (render + seal + store) {time.monotonic() - t0:.2f} s")
        for path in ("/invoices", f"/invoices?page={max(1, n // 50)}", f"/invoices/{one}",
                     f"/invoices/{one}/original", f"/invoices/{one}/pdf"):
            print(f"{path:60s} {rate(url, ctx, cookies, path, seconds, clients):8.1f} pages/s"
                  f"  ({clients} clients, {seconds:.0f} s)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        infra.destroy(made)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 1000, float(args[1]) if len(args) > 1 else 5.0,
         int(args[2]) if len(args) > 2 else 4)

"""Purge and export on a large archive.

Archives N invoices archive-only with a retention of 0 years (their issue date is 2017, so all
are past it), exports the tenant (entries, size, peak RSS), purges everything with ``--force``,
then checks the counters, ``usage reconcile``, the tombstone leaves and the blob store.

Usage: ``python benchmarks/retention.py [N]`` (default 10000; own vhost and database, cleaned
up after). Needs the local RabbitMQ (rabbitmqctl) and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efacture.cli.submit import Submitter
from tests.support import infra
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE, System


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def main(n: int) -> None:
    made = infra.create("efacture_retention")
    work = Path(tempfile.mkdtemp(prefix="efacture-retention-"))
    system = System(made, work, EFACTURE_RETENTION_YEARS="0", EFACTURE_LOG_LEVEL="WARNING")
    system.start()
    try:
        system.cli("tenant", "add", TENANT, "--name", "Retention", "--subscribed-on",
                   "2026-01-01", "--sandbox")
        started = time.monotonic()
        sub = Submitter(system.env["EFACTURE_AMQP_URL"])
        for i in range(n):
            sub.publish(cii_invoice(f"R-{i}"), tenant=TENANT, message_id=f"r-{i}",
                        content_type="application/xml", transmit=False)
        sub.close()
        while count(made.database_url, "SELECT count(*) FROM metering.counted") < n:
            time.sleep(2)
        print(f"archived {n} in {time.monotonic() - started:.1f} s", flush=True)
        time.sleep(3)  # a checkpoint covers the last invoices

        zip_path = work / "export.zip"
        started = time.monotonic()
        run = subprocess.run(["/usr/bin/time", "-v", EFACTURE, "export", TENANT, "-o",
                              str(zip_path)], env=system.env, capture_output=True, text=True,
                             check=True)
        rss = [line.split(":")[1].strip() for line in run.stderr.splitlines()
               if "Maximum resident" in line]
        with zipfile.ZipFile(zip_path) as z:
            names = z.namelist()
            manifest = json.loads(z.read("manifest.json"))
        print(f"export: {time.monotonic() - started:.1f} s, {zip_path.stat().st_size} bytes, "
              f"{len(names)} entries, {len(manifest)} in manifest, peak RSS {rss} kB", flush=True)

        dry = json.loads(system.cli("purge", "--dry-run", "--json").stdout)
        started = time.monotonic()
        done = json.loads(system.cli("purge", "--force", "--json").stdout)
        print(f"purge: dry run {dry['count']}, purged {done['count']} in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        time.sleep(5)  # metering counts the purges
        print("usage:", system.cli("usage", TENANT, "--json").stdout.replace("\n", ""))
        rc = system.cli("usage", "reconcile", "--json", check=False).returncode
        shredded = count(made.database_url, "SELECT count(*) FROM archive.invoice"
                         " WHERE state = 'purged' AND wrapped_data_key IS NULL")
        leaves = count(made.database_url, "SELECT count(*) FROM archive.log_leaf")
        blobs = sum(1 for p in (work / "blobs").rglob("*") if p.is_file())
        print(f"reconcile exit {rc}; shredded {shredded}; leaves {leaves}; blobs left {blobs}")
    finally:
        system.stop()
        infra.destroy(made)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

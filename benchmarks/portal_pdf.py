"""Time to render a PDF from a CII: the renderer alone, and the portal's first and cached call.

* ``render``: ``render_pdf`` (WeasyPrint PDF/A-3b + factur-x embedding) on a corpus CII, in
  this process, after one warm-up call (fonts and templates loaded);
* ``first``: ``invoice_pdf`` on a freshly archived invoice (decrypt the original, render,
  seal, store, insert the cache row) on a real PostgreSQL database;
* ``cached``: ``invoice_pdf`` again (read the row and blob, decrypt, SHA-256 check).

Usage: ``python benchmarks/portal_pdf.py [--n 20] [--file CII.xml] [--json]``. Makes its own
database (dropped at the end) and a temporary data directory. Reports median and p95 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.portal.rendering.document import render_pdf
from services.portal.rendering.pdf import invoice_pdf
from shared.settings import Settings
from shared.vault.reader import Vault
from tests.integration.portal.catalogue import Archive, migrate
from tests.support import infra

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "shared/corpus/cii/cen__CII_example2.xml"


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(p95 * 1000, 1), "n": len(ordered)}


async def _portal(url: str, vault: Vault, archive: Archive, xml: bytes,
                  n: int) -> tuple[list[float], list[float]]:
    first: list[float] = []
    cached: list[float] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for _ in range(n):
            invoice_id: uuid.UUID = await archive.add(xml, "cii")
            started = time.perf_counter()
            await invoice_pdf(conn, vault, invoice_id)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            await invoice_pdf(conn, vault, invoice_id)
            cached.append(time.perf_counter() - started)
    return first, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    xml = args.file.read_bytes()

    render_pdf(xml, "EN16931")  # warm-up: fonts, templates, WeasyPrint import
    render: list[float] = []
    size = 0
    for _ in range(args.n):
        started = time.perf_counter()
        size = len(render_pdf(xml, "EN16931"))
        render.append(time.perf_counter() - started)

    made = infra.create("efacture_portal_pdf")
    try:
        migrate(made.database_url)
        with tempfile.TemporaryDirectory(prefix="efacture-pdf-") as data:
            vault = Vault(Settings(database_url=made.database_url, data_dir=Path(data)))
            archive = Archive(made.database_url, vault)
            first, cached = asyncio.run(_portal(made.database_url, vault, archive, xml, args.n))
    finally:
        infra.destroy(made)

    result = {"file": args.file.name, "xml_bytes": len(xml), "pdf_bytes": size,
              "render": _summary(render), "first": _summary(first), "cached": _summary(cached)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.file.name}: {len(xml)} B of CII → {size} B of PDF")
    for name in ("render", "first", "cached"):
        s = result[name]
        assert isinstance(s, dict)
        print(f"  {name:<7} median {s['median_ms']:>7} ms   p95 {s['p95_ms']:>7} ms   (n={s['n']})")


if __name__ == "__main__":
    main()

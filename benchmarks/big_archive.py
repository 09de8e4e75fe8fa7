"""Throughput on top of a big archive against an empty one (issue 15, "flat with scale").

Usage: ``python benchmarks/big_archive.py [--entries 1000000] [--n 3000] [--mix both]
[--blob-url file|s3] [--no-ceiling] [--json]``

Runs ``efacture bench`` twice, each on a vhost and database of its own: once on an empty
archive, once after ``efacture.bench.big_archive`` filled the archive with ``--entries``
entries directly in PostgreSQL (catalogue, Merkle log leaves, subtrees and signed checkpoints,
ingest's idempotency keys, metering's ledger and counters, transmit's rows). Prints both
throughputs (submitted → transmitted and → archived), their ratio, the fill time, and the
load average around each run. ``--entries 0`` runs the empty case only.
The single-run equivalent: ``efacture bench --archive-entries N``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efacture.bench.runner import BenchConfig, run


def _one(args: argparse.Namespace, entries: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    result = run(BenchConfig(n=args.n, mix=args.mix, ceiling=not args.no_ceiling,
                             latency_seconds=args.latency_seconds, blob_url=args.blob_url,
                             archive_entries=entries))
    return {"archive_entries": entries, "archive": result["archive_before"],
            "throughput": result["throughput"], "latency": result["latency"],
            "cpu_ms_per_invoice_sum": (result.get("cost") or {}).get("cpu_ms_per_invoice_sum"),
            "checks": result["checks"], "load_average": [load_before, os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--mix", default="both", choices=["corpus", "synthetic", "both"])
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--blob-url", default="")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = [_one(args, 0)] + ([_one(args, args.entries)] if args.entries else [])
    empty = runs[0]["throughput"]["invoices_per_s"]
    big = runs[-1]["throughput"]["invoices_per_s"]
    doc = {"runs": runs, "ratio_big_to_empty": (big / empty) if empty and big else None}
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return
    for r in runs:
        tp, fill = r["throughput"], r["archive"].get("fill_seconds")
        print(f"archive {r['archive_entries']:>9,} entries"
              + (f" (filled in {fill:.1f} s)" if fill else "")
              + f": {tp['invoices_per_s'] or 0:,.1f} inv/s transmitted,"
              f" {tp['archived_per_s'] or 0:,.1f} inv/s archived;"
              f" transmitted once {r['checks']['transmitted_once']}/{r['checks']['expected']};"
              f" load {r['load_average'][0][0]:.2f} → {r['load_average'][1][0]:.2f}")
    if doc["ratio_big_to_empty"]:
        print(f"ratio big / empty: {doc['ratio_big_to_empty']:.3f}")


if __name__ == "__main__":
    main()

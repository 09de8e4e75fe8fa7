"""Transmit throughput against the PA simulator at 20 ms, then 200 ms, of PA latency (issue 5).

Usage: ``python benchmarks/transmit.py [--n N] [--json]``

Runs the whole pipeline (``efacture.bench``) twice with the simulator's latency set to each
value, without the ceiling phase, and prints invoices/s submitted → transmitted and to
``archived``. If transmit were bound by PA latency, the 200 ms run would be about ten times
slower; equal rates mean uploads overlap (up to the prefetch of 32 in flight per process) and
something else bounds the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efacture.bench.runner import BenchConfig, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for latency in (20, 200):
        result = run(BenchConfig(n=args.n, mix="synthetic", latency_ms=latency,
                                 latency_seconds=10.0, ceiling=False))
        tp = result["throughput"]
        rows.append({"latency_ms": latency, "transmitted_per_s": round(tp["invoices_per_s"], 1),
                     "archived_per_s": round(tp["archived_per_s"], 1),
                     "complete": tp["complete"]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'PA latency':>10}  {'transmitted/s':>13}  {'archived/s':>10}  complete")
    for r in rows:
        print(f"{r['latency_ms']:>8} ms  {r['transmitted_per_s']:>13}  {r['archived_per_s']:>10}"
              f"  {r['complete']}")


if __name__ == "__main__":
    main()

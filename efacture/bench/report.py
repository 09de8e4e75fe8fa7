"""The figures of a run: percentiles, the result document, and its table for people."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def percentile(samples: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..100) of ``samples``; None when empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(samples_s: Sequence[float]) -> dict[str, float | None]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    return {"count": len(samples_s), "p50_ms": ms(percentile(samples_s, 50)),
            "p95_ms": ms(percentile(samples_s, 95)), "p99_ms": ms(percentile(samples_s, 99))}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def render(result: dict[str, Any], console: Console | None = None) -> None:
    """Print ``result`` (the document :func:`efacture.bench.runner.run` returns) as tables."""
    console = console or Console()
    t = Table(title=f"efacture bench: n={result['n']} mix={result['mix']} "
                    f"PA latency={result['latency_ms']} ms")
    t.add_column("measure")
    t.add_column("value", justify="right")
    if result.get("blob_store"):
        t.add_row("blob store", result["blob_store"]["label"])
        if result["blob_store"].get("server_cpu_ms_per_invoice") is not None:
            t.add_row("blob store server CPU per invoice (throughput phase)",
                      f"{result['blob_store']['server_cpu_ms_per_invoice']:,.2f} ms")
    if result.get("archive_before"):
        before = result["archive_before"]
        t.add_row("archive entries before the run",
                  f"{before['entries']:,}" + (f" (filled in {before['fill_seconds']:.1f} s)"
                                              if before.get("fill_seconds") else ""))
    tp = result["throughput"]
    t.add_row("pipeline throughput, submitted → transmitted", _fmt(tp["invoices_per_s"], " inv/s"))
    t.add_row("pipeline throughput, submitted → archived", _fmt(tp["archived_per_s"], " inv/s"))
    ceil = result["ceiling"]
    t.add_row(f"ceiling: {ceil['hops']}-hop empty-handler chain",
              _fmt(ceil["chain_per_s"], " msg/s"))
    t.add_row("ceiling: raw single hop", _fmt(ceil["single_hop_per_s"], " msg/s"))
    ratio = result["ratio"]
    t.add_row("ratio pipeline / chain ceiling", "n/a" if ratio is None else f"{ratio:.3f}")
    lat = result["latency"]
    for stage in ("archived", "transmitted"):
        row = lat[stage]
        t.add_row(f"latency to {stage} p50 / p95 / p99 (open loop "
                  f"{_fmt(lat['rate_per_s'])}/s, {row['count']} inv)",
                  f"{_fmt(row['p50_ms'])} / {_fmt(row['p95_ms'])} / {_fmt(row['p99_ms'])} ms")
    for name, kb in result["peak_rss_kb"].items():
        t.add_row(f"peak RSS (VmHWM) {name}", "n/a" if kb is None else f"{kb / 1024:,.1f} MiB")
    checks = result["checks"]
    t.add_row("transmitted exactly once", f"{checks['transmitted_once']} / {checks['expected']}")
    if checks["rejected"] or checks["missing"] or checks["duplicates"]:
        t.add_row("rejected / missing / transmitted twice",
                  f"{checks['rejected']} / {checks['missing']} / {checks['duplicates']}")
    console.print(t)
    if result.get("cost"):
        console.print(cost_table(result["cost"]))


def cost_table(cost: dict[str, Any]) -> Table:
    """The throughput phase's cost per invoice: CPU per process, then the counts."""
    load = cost["load_average"]
    begin, end = load.get("begin"), load.get("end")
    loads = " → ".join(f"{v[0]:.2f}" for v in (begin, end) if v)
    t = Table(title=f"cost per invoice, throughput phase ({cost['invoices']} invoices, "
                    f"load average {loads})")
    t.add_column("process")
    t.add_column("CPU per invoice", justify="right")
    cpu = cost["cpu_ms_per_invoice"]
    for name, ms in sorted(cpu.items(), key=lambda kv: -kv[1]):
        shared = " (shared server)" if name in cost.get("shared_processes", ()) else ""
        t.add_row(name + shared, f"{ms:,.2f} ms")
    t.add_row("sum", f"{cost['cpu_ms_per_invoice_sum']:,.2f} ms", style="bold")
    t.add_section()
    t.add_row("AMQP publishes", f"{cost['amqp_publishes_per_invoice']:.2f}")
    t.add_row("database transactions", f"{cost['db_transactions_per_invoice']:.2f}")
    for peer, count in cost["http_requests_per_invoice"].items():
        t.add_row(f"HTTP requests to {peer}", f"{count:.2f}")
    return t

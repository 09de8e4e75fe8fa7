"""``efacture bench`` on a small run: the JSON document's shape, every invoice transmitted
exactly once, and nothing left behind (its vhost and database are dropped)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.infra import base_urls
from tests.support.system import CORPUS

pytestmark = pytest.mark.e2e

EFACTURE = str(Path(sys.executable).parent / "efacture")


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    base_urls()  # the same servers as the other end-to-end tests, or a clear error
    res = subprocess.run(
        [EFACTURE, "bench", "--n", "100", "--latency-seconds", "3", "--corpus", str(CORPUS),
         "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


def test_bench_reports_every_figure_of_the_issue(result):
    assert {"throughput", "latency", "peak_rss_kb", "ceiling", "ratio", "machine",
            "date"} <= set(result)
    assert result["throughput"]["invoices_per_s"] > 0
    assert result["throughput"]["complete"] is True
    assert result["ceiling"]["hops"] == 3
    assert result["ceiling"]["chain_per_s"] > 0
    assert result["ceiling"]["single_hop_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["throughput"]["invoices_per_s"] / result["ceiling"]["chain_per_s"])
    for stage in ("archived", "transmitted"):
        row = result["latency"][stage]
        assert row["count"] > 0
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert set(result["peak_rss_kb"]) == {"ingest", "archive", "transmit", "metering"}
    assert all(kb and kb > 0 for kb in result["peak_rss_kb"].values())


def test_bench_reports_what_an_invoice_costs(result):
    cost = result["cost"]
    assert cost["invoices"] == result["n"]
    cpu = cost["cpu_ms_per_invoice"]
    # Every process the run started, plus the servers it used, spent some CPU.
    assert {"ingest", "archive", "transmit", "metering", "tsa", "pa-sim", "bench",
            "rabbitmq", "postgres backends"} <= set(cpu)
    assert all(ms > 0 for name, ms in cpu.items() if name != "postgres server")
    assert cost["cpu_ms_per_invoice_sum"] == pytest.approx(sum(cpu.values()), abs=0.05)
    # At least: the submit, ingest's verdict and forward, archive's events, transmit's.
    assert cost["amqp_publishes_per_invoice"] >= 4
    assert cost["db_transactions_per_invoice"] >= 3
    # An upload per invoice at least; RFC 3161 tokens (perhaps batched) too.
    assert cost["http_requests_per_invoice"]["tsa"] > 0
    assert cost["http_requests_per_invoice"]["pa"] >= 1


def test_bench_transmits_every_invoice_exactly_once(result):
    checks = result["checks"]
    assert checks["expected"] >= 100
    assert checks["transmitted_once"] == checks["expected"]
    assert (checks["duplicates"], checks["rejected"], checks["missing"]) == (0, 0, 0)
    assert checks["pa_uploads_attempted"] == checks["expected"]


def test_bench_drops_its_vhost_and_database(result):
    name = result["vhost_and_database"]
    vhosts = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True,
                            text=True, timeout=60).stdout.split()
    assert name not in vhosts
    with psycopg.connect(base_urls()[1], autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    assert found is None

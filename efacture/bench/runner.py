"""One benchmark run, start to end: infrastructure, ceiling, pipeline, figures, cleanup.

Phases, in order, on one fresh vhost and database:
1. ceiling: ``n`` messages through the raw single hop, then through the empty-handler chain;
2. ``efacture up`` (PA simulator latency ``latency_ms``), sandbox tenants registered;
3. throughput: ``n`` invoices published as fast as confirms allow; rate = n / (last
   ``transmitted`` − first submit);
   its cost is metered (``efacture.bench.usage``): CPU per process, publishes, transactions
   and HTTP requests, per invoice;
4. latency: open loop at half that rate for ``latency_seconds`` (at most ``n`` invoices);
   latency = event arrival − due time of the submit;
5. peak RSS (VmHWM) of every ``efacture serve NAME``; checks: every invoice transmitted once.
Everything made is removed at the end, whatever happened.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from efacture.bench import blobs, ceiling, infra
from efacture.bench.events import Events
from efacture.bench.publisher import Publisher
from efacture.bench.report import latency_ms
from efacture.bench.system import Up, self_peak_rss_kb
from efacture.bench.usage import CpuSampler, Usage, discoverer
from efacture.bench.workload import Workload
from shared import metrics, tenants
from shared.topology import INBOUND, RK_SUBMIT

Progress = Callable[[str, int, int], None]


def default_corpus() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


@dataclass(frozen=True)
class BenchConfig:
    n: int = 2000
    mix: str = "both"
    latency_ms: int = 20
    latency_seconds: float = 30.0
    threads: int = 8
    ceiling: bool = True
    stall_s: float = 90.0
    corpus: Path = field(default_factory=default_corpus)
    replicas: str = ""  # `efacture up --replicas` (e.g. "ingest=2,archive=2"); "" = one each
    blob_url: str = ""  # `--blob-url` (efacture.bench.blobs): "" = local disk, "s3" = SeaweedFS
    archive_entries: int = 0  # entries of a big archive filled before the run (big_archive)
    latency_rate: float | None = None  # invoices/s of the latency phase; None: half throughput


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def _register(database_url: str, sirets: list[str]) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for siret in sirets:
            tenants.add(conn, siret, f"bench {siret}", date(2026, 1, 1), True)


def _phase(pub: Publisher, events: Events, ids: list[str], send: Callable[[], None],
           stall_s: float, progress: Progress | None, stage: str) -> bool:
    """Send in a thread, wait for every id to finish; False when the pipeline stalled."""
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    ok = events.wait(ids, stall_s=stall_s,
                     progress=(lambda done: progress(stage, done, len(ids))) if progress else None)
    sender.join()
    return ok and not pub.errors


def _usage(up: Up, made: infra.Infra) -> Usage:
    """The cost meter of the throughput phase (see ``efacture.bench.usage``)."""
    assert up.proc is not None
    base = int(up.env["EFACTURE_METRICS_PORT_BASE"])
    # Up to four replicas of each service (a port nobody listens on counts nothing).
    ports = {f"{name}/{r}": metrics.service_port(base, name, r)
             for name in metrics.SERVICE_PORT_OFFSET for r in range(4)}
    sampler = CpuSampler(discoverer(up.proc.pid, made.admin_pg, made.name))
    return Usage(sampler, ports, made.admin_pg, made.name)


def _big_archive(up: Up, made: infra.Infra, sirets: list[str], entries: int,
                 progress: Progress | None) -> dict[str, Any]:
    """Migrate the run's database (``efacture db migrate`` in the environment of ``up``), then
    fill ``entries`` archived invoices (``efacture.bench.big_archive``) before ``up`` starts."""
    from efacture.bench import big_archive

    up.data_dir.mkdir(parents=True, exist_ok=True)
    up.cli("db", "migrate")
    return big_archive.fill(made.database_url, Path(up.env["EFACTURE_DATA_DIR"]), sirets,
                            entries, progress=progress).as_dict()


def run(config: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the result document (see ``efacture.bench.report``).
    Raises ``RuntimeError`` when the system cannot start; the infrastructure is removed anyway."""
    workload = Workload.build(config.corpus, config.mix, config.n)
    n = config.n
    made = infra.create()
    data_dir = Path(tempfile.mkdtemp(prefix="efacture-bench-"))
    up: Up | None = None
    events: Events | None = None
    store: blobs.RunStore | None = None
    archive: dict[str, Any] = {"entries": 0}
    try:
        ceil: dict[str, Any] = {"hops": len(ceiling.CHAIN), "chain_per_s": None,
                                "single_hop_per_s": None, "duplicates": 0}
        if config.ceiling:
            if progress:
                progress("ceiling", 0, 2)
            ceil["single_hop_per_s"], dup1 = ceiling.measure(
                made.amqp_url, n, workload.item, chain=False, threads=config.threads)
            if progress:
                progress("ceiling", 1, 2)
            ceil["chain_per_s"], dup2 = ceiling.measure(
                made.amqp_url, n, workload.item, chain=True, threads=config.threads)
            ceil["duplicates"] = dup1 + dup2
            if progress:
                progress("ceiling", 2, 2)
        store = blobs.prepare(config.blob_url, made.name, data_dir)
        up = Up({**made.env(data_dir / "data", config.latency_ms), **store.env,
                 **({"EFACTURE_BLOB_URL": store.url} if store.url else {})},
                data_dir, config.replicas)
        if config.archive_entries:
            archive = _big_archive(up, made, workload.tenants(), config.archive_entries,
                                   progress)
        up.start()
        _register(made.database_url, workload.tenants())
        events = Events(made.amqp_url)
        pub = Publisher(made.amqp_url, exchange=INBOUND, routing_key=RK_SUBMIT,
                        threads=config.threads)

        ids = [workload.message_id(i) for i in range(n)]
        cost = _usage(up, made)
        store_cpu = store.server_cpu_seconds()
        cost.begin()
        complete = _phase(pub, events, ids, lambda: pub.burst(n, workload.item),
                          config.stall_s, progress, "throughput")
        cost.end()
        if store_cpu is not None and (store_end := store.server_cpu_seconds()) is not None:
            # SeaweedFS is no child of `efacture up`: its CPU is reported beside the cost table.
            store_cpu_ms: float | None = round((store_end - store_cpu) * 1000 / n, 2)
        else:
            store_cpu_ms = None
        if not pub.submitted:
            raise RuntimeError(f"no invoice could be published: {pub.errors[:3]}")
        start = min(pub.submitted.values())

        def rate(kind: str) -> float | None:
            ends = [t[kind] for t in map(events.times, ids) if kind in t]
            return len(ends) / (max(ends) - start) if ends else None

        throughput = {"invoices_per_s": rate("transmitted"), "archived_per_s": rate("archived"),
                      "complete": complete}
        rss_after_throughput = up.peak_rss_kb()

        lat_ids: list[str] = []
        lat_rate = None
        if complete and throughput["invoices_per_s"]:
            lat_rate = config.latency_rate or throughput["invoices_per_s"] / 2
            count = min(n, max(20, int(lat_rate * config.latency_seconds)))
            lat_ids = [workload.message_id(i, "l") for i in range(count)]
            _phase(pub, events, lat_ids,
                   lambda: pub.paced(count, lambda i: workload.item(i, "l"), lat_rate),
                   config.stall_s, progress, "latency")
        samples: dict[str, list[float]] = {"archived": [], "transmitted": []}
        for sid in lat_ids:
            seen = events.times(sid)
            for kind, bucket in samples.items():
                if kind in seen and sid in pub.submitted:
                    bucket.append(seen[kind] - pub.submitted[sid])

        everyone = ids + lat_ids
        times = {sid: events.times(sid) for sid in everyone}
        checks = {
            "expected": len(everyone),
            "transmitted_once": sum(1 for s in everyone if events.transmitted[s] == 1),
            "duplicates": sum(1 for s in everyone if events.transmitted[s] > 1),
            "rejected": sum(1 for s in everyone if "rejected" in times[s]),
            "missing": sum(1 for s in everyone if not times[s]),
            "rejection_codes": sorted({c for s in everyone for c in events.rejections.get(s, [])}),
            "publish_errors": pub.errors[:5],
        }
        try:
            from services.transmit.pa_sim.controls import control_headers

            sim = httpx.get(f"http://127.0.0.1:{up.env['EFACTURE_PA_SIM_PORT']}/_sim/stats",
                            timeout=10, headers=control_headers(up.env["EFACTURE_DATA_DIR"])
                            ).json()
            checks["pa_uploads_attempted"] = sim.get("uploads_attempted")
        except (httpx.HTTPError, ValueError, OSError):
            checks["pa_uploads_attempted"] = None
        chain = ceil["chain_per_s"]
        return {
            "n": n, "mix": config.mix, "latency_ms": config.latency_ms,
            "vhost_and_database": made.name,
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "config": {k: str(v) for k, v in asdict(config).items()},
            "workload": {"templates": len(workload.slots), "skipped": workload.skipped,
                         "tenants": len(workload.tenants()), "pdf_pool": len(workload.pdf_pool)},
            "throughput": throughput,
            "cost": cost.result(events.finished(ids), len(pub.submitted)),
            "ceiling": ceil,
            "ratio": (throughput["invoices_per_s"] / chain
                      if chain and throughput["invoices_per_s"] else None),
            "latency": {"rate_per_s": lat_rate, "archived": latency_ms(samples["archived"]),
                        "transmitted": latency_ms(samples["transmitted"])},
            "peak_rss_kb": up.peak_rss_kb(),
            "peak_rss_kb_after_throughput": rss_after_throughput,
            "bench_process_peak_rss_kb": self_peak_rss_kb(),
            "events": dict(events.kinds),
            "checks": checks,
            "blob_store": {**store.describe(), "blobs_at_end": store.count_and_clear(up.env),
                           "server_cpu_ms_per_invoice": store_cpu_ms},
            "archive_before": archive,
        }
    finally:
        if events is not None:
            events.close()
        if up is not None:
            up.stop()
        if store is not None:  # after a failure too (a second call finds nothing left)
            store.count_and_clear(up.env if up is not None
                                  else {"EFACTURE_DATA_DIR": str(data_dir / "data")})
            store.stop()
        infra.destroy(made)
        shutil.rmtree(data_dir, ignore_errors=True)

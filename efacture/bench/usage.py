"""What one phase of a run costs: CPU per process, AMQP publishes, transactions, HTTP requests.

CPU is read from ``/proc/<pid>/stat`` (utime + stime, every thread of the process) by a
thread that samples every ``interval`` seconds while the phase runs, so processes that start
during the phase (a new pool connection's PostgreSQL backend) are counted from their birth and
ones that end keep their last sample. Processes, grouped by name:

- every ``efacture serve NAME`` child of ``efacture up`` (services, ``tsa``, ``pa-sim``) with
  its own children (ingest's analysis workers); replicas of one service are summed under its
  name;
- ``bench``: this process (the confirming publisher and the status-event listener);
- ``rabbitmq``: the broker's ``beam.smp`` (shared with anyone else using the node);
- ``postgres backends``: the backends connected to the run's database (``pg_stat_activity``);
- ``postgres server``: the postmaster and its background processes (WAL writer, checkpointer,
  ...; shared with every other database of the server).

Counts come from the run itself: publishes and HTTP requests from each service's ``/metrics``
(``efacture_amqp_published_total``, ``efacture_http_requests_total``) plus the bench's own
publishes; transactions from ``pg_stat_database`` (commits + rollbacks) of the run's database.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

TICKS = os.sysconf("SC_CLK_TCK")
SHARED = ("rabbitmq", "postgres server")  # also serve whoever else uses the machine's servers


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` (clock ticks), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def beam_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and _comm(int(e.name)) == "beam.smp"]


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _pg_pids(admin_url: str, database: str) -> dict[str, set[int]]:
    """Backends of ``database`` and the server's own processes (postmaster included)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid, datname, backend_type FROM pg_stat_activity "
                            "WHERE pid <> pg_backend_pid()").fetchall()
    run = {pid for pid, datname, _ in rows if datname == database}
    server = {pid for pid, datname, kind in rows if datname is None and kind != "client backend"}
    parents = {_ppid(pid) for pid in server}
    server.update(p for p in parents if p and p > 1)
    return {"postgres backends": run, "postgres server": server}


@dataclass
class CpuSampler:
    """Samples the CPU of the processes ``discover()`` names, from :meth:`start` to :meth:`stop`.

    ``discover`` returns {group: pids}; it is called at every sample (new pids join).
    """

    discover: Callable[[], dict[str, set[int]]]
    interval: float = 0.5
    _first: dict[int, int] = field(default_factory=dict)
    _last: dict[int, int] = field(default_factory=dict)
    _group: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: bool = False

    def _sample(self) -> None:
        try:
            found = self.discover()
        except Exception:  # a failed discovery (database busy) keeps the pids already known
            found = {}
        for group, pids in found.items():
            for pid in pids:
                self._group.setdefault(pid, group)
        for pid in list(self._group):
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            # Known at start: from that sample. Born later: from zero.
            self._first.setdefault(pid, ticks if not self._started else 0)
            self._last[pid] = ticks

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> None:
        self._sample()
        self._started = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group between start and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        spent: dict[str, float] = {}
        for pid, group in self._group.items():
            if pid in self._last:
                delta = self._last[pid] - self._first.get(pid, self._last[pid])
                spent[group] = spent.get(group, 0.0) + delta / TICKS
        return spent


def serve_children(parent: int) -> dict[str, set[int]]:
    """{NAME: pids} of the ``efacture serve NAME`` children of ``parent`` and all their
    descendants (ingest's analysis workers), replicas of one service together."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = _ppid(int(entry.name))
            if ppid is not None:
                parents[int(entry.name)] = ppid
    found: dict[str, set[int]] = {}
    for pid, ppid in parents.items():
        if ppid != parent:
            continue
        try:
            words = [a.decode(errors="replace")
                     for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if "serve" in words[:-1]:
            found.setdefault(words[words.index("serve") + 1], set()).add(pid)
    for pids in found.values():
        frontier = set(pids)
        while frontier:
            frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - pids
            pids |= frontier
    return found


def discoverer(parent: int, admin_url: str, database: str) -> Callable[[], dict[str, set[int]]]:
    """What :class:`CpuSampler` samples: see the module's docstring."""
    beam = beam_pids()

    def discover() -> dict[str, set[int]]:
        found = serve_children(parent)
        found["bench"] = {os.getpid()}
        found["rabbitmq"] = set(beam)
        found.update(_pg_pids(admin_url, database))
        return found

    return discover


_SAMPLE = re.compile(r'^(efacture_amqp_published_total|efacture_http_requests_total)'
                     r'\{([^}]*)\}\s+([0-9.e+]+)$', re.M)


def scrape(ports: dict[str, int]) -> dict[str, float]:
    """{"amqp_published": n, "http_pa": n, "http_tsa": n, ...} summed over the services'
    ``/metrics``; a service that does not answer counts nothing."""
    totals: dict[str, float] = {}
    for port in ports.values():
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            continue
        for name, labels, value in _SAMPLE.findall(text):
            key = "amqp_published"
            if name == "efacture_http_requests_total":
                peer = re.search(r'peer="([^"]*)"', labels)
                key = f"http_{peer.group(1) if peer else '?'}"
            totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def xacts(admin_url: str, database: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


@dataclass
class Usage:
    """One measured phase: :meth:`begin` before the first publish, :meth:`end` after the last
    invoice finished; :meth:`result` is the document's ``cost`` section."""

    sampler: CpuSampler
    ports: dict[str, int]
    admin_url: str
    database: str
    _counts0: dict[str, float] = field(default_factory=dict)
    _xacts0: int = 0
    _cpu: dict[str, float] = field(default_factory=dict)
    _counts: dict[str, float] = field(default_factory=dict)
    _xacts: int = 0
    _load: list[tuple[float, float, float]] = field(default_factory=list)

    def begin(self) -> None:
        self._load.append(os.getloadavg())
        self._counts0 = scrape(self.ports)
        self._xacts0 = xacts(self.admin_url, self.database)
        self.sampler.start()

    def end(self) -> None:
        self._cpu = self.sampler.stop()
        self._load.append(os.getloadavg())
        self._counts = scrape(self.ports)
        # Backends report their counters to pg_stat_database within about a second.
        time.sleep(1.5)
        self._xacts = xacts(self.admin_url, self.database)

    def result(self, invoices: int, bench_publishes: int) -> dict[str, Any]:
        """Per invoice that finished in the phase (``invoices``: a stalled run still divides
        by what it did)."""
        per = max(invoices, 1)
        counts = {k: v - self._counts0.get(k, 0.0) for k, v in self._counts.items()}
        http = {k[5:]: v / per for k, v in counts.items() if k.startswith("http_")}
        cpu_ms = {name: round(s * 1000 / per, 2) for name, s in sorted(self._cpu.items())}
        return {
            "invoices": invoices,
            "cpu_ms_per_invoice": cpu_ms,
            "cpu_ms_per_invoice_sum": round(sum(cpu_ms.values()), 2),
            "shared_processes": [n for n in SHARED if n in cpu_ms],
            "amqp_publishes_per_invoice": round(
                (counts.get("amqp_published", 0.0) + bench_publishes) / per, 2),
            "db_transactions_per_invoice": round((self._xacts - self._xacts0) / per, 2),
            "http_requests_per_invoice": {k: round(v, 2) for k, v in sorted(http.items())},
            "load_average": {"begin": list(self._load[0]) if self._load else None,
                             "end": list(self._load[-1]) if len(self._load) > 1 else None},
        }

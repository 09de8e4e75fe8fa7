"""What the crash and outage drills share: their scale, the load they publish, the PA
simulator's control API, and the figures they print.

The load publishes like an ERP that retries: with publisher confirms, and when the broker
goes away it reconnects and publishes the unconfirmed message again under the same
``message_id`` (the system must suppress the repeat). The exactly-once audit is in
:mod:`tests.drill.drill_audit`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pika
import pika.exceptions
import psycopg

from efacture.cli.submit import Submitter
from services.transmit.pa_sim.controls import control_headers
from tests.support.infra import answers
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import System

SCALE_ENV = "EFACTURE_DRILL_N"
# "Several thousand" scaled to the CI budget (all drills together about 8 minutes on the
# 2-core CI machine, measured 8m45s with 2,000): EFACTURE_DRILL_N=5000 for a longer run.
DEFAULT_N = 1500
OUTAGE_ENV = "EFACTURE_DRILL_OUTAGE_S"
# Log events of a consumer that recognised a message it had already handled.
REPEAT_EVENTS = ("submission-repeated", "archive-repeated", "transmit-repeated",
                 "metering-repeated")


def drill_n(share: float = 1.0) -> int:
    """The drill's invoice count: ``EFACTURE_DRILL_N`` (or ``DEFAULT_N``) times ``share``."""
    raw = os.environ.get(SCALE_ENV)
    base = int(raw) if raw else DEFAULT_N
    return max(10, int(base * share))


def outage_seconds(default: float) -> float:
    raw = os.environ.get(OUTAGE_ENV)
    return float(raw) if raw else default


@contextlib.contextmanager
def started(system: Any, tenant: str, start_timeout: float = 90, *, name: str = "Drill",
            subscribed_on: str = "2026-01-01") -> Iterator[Any]:
    """``system`` (a ``tests.support.system.System``) started, with one sandbox tenant
    registered; stopped when the block ends, whatever happened in it."""
    system.start(timeout=start_timeout)
    try:
        system.cli("tenant", "add", tenant, "--name", name, "--subscribed-on", subscribed_on,
                   "--sandbox")
        yield system
    finally:
        system.stop()


class Sim:
    """The PA simulator's runtime API (``/_sim/config``, ``/_sim/stats``)."""

    def __init__(self, port: str, data_dir: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir  # where the simulator keeps its control token

    def config(self, **changes: Any) -> None:
        httpx.post(f"{self.base}/_sim/config", json=changes, timeout=10,
                   headers=control_headers(self.data_dir)).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base}/_sim/stats", timeout=10,
                                         headers=control_headers(self.data_dir)).json()
        return data


@dataclass
class Load:
    """``n`` distinct invoices; every ``repeat_every``-th is published twice under the same
    ``message_id``; every ``doublon_every``-th is followed by an earlier invoice's number under
    a new ``message_id``. Per invoice number, exactly one submission must be archived and the
    others rejected ``duplicate-invoice`` (which one wins depends on redelivery order)."""

    amqp_url: str
    n: int
    repeat_every: int = 25
    doublon_every: int = 50
    pause_s: float = 0.0
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    number_of: dict[str, str] = field(default_factory=dict)  # submission id -> invoice number
    published: int = 0
    repeats: int = 0
    reconnects: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    @property
    def submissions(self) -> list[str]:
        return list(self.number_of)

    @property
    def numbers(self) -> set[str]:
        """The distinct invoice numbers: each must be archived exactly once."""
        return set(self.number_of.values())

    def start(self) -> Load:
        self._thread = threading.Thread(target=self._guarded, name="drill-load", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 600) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load did not finish publishing"
        if self.error is not None:
            raise AssertionError(f"the load failed: {self.error!r}")

    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def _guarded(self) -> None:
        try:
            self._publish_all()
        except BaseException as exc:  # reported by join()
            self.error = exc

    def _publish_all(self) -> None:
        sub: Submitter | None = None
        for i in range(self.n):
            mid = f"drill-{self.run}-{i}"
            number = f"DR-{self.run}-{i}"
            body = cii_invoice(number)
            copies = 2 if i % self.repeat_every == self.repeat_every - 1 else 1
            for _ in range(copies):
                sub = self._send(sub, body, mid)
                self.published += 1
            self.repeats += copies - 1
            self.number_of[mid] = number
            if i % self.doublon_every == self.doublon_every - 1:
                dup = f"drill-{self.run}-{i}-doublon"
                earlier = f"DR-{self.run}-{random.randrange(0, i + 1)}"
                sub = self._send(sub, cii_invoice(earlier), dup)
                self.published += 1
                self.number_of[dup] = earlier
            if self.pause_s:
                time.sleep(self.pause_s)
        if sub is not None:
            sub.close()

    def _send(self, sub: Submitter | None, body: bytes, mid: str) -> Submitter:
        """Publish until confirmed, reconnecting while the broker is away (at most 5 min)."""
        deadline = time.monotonic() + 300
        while True:
            try:
                if sub is None:
                    sub = Submitter(self.amqp_url)
                sub.publish(body, tenant=TENANT, message_id=mid, content_type="application/xml")
                return sub
            except (pika.exceptions.AMQPError, OSError):
                if time.monotonic() > deadline:
                    raise
                self.reconnects += 1
                sub = None
                time.sleep(0.5)


def kill_at_random(system: System, services: tuple[str, ...], per_service: int,
                   finished: Callable[[], bool], seed: int | None = None) -> int:
    """SIGKILL each of ``services`` ``per_service`` times, in random order, each at a random
    moment 1 to 3 s after the victim's current process appeared (``efacture up`` restarts it).
    Stops early once ``finished()``; returns how many processes were killed."""
    rng = random.Random(seed)
    victims = [s for s in services for _ in range(per_service)]
    rng.shuffle(victims)
    kills = 0
    for victim in victims:
        deadline = time.monotonic() + 60
        while not system.child_pids(victim) and time.monotonic() < deadline and not finished():
            time.sleep(0.1)
        time.sleep(rng.uniform(1.0, 3.0))
        if finished():
            break
        kills += len(system.kill(victim))
    return kills


@dataclass
class Figures:
    """The drill's own figures, printed at its end (``pytest -s`` shows them; so does ``-rA``)."""

    drill: str
    invoices: int = 0
    messages: int = 0
    repeats_published: int = 0
    doublons: int = 0
    kills: int = 0
    outage_s: float = 0.0
    publisher_reconnects: int = 0
    requeued: int = 0
    redeliveries_seen: int = 0
    duplicates_suppressed: int = 0
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def from_log(self, log: Path) -> None:
        """Count what the services logged: repeats recognised and requeues."""
        counts = log_events(log)
        self.requeued = counts["message-requeued"]
        self.duplicates_suppressed = sum(counts[e] for e in REPEAT_EVENTS)
        self.redeliveries_seen = self.duplicates_suppressed + self.requeued

    def show(self, capsys: Any = None) -> str:
        """Print one ``DRILL {...}`` line past pytest's capture when given ``capsys``."""
        data = {k: v for k, v in self.__dict__.items() if k != "extra"} | self.extra
        line = "DRILL " + json.dumps(data, default=str)
        if capsys is not None:
            with capsys.disabled():
                print("\n" + line, flush=True)
        else:
            print(line, flush=True)
        return line


def log_events(log: Path) -> Counter[str]:
    """How many times each structlog ``event`` appears in ``efacture up``'s log."""
    counts: Counter[str] = Counter()
    with open(log, "rb") as fh:
        for raw in fh:
            if not raw.startswith(b"{"):
                continue
            try:
                counts[str(json.loads(raw).get("event"))] += 1
            except ValueError:
                continue
    return counts


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer again within {timeout:.0f} s")
        time.sleep(0.5)


def _rabbit_answers() -> bool:
    ok = subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "5"],
                        capture_output=True, timeout=30).returncode == 0
    return ok and answers("127.0.0.1", 5672)


def restart_rabbitmq(down_s: float = 3.0) -> None:
    """``rabbitmqctl stop_app``, wait ``down_s``, ``start_app``; returns once the broker
    accepts connections again. Affects every vhost on this server: use sparingly."""
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True,
                   timeout=120)
    try:
        time.sleep(down_s)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True,
                       timeout=180)
        _until(_rabbit_answers, 180, "RabbitMQ")


def _cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def restart_postgres(url: str) -> None:
    """Restart the local PostgreSQL cluster; returns once ``url`` answers again (starting the
    cluster if the restart left it down). Affects every database on this server."""
    try:
        subprocess.run([*_cluster(), "restart"], check=True, capture_output=True, timeout=180)
    finally:
        if not _postgres_answers(url):
            subprocess.run([*_cluster(), "start"], capture_output=True, timeout=180)
        _until(lambda: _postgres_answers(url), 180, "PostgreSQL")

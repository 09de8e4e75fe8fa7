"""Drill: two processes of every service (``efacture up --replicas``), single replicas
SIGKILLed at random moments during a run of invoices; ``efacture up`` restarts each one
alone. Afterwards each invoice is archived and transmitted exactly once, or rejected with a
reason, ``usage reconcile`` is clean and no message is dead-lettered.

Scale: ``EFACTURE_DRILL_N`` × 0.3 invoices (450 by default, about a minute in CI).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.drill.drill_audit import audit, wait_settled
from tests.support.drill import Figures, Load, Sim, drill_n, log_events
from tests.support.leaders import lock_holders
from tests.support.system import System

pytestmark = pytest.mark.drill

SERVICES = ("ingest", "archive", "transmit", "metering")
REPLICAS = ",".join(f"{s}=2" for s in SERVICES)
KILLS_PER_SERVICE = 3
KILL_WINDOW_S = 25.0


@pytest.fixture(scope="module")
def drill_env() -> dict[str, str]:
    # Small pools: eight service processes share the machine's PostgreSQL with other suites.
    return {"EFACTURE_REPLICAS": REPLICAS, "EFACTURE_DB_POOL_SIZE": "4"}


def kill_replicas_at_random(system: System, per_service: int, finished: Callable[[], bool],
                            seed: int | None = None) -> Counter[str]:
    """SIGKILL one process (of two) of a random service at a time, ``per_service`` times each,
    1 to 3 s apart; the other replica keeps consuming. Returns the kills per service."""
    rng = random.Random(seed)
    victims = [s for s in SERVICES for _ in range(per_service)]
    rng.shuffle(victims)
    kills: Counter[str] = Counter()
    for victim in victims:
        time.sleep(rng.uniform(1.0, 3.0))
        if finished():
            break
        pids = system.child_pids(victim)
        if not pids:
            continue  # both restarting at once (rare): the next victim instead
        try:
            os.kill(rng.choice(pids), signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills[victim] += 1
    return kills


def test_two_processes_of_each_service_sigkilled_at_random_archive_and_transmit_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    for service in SERVICES:
        assert len(system.child_pids(service)) == 2, f"{service} does not run twice"
    started = time.monotonic()
    n = drill_n(share=0.3)
    # Paced over the kills' window, so that the kills land while invoices are in flight.
    load = Load(system.infra.amqp_url, n, pause_s=KILL_WINDOW_S / n).start()
    stop = threading.Event()
    kills: list[Counter[str]] = []
    killer = threading.Thread(target=lambda: kills.append(kill_replicas_at_random(
        system, KILLS_PER_SERVICE, stop.is_set)), daemon=True)
    killer.start()
    load.join()
    try:
        killer.join(timeout=600)
    finally:
        stop.set()
    wait_settled(system, load, timeout=900)
    checked = audit(system, sim, load)
    killed = kills[0] if kills else Counter()
    events = log_events(system.log)
    fig = Figures("replicas-kill", invoices=len(load.numbers), messages=load.published,
                  repeats_published=load.repeats, doublons=checked["rejected"],
                  kills=sum(killed.values()), publisher_reconnects=load.reconnects,
                  elapsed_s=round(time.monotonic() - started, 1),
                  extra={**checked, "kills_per_service": dict(killed),
                         "competing_copies_lost": events["archive-duplicate-lost"],
                         "leaders_elected": events["leader-elected"],
                         "restarts": system.log.read_text().count(", restarted as pid ")})
    fig.from_log(system.log)
    fig.show(capsys)
    assert set(killed) == set(SERVICES), f"the drill did not kill every service: {killed}"
    deadline = time.monotonic() + 60
    while any(len(system.child_pids(s)) != 2 for s in SERVICES):
        assert time.monotonic() < deadline, "a killed replica was not restarted"
        time.sleep(0.5)
    assert fig.duplicates_suppressed >= load.repeats
    # Archive and transmit ask for leadership every 2 s (metering every 60 s: maybe not yet).
    for service in ("archive", "transmit"):
        holders = lock_holders(system.infra.database_url, service)
        assert len(holders) == 1, f"{service}: {len(holders)} processes lead its periodic jobs"
    assert len(lock_holders(system.infra.database_url, "metering")) <= 1

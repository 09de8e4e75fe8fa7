"""Drill: every service SIGKILLed several times at random moments during a run of
``EFACTURE_DRILL_N`` (default 1,500) invoices; ``efacture up`` restarts them. Afterwards each
invoice is archived and transmitted exactly once, or rejected with a reason."""

from __future__ import annotations

import threading
import time

import pytest

from tests.drill.drill_audit import audit, wait_settled
from tests.support.drill import Figures, Load, Sim, drill_n, kill_at_random
from tests.support.system import System

pytestmark = pytest.mark.drill

SERVICES = ("ingest", "archive", "transmit", "metering")
KILLS_PER_SERVICE = 3
KILL_WINDOW_S = 40.0


def test_services_sigkilled_at_random_moments_archive_and_transmit_exactly_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    n = drill_n()
    # Paced over the kills' window, so that a small run is still being processed when the
    # kills land (a large one is anyway: processing is slower than publishing).
    load = Load(system.infra.amqp_url, n, pause_s=KILL_WINDOW_S / n).start()
    stop = threading.Event()
    kills: list[int] = []
    killer = threading.Thread(target=lambda: kills.append(kill_at_random(
        system, SERVICES, KILLS_PER_SERVICE, stop.is_set)), daemon=True)
    killer.start()
    load.join()
    try:
        killer.join(timeout=600)
    finally:
        stop.set()
    wait_settled(system, load, timeout=900)
    checked = audit(system, sim, load)
    fig = Figures("kill", invoices=len(load.numbers), messages=load.published,
                  repeats_published=load.repeats, doublons=checked["rejected"],
                  kills=kills[0] if kills else 0, publisher_reconnects=load.reconnects,
                  elapsed_s=round(time.monotonic() - started, 1), extra=checked)
    fig.from_log(system.log)
    fig.show(capsys)
    assert fig.kills >= len(SERVICES), "the drill did not kill every service at least once"
    assert all(system.child_pids(s) for s in SERVICES), "a killed service was not restarted"
    assert fig.duplicates_suppressed >= load.repeats

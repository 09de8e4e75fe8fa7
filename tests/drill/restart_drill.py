"""A server restarted in the middle of a run, then the drill's audit (shared by the RabbitMQ
and PostgreSQL restart drills, each in its own module so each gets a fresh system)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.drill.drill_audit import audit, wait_settled
from tests.support.drill import Figures, Load, Sim, drill_n
from tests.support.system import System

PUBLISH_S = 12.0  # the restart lands about a third of the way into the publishing


def restart_drill(name: str, system: System, sim: Sim, restart: Callable[[], None],
                  capsys: pytest.CaptureFixture[str]) -> None:
    """Publish, restart the server a third of the way in, then audit and print the figures."""
    started = time.monotonic()
    n = drill_n(share=0.2)
    load = Load(system.infra.amqp_url, n, pause_s=PUBLISH_S / n).start()
    time.sleep(PUBLISH_S / 3)
    down_at = time.monotonic()
    restart()
    outage = time.monotonic() - down_at
    load.join()
    wait_settled(system, load, timeout=300)
    checked = audit(system, sim, load)
    fig = Figures(name, invoices=len(load.numbers), messages=load.published,
                  repeats_published=load.repeats, doublons=checked["rejected"],
                  outage_s=round(outage, 1), publisher_reconnects=load.reconnects,
                  elapsed_s=round(time.monotonic() - started, 1), extra=checked)
    fig.from_log(system.log)
    fig.show(capsys)

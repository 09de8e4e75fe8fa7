"""Drill: RabbitMQ restarted (``rabbitmqctl stop_app`` / ``start_app``) in the middle
of a run. Afterwards each invoice is archived and transmitted exactly once, or rejected with a
reason.

The restart hits EVERY vhost on this server (other suites too): the drill restarts once,
briefly, and waits until the server answers again before going on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.drill.drill_audit import audit, wait_settled
from tests.support.drill import (
    Figures,
    Load,
    Sim,
    drill_n,
    restart_rabbitmq,
)
from tests.support.system import System

pytestmark = pytest.mark.drill

PUBLISH_S = 12.0  # the restart lands about a third of the way into the publishing


def _drill(name: str, system: System, sim: Sim, restart: Callable[[], None],
           capsys: pytest.CaptureFixture[str]) -> None:
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


def test_rabbitmq_restart_mid_run_archives_and_transmits_exactly_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    _drill("rabbitmq-restart", system, sim, restart_rabbitmq, capsys)

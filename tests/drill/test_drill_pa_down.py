"""Drill: the PA simulator is down for ``EFACTURE_DRILL_OUTAGE_S`` (default 20 s; a minute
is one env var away) in the middle of a run. With retry delays 2,5,10,20,30 (about 67 s of
retries) every invoice must be delivered once, none dead-lettered; should some still be
dead-lettered (a longer outage), ``efacture dlq replay --all`` must deliver them once."""

from __future__ import annotations

import time

import pytest

from tests.drill.drill_audit import audit, wait_settled
from tests.support.drill import Figures, Load, Sim, drill_n, outage_seconds
from tests.support.system import System

pytestmark = pytest.mark.drill


@pytest.fixture(scope="module")
def drill_env() -> dict[str, str]:
    return {"EFACTURE_TRANSMIT_RETRY_DELAYS": "2,5,10,20,30"}


def test_pa_down_mid_run_delivers_every_invoice_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    outage = outage_seconds(20)
    # Paced so that the outage falls in the middle of the publishing.
    n = drill_n(share=0.15)
    load = Load(system.infra.amqp_url, n, pause_s=outage / n).start()
    time.sleep(outage / 3)
    uploads_before = sim.stats()["uploads_attempted"]
    sim.config(down=True)
    time.sleep(outage)
    sim.config(down=False)
    load.join()
    replayed = 0
    try:
        wait_settled(system, load, timeout=240)
    except AssertionError:
        letters = system.cli_json("dlq", "list")
        if not letters:
            raise
        replayed = len(letters)
        system.cli_json("dlq", "replay", "--all")
        wait_settled(system, load, timeout=240)
    checked = audit(system, sim, load)
    fig = Figures("pa-down", invoices=len(load.numbers), messages=load.published,
                  repeats_published=load.repeats, doublons=checked["rejected"],
                  outage_s=outage, elapsed_s=round(time.monotonic() - started, 1),
                  extra=checked | {"dead_letters_replayed": replayed,
                                   "uploads_before_outage": uploads_before,
                                   "uploads_attempted": sim.stats()["uploads_attempted"]})
    fig.from_log(system.log)
    fig.show(capsys)

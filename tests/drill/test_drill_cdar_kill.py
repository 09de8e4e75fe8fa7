"""Drill: transmit SIGKILLed while it follows CDAR lifecycle flows; ``efacture up`` restarts
it. Afterwards every invoice has exactly one 200, one 202 and one 205 (by ``event_id``; a
repeated publication carries the same id), first seen in that causal order, and no invoice
was uploaded twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.drill import Sim
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener, System

pytestmark = pytest.mark.drill

N = 30
KILLS = 3


@pytest.fixture(scope="module")
def drill_env() -> dict[str, str]:
    return {"EFACTURE_PA_SIM_LIFECYCLE_CODES": "202,205",
            "EFACTURE_PA_SIM_LIFECYCLE_INTERVAL_S": "0.5"}


def test_transmit_killed_while_following_cdars_publishes_each_status_once_in_order(
        system: System, sim: Sim, tmp_path: Path) -> None:
    listener = StatusListener(system.infra.amqp_url)
    try:
        files = []
        for n in range(N):
            path = tmp_path / f"CDAR-KILL-{n}.xml"
            path.write_bytes(cii_invoice(f"CDAR-KILL-{n}"))
            files.append(str(path))
        sids = [s["submission_id"] for s in system.cli_json("submit", *files,
                                                              "--tenant", TENANT)]

        def statuses(events: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
            out: dict[str, dict[int, str]] = {s: {} for s in sids}
            for e in events:
                if e["event"] == "lifecycle" and e["submission_id"] in out:
                    out[e["submission_id"]].setdefault(e["lifecycle_code"], e["event_id"])
            return out

        kills = 0
        deadline = time.monotonic() + 240
        while kills < KILLS and time.monotonic() < deadline:
            seen = statuses(listener.snapshot())
            if sum(1 for codes in seen.values() if 202 in codes) > kills * N // (KILLS + 1):
                if system.kill("transmit"):
                    kills += 1
                time.sleep(1.0)
            time.sleep(0.1)
        events = listener.wait_for(
            lambda ev: all(set(c) >= {200, 202, 205} for c in statuses(ev).values()),
            timeout=300)
    finally:
        listener.close()
    assert kills >= 1, "transmit was never killed while following"
    for sid in sids:
        mine = [e for e in events if e["submission_id"] == sid and e["event"] == "lifecycle"]
        first_seen = list(dict.fromkeys(e["lifecycle_code"] for e in mine))
        assert first_seen == [200, 202, 205], (sid, first_seen)
        ids = {code: {e["event_id"] for e in mine if e["lifecycle_code"] == code}
               for code in (200, 202, 205)}
        assert all(len(v) == 1 for v in ids.values()), (sid, ids)
    assert all(count == 1 for count in sim.stats()["by_tracking_id"].values())

"""Transmit's failure classes, dead letters and replays (issue 5), through `efacture up`,
the built-in PA simulator's fault API and the `dlq` commands.

Every test uses invoices of its own (distinct numbers) and reads the simulator's
own count of the flows it holds per trackingId (= invoice id).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.transmit.pa_sim.controls import control_headers
from tests.support.drill import started
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE, StatusListener, System

pytestmark = pytest.mark.e2e


class Sim:
    """The PA simulator's control API."""

    def __init__(self, port: str, data_dir: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.headers = control_headers(data_dir)

    def config(self, **changes: Any) -> None:
        httpx.post(f"{self.base}/_sim/config", json=changes, timeout=10,
                   headers=self.headers).raise_for_status()

    def heal(self) -> None:
        self.config(down=False, failure_rate=0.0, failure_status=503, latency_ms=0,
                    failure_scope="all", lost_answer_rate=0.0,
                    max_file_bytes=10 * 1024 * 1024)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.base}/_sim/stats", timeout=10,
                                         headers=self.headers).json()
        return data

    def flows_for(self, invoice_id: str) -> int:
        return int(self.stats()["by_tracking_id"].get(invoice_id, 0))


@pytest.fixture(scope="module")
def system(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with started(System(infra, tmp_path_factory.mktemp("efacture-transmit")), TENANT,
                 name="Demo", subscribed_on="2026-11-01") as sys_:
        yield sys_


@pytest.fixture
def sim(system: System) -> Iterator[Sim]:
    s = Sim(system.env["EFACTURE_PA_SIM_PORT"], system.env["EFACTURE_DATA_DIR"])
    s.heal()
    yield s
    s.heal()


_counter = iter(range(1, 10_000))


def submit(system: System, tmp: Path, n: int = 1) -> list[str]:
    """Submit ``n`` new invoices; returns their submission ids."""
    files = []
    for _ in range(n):
        number = f"DLQ-{time.time_ns()}-{next(_counter)}"
        path = tmp / f"{number}.xml"
        path.write_bytes(cii_invoice(number))
        files.append(str(path))
    return [s["submission_id"] for s in system.cli_json("submit", *files, "--tenant", TENANT)]


def of(events: list[dict[str, Any]], sid: str, name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["submission_id"] == sid and e["event"] == name]


def invoice_ids(listener: StatusListener, sids: list[str]) -> dict[str, str]:
    events = listener.wait_for(lambda ev: all(of(ev, s, "archived") for s in sids))
    return {s: of(events, s, "archived")[0]["invoice_id"] for s in sids}


def until(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_transient_failures_are_retried_then_delivered_once(system, listener, sim, tmp_path):
    sim.config(failure_rate=1.0, failure_status=429, retry_after=1)
    before = sim.stats()["uploads_attempted"]
    [sid] = submit(system, tmp_path)
    until(lambda: sim.stats()["uploads_attempted"] > before)
    sim.heal()
    events = listener.wait_for(lambda ev: of(ev, sid, "transmitted"))
    [iid] = invoice_ids(listener, [sid]).values()
    assert sim.flows_for(iid) == 1
    assert of(events, sid, "transmitted")[0]["detail"]["attempts"] >= 2  # retried, not failed
    assert not of(listener.snapshot(), sid, "transmission_failed")


def test_retry_after_longer_than_every_delay_is_honoured(system, listener, sim, tmp_path):
    """A 429 whose Retry-After (4 s) exceeds every retry delay (1 s, 2 s here): the next
    upload still waits at least that long (a lower bound: a loaded machine only adds)."""
    wait = 4
    sim.config(failure_rate=1.0, failure_status=429, retry_after=wait, failure_scope="uploads")
    before = sim.stats()["uploads_attempted"]
    [sid] = submit(system, tmp_path)
    until(lambda: sim.stats()["uploads_attempted"] >= before + 2, timeout=90)
    stats = sim.stats()
    sim.heal()
    first, second = stats["upload_attempt_times"][-(stats["uploads_attempted"] - before):][:2]
    assert second - first >= wait - 0.2
    listener.wait_for(lambda ev: of(ev, sid, "transmitted"))


def test_a_lost_answer_is_found_at_the_pa_and_never_uploaded_again(
        system, listener, sim, tmp_path):
    """The PA stores the flow but its answer is lost (connection dropped): the retry finds
    the flow by trackingId and adopts it; nothing is uploaded twice."""
    sim.config(lost_answer_rate=1.0)
    before = sim.stats()
    [sid] = submit(system, tmp_path)
    until(lambda: sim.stats()["uploads_attempted"] > before["uploads_attempted"])
    sim.config(lost_answer_rate=0.0)
    events = listener.wait_for(lambda ev: of(ev, sid, "transmitted"))
    [iid] = invoice_ids(listener, [sid]).values()
    assert sim.flows_for(iid) == 1
    assert sim.stats()["duplicates_refused"] == before["duplicates_refused"]
    assert of(events, sid, "transmitted")[0]["detail"]["attempts"] >= 1


def test_permanent_refusal_is_answered_once_and_dead_lettered_as_permanent(
        system, listener, sim, tmp_path):
    sim.config(max_file_bytes=100)  # every upload is answered 413 FileTooLarge
    [sid] = submit(system, tmp_path)
    events = listener.wait_for(lambda ev: of(ev, sid, "transmission_failed"))
    [failed] = of(events, sid, "transmission_failed")
    assert failed["detail"]["permanent"] is True
    assert failed["detail"]["attempts"] == 1
    assert failed["reasons"]
    [iid] = invoice_ids(listener, [sid]).values()
    [row] = [r for r in system.cli_json("dlq", "list") if r["invoice_id"] == iid]
    assert row["permanent"] is True
    assert row["attempts"] == 1
    # A later invoice going through proves the refused one was not retried meanwhile.
    sim.heal()
    [probe] = submit(system, tmp_path)
    listener.wait_for(lambda ev: of(ev, probe, "transmitted"))
    assert len(of(listener.snapshot(), sid, "transmission_failed")) == 1
    assert not of(listener.snapshot(), sid, "transmitted")
    system.cli("dlq", "drop", row["id"])


def test_pa_down_dead_letters_after_last_attempt_and_replay_delivers_once(
        system, listener, sim, tmp_path):
    sim.config(down=True)
    sids = submit(system, tmp_path, 2)
    events = listener.wait_for(lambda ev: all(of(ev, s, "transmission_failed") for s in sids))
    retries = len(system.env["EFACTURE_TRANSMIT_RETRY_DELAYS"].split(","))
    for s in sids:
        [failed] = of(events, s, "transmission_failed")
        assert failed["detail"]["permanent"] is False
        assert failed["detail"]["attempts"] == retries + 1
    ids = invoice_ids(listener, sids)
    rows = {r["invoice_id"]: r for r in system.cli_json("dlq", "list")}
    assert set(ids.values()) <= set(rows)
    shown = system.cli_json("dlq", "show", rows[ids[sids[0]]]["id"])
    assert shown["headers"]["x-efacture-attempts"] == retries + 1
    assert shown["headers"]["x-efacture-error"]
    sim.heal()
    system.cli_json("dlq", "replay", *(rows[i]["id"] for i in ids.values()))
    listener.wait_for(lambda ev: all(of(ev, s, "transmitted") for s in sids))
    for iid in ids.values():
        assert sim.flows_for(iid) == 1
    left = {r["invoice_id"] for r in system.cli_json("dlq", "list")}
    assert not left & set(ids.values())


def test_replay_killed_midway_loses_nothing_and_doubles_nothing(
        system, listener, sim, tmp_path):
    # Refused at once (413): dead letters without spending minutes of retries.
    sim.config(max_file_bytes=100)
    sids = submit(system, tmp_path, 8)
    listener.wait_for(lambda ev: all(of(ev, s, "transmission_failed") for s in sids))
    ids = invoice_ids(listener, sids)
    sim.heal()
    proc = subprocess.Popen([EFACTURE, "dlq", "replay", "--all", "--rate", "1", "--json"],
                            env=system.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    until(lambda: sum(1 for s in sids if of(listener.snapshot(), s, "transmitted")) >= 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sum(1 for s in sids if of(listener.snapshot(), s, "transmitted")) < len(sids)
    system.cli_json("dlq", "replay", "--all")
    listener.wait_for(lambda ev: all(of(ev, s, "transmitted") for s in sids))
    for iid in ids.values():
        assert sim.flows_for(iid) == 1
    assert system.cli_json("dlq", "list") == []


def test_transmit_killed_between_upload_and_ack_uploads_once(system, listener, sim, tmp_path):
    # The upload waits 3 s inside the PA; transmit is frozen (SIGSTOP) while it waits, so
    # the flow is stored but transmit never records it nor acks: then it is SIGKILLed.
    sim.config(latency_ms=3000)
    before = sim.stats()
    [sid] = submit(system, tmp_path)
    until(lambda: sim.stats()["uploads_attempted"] > before["uploads_attempted"])
    pids = system.child_pids("transmit")
    for pid in pids:
        subprocess.run(["kill", "-STOP", str(pid)], check=True)
    until(lambda: sim.stats()["flows"] > before["flows"])
    for pid in pids:
        subprocess.run(["kill", "-KILL", str(pid)], check=True)
    sim.heal()
    [iid] = invoice_ids(listener, [sid]).values()
    events = listener.wait_for(lambda ev: of(ev, sid, "transmitted"), timeout=90)
    assert sim.flows_for(iid) == 1
    assert sim.stats()["uploads_attempted"] == before["uploads_attempted"] + 1
    assert len(of(events, sid, "transmitted")) == 1

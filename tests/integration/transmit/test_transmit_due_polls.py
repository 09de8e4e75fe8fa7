"""Acknowledgement polls as due rows (issue 15): claimed in one statement on a real PostgreSQL,
leased for one poll delay, shared out between processes, given up after ``max_polls``; the
poller reads every claimed flow, acknowledges the final ones, and one flow's failure leaves
the others' outcome untouched.

The PA and the acknowledgement batcher are recording fakes here (what the PA answers is the
point of the e2e tests); the claim, its lease and its locks are the database's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import psycopg
import pytest

from services.transmit.adapters import due_polls
from services.transmit.adapters import repository as repo
from services.transmit.adapters.pa_models import FlowStatus
from services.transmit.domain.breaker import BreakerState
from services.transmit.polling import AckPoller
from shared import db
from shared.errors import RetryableError
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

TENANT = "99999999800010"


@pytest.fixture(scope="module")
def url(infra: Infra) -> str:
    db.migrate(infra.database_url)
    return infra.database_url


@pytest.fixture
def clean(url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM transmit.transmission")
        yield conn


def _row(conn: psycopg.Connection[Any], *, state: str = "uploaded", due_in_s: float | None = -1,
         polls: int = 0) -> uuid.UUID:
    invoice_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO transmit.transmission (invoice_id, tenant, state, flow_id, poll_at, polls)"
        " VALUES (%s, %s, %s, %s,"
        " CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %s) END, %s)",
        (invoice_id, TENANT, state, f"flow-{invoice_id.hex[:8]}", due_in_s, due_in_s or 0, polls))
    return invoice_id


async def _claim(url: str, **kw: Any) -> list[due_polls.DuePoll]:
    args = {"limit": 100, "delay_s": 60.0, "max_polls": 3600, **kw}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await due_polls.claim(conn, **args)


def test_only_due_uploaded_flows_are_claimed_and_each_claim_is_a_lease(
        url: str, clean: psycopg.Connection[Any]) -> None:
    due = _row(clean)
    _row(clean, due_in_s=30)                    # not yet due
    _row(clean, state="accepted")               # acknowledged already
    _row(clean, due_in_s=None, polls=3600)      # polls gave up
    first = asyncio.run(_claim(url))
    assert [(d.invoice_id, d.polls) for d in first] == [(due, 1)]
    assert asyncio.run(_claim(url)) == []       # leased for delay_s
    clean.execute("UPDATE transmit.transmission SET poll_at = now() - interval '1 s'"
                  " WHERE invoice_id = %s", (due,))
    assert [d.polls for d in asyncio.run(_claim(url))] == [2]


def test_the_poll_that_reaches_the_limit_is_the_last(
        url: str, clean: psycopg.Connection[Any]) -> None:
    last = _row(clean, polls=2)
    assert [d.invoice_id for d in asyncio.run(_claim(url, max_polls=3, delay_s=0.0))] == [last]
    assert clean.execute("SELECT poll_at, polls FROM transmit.transmission WHERE invoice_id = %s",
                         (last,)).fetchone() == (None, 3)
    assert asyncio.run(_claim(url, max_polls=3, delay_s=0.0)) == []


def test_a_flow_another_process_holds_is_skipped_not_waited_for(
        url: str, clean: psycopg.Connection[Any]) -> None:
    held, free = _row(clean), _row(clean)
    with psycopg.connect(url) as other:  # another process, mid-claim: the row is locked
        other.execute("SELECT 1 FROM transmit.transmission WHERE invoice_id = %s FOR UPDATE",
                      (held,))
        assert [d.invoice_id for d in asyncio.run(_claim(url))] == [free]
    assert [d.invoice_id for d in asyncio.run(_claim(url))] == [held]


def test_a_queued_poll_of_an_earlier_version_makes_its_flow_due(
        url: str, clean: psycopg.Connection[Any]) -> None:
    old = _row(clean, due_in_s=None)  # uploaded by an earlier version: no poll_at
    assert asyncio.run(_claim(url)) == []

    async def make_due() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await due_polls.make_due(conn, old)

    asyncio.run(make_due())
    assert [d.invoice_id for d in asyncio.run(_claim(url))] == [old]


@dataclass
class Pa:
    answers: dict[str, Literal['Pending', 'Ok', 'Error'] | Exception]
    read: list[str] = field(default_factory=list)

    def breaker_state(self, endpoint: Any) -> BreakerState:
        return BreakerState.CLOSED

    async def get_flow(self, creds: Any, flow_id: str) -> FlowStatus:
        self.read.append(flow_id)
        answer = self.answers[flow_id]
        if isinstance(answer, Exception):
            raise answer
        return FlowStatus(flow_id=flow_id, tracking_id="", ack_status=answer)


def test_the_poller_acknowledges_final_flows_and_a_failing_read_touches_no_other(
        url: str, clean: psycopg.Connection[Any]) -> None:
    rows = {name: _row(clean) for name in ("ok", "error", "pending", "failing")}
    flows = dict(clean.execute("SELECT invoice_id, flow_id FROM transmit.transmission").fetchall())
    by_name = {name: flows[i] for name, i in rows.items()}
    pa = Pa({by_name["ok"]: "Ok", by_name["error"]: "Error", by_name["pending"]: "Pending",
             by_name["failing"]: RetryableError("PA timed out", code="pa-timeout")})
    recorded: list[tuple[uuid.UUID, str]] = []

    async def record(ack: Any) -> None:
        recorded.append((ack.invoice_id, ack.status.ack_status))

    async def credentials(tenant: str) -> Any:
        return SimpleNamespace(endpoint="sandbox")

    async def run() -> int:
        pool = await db.open_pool(url, max_size=2)
        try:
            rt = SimpleNamespace(pool=pool)
            transmit = SimpleNamespace(rt=rt, pa=pa, credentials=credentials,
                                       acks=SimpleNamespace(record=record))
            poller = AckPoller(transmit, batch=3, lease_s=3600)  # type: ignore[arg-type]
            return await poller.drain()
        finally:
            await pool.close()

    assert asyncio.run(run()) == 4  # two rounds: 3, then 1
    assert sorted(pa.read) == sorted(by_name.values())
    assert sorted(recorded) == sorted([(rows["ok"], "Ok"), (rows["error"], "Error")])
    # The pending and the failing flow are polled again one poll delay on; the acknowledged
    # ones keep their lease (their state changes with the acknowledgement's commit).
    next_poll = dict(clean.execute(
        "SELECT invoice_id, poll_at - now() FROM transmit.transmission").fetchall())
    again = [next_poll[rows["pending"]], next_poll[rows["failing"]]]
    leased = [next_poll[rows["ok"]], next_poll[rows["error"]]]
    assert max(again) < min(leased)
    assert clean.execute("SELECT array_agg(DISTINCT polls) FROM transmit.transmission"
                         ).fetchone() == ([1],)


def test_an_upload_schedules_its_first_poll(url: str, clean: psycopg.Connection[Any]) -> None:
    invoice_id = _row(clean, state="pending", due_in_s=None, polls=7)

    async def upload() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await repo.set_uploaded(conn, [(invoice_id, "flow-new")], first_poll_s=3600)
            await conn.commit()

    asyncio.run(upload())
    assert asyncio.run(_claim(url)) == []  # due in an hour, not now
    row = clean.execute("SELECT state, flow_id, polls, poll_at > now() FROM"
                        " transmit.transmission WHERE invoice_id = %s", (invoice_id,)).fetchone()
    assert row == ("uploaded", "flow-new", 0, True)

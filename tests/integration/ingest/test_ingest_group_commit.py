"""Ingest group-commits concurrent submissions (issue 15): their reads are one statement,
their verdicts one transaction, per batch, and every verdict is what one-at-a-time handling
decides — a second invoice number is ``duplicate-invoice``, a second copy of a message_id is
a repeated delivery, and a row a concurrent consumer recorded first fails nobody else.

The service runs in-process on a real PostgreSQL database (the ingest role's own pool); the
broker is a recording fake, and the analysis is held until every submission has reached it,
so the decided submissions meet in the recorder at once (no timing is asserted).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from services.ingest.domain.analysis import Analysis, analyse
from services.ingest.domain.submission import decode
from services.ingest.service import IngestService, Verdict
from shared import db
from shared.settings import Settings
from shared.topology import INTERNAL, RK_ACCEPTED, STATUS
from tests.support.infra import Infra
from tests.support.invoices import TENANT, cii_invoice

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(infra: Infra) -> Settings:
    db.migrate(infra.database_url)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                     " VALUES (%s, 'Batch', '2026-01-01', true)", (TENANT,))
    return Settings(database_url=infra.database_url, amqp_url=infra.amqp_url)


@dataclass
class Broker:
    """Records what the service publishes; every publish is confirmed."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def publish(self, *, exchange: str, routing_key: str, body: bytes, message_id: str,
                      **_: Any) -> None:
        await asyncio.sleep(0)
        self.sent.append({"exchange": exchange, "routing_key": routing_key,
                          "message_id": message_id, "body": json.loads(body)})


async def _decide_at_once(
    settings: Settings, items: list[tuple[str, bytes]],
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> tuple[list[Verdict], IngestService, Broker]:
    """Handle every (message_id, body) concurrently; the analyses return together, once all
    have started (and after ``meanwhile`` ran: a concurrent consumer's work)."""
    broker = Broker()
    pool = await db.open_pool(db.service_url(settings, "ingest"), max_size=4)
    svc = IngestService(SimpleNamespace(settings=settings, pool=pool,  # type: ignore[arg-type]
                                        publish=broker.publish))
    arrived, gate = 0, asyncio.Event()

    async def held_analyse(body: bytes, content_type: str | None, *, sandbox: bool) -> Analysis:
        nonlocal arrived
        arrived += 1
        if arrived == len(items):
            if meanwhile is not None:
                await meanwhile()
            gate.set()
        await gate.wait()
        return analyse(body, content_type, sandbox=sandbox, max_bytes=10**7)

    svc._analyse = held_analyse  # type: ignore[method-assign]
    subs = [decode({}, mid, "application/xml", None, f"invoice.submit.{TENANT}")
            for mid, _ in items]
    try:
        verdicts = await asyncio.gather(*(svc.handle(body, sub)
                                          for (_, body), sub in zip(items, subs, strict=True)))
    finally:
        await svc.stop()
        await pool.close()
    return list(verdicts), svc, broker


def _rows(settings: Settings, mids: list[str]) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT message_id, state, reasons, forwarded_at IS NOT NULL FROM ingest.submission"
            " WHERE message_id = ANY(%s)", (mids,)).fetchall()
        pending = conn.execute("SELECT count(*) FROM core.outbox WHERE published_at IS NULL"
                               " AND submission_id = ANY(%s)", (mids,)).fetchone()
    assert pending == (0,)
    return {r[0]: (r[1], [x["code"] for x in r[2]], r[3]) for r in rows}


def test_concurrent_submissions_share_one_transaction_and_keep_every_verdict(
        settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    mids = [f"batch-{run}-{i}" for i in range(8)]
    bodies = [cii_invoice(f"B-{run}-{i}") for i in range(7)] + [cii_invoice(f"B-{run}-6")]
    items = [*zip(mids, bodies, strict=True), (mids[0], bodies[0])]  # m7: m6's number again
    verdicts, svc, broker = asyncio.run(_decide_at_once(settings, items))

    assert svc.recorder.batches < len(items)
    assert svc.lookups.batches < len(items)
    rows = _rows(settings, mids)
    assert len(rows) == 8
    doublons = {m for m in mids[6:] if rows[m][0] == "rejected"}
    assert len(doublons) == 1
    assert rows[doublons.pop()][1] == ["duplicate-invoice"]
    accepted = {m for m, (state, _, _) in rows.items() if state == "accepted"}
    assert len(accepted) == 7
    assert all(rows[m][2] for m in accepted)  # forwarded, and marked so
    copies = (verdicts[0], verdicts[-1])  # either copy of m0 may be the one recorded
    assert sorted(v.duplicate_delivery for v in copies) == [False, True]
    assert copies[0].invoice_id == copies[1].invoice_id
    assert copies[0].accepted
    assert [v.duplicate_delivery for v in verdicts[1:-1]] == [False] * 7
    status = sorted((m["body"]["submission_id"], m["body"]["event"])
                    for m in broker.sent if m["exchange"] == STATUS)
    assert status == sorted((m, "received" if m in accepted else "rejected") for m in mids)
    forwards = sorted(m["body"]["submission_id"] for m in broker.sent
                      if (m["exchange"], m["routing_key"]) == (INTERNAL, RK_ACCEPTED))
    assert forwards == sorted(accepted)


def test_a_submission_a_concurrent_consumer_recorded_first_fails_no_other(
        settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    mids = [f"race-{run}-{i}" for i in range(6)]
    items = [(m, cii_invoice(f"R-{run}-{i}")) for i, m in enumerate(mids)]
    theirs = uuid.uuid4()

    async def other_consumer_records_race_3() -> None:
        async with await psycopg.AsyncConnection.connect(settings.database_url,
                                                         autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO ingest.submission (tenant, message_id, invoice_id, state, sha256)"
                " VALUES (%s, %s, %s, 'rejected', %s)", (TENANT, mids[3], theirs, "0" * 64))

    verdicts, svc, broker = asyncio.run(
        _decide_at_once(settings, items, other_consumer_records_race_3))

    # Split around race-3's row until it was alone: the others still share transactions.
    assert svc.recorder.batches < len(items) - 1
    rows = _rows(settings, mids)
    assert {m: state for m, (state, _, _) in rows.items()} == {
        **{m: "accepted" for m in mids}, mids[3]: "rejected"}
    assert verdicts[3] == Verdict(theirs, accepted=False, duplicate_delivery=True)
    assert all(v.accepted and not v.duplicate_delivery
               for i, v in enumerate(verdicts) if i != 3)
    forwards = sorted(m["body"]["submission_id"] for m in broker.sent
                      if m["exchange"] == INTERNAL)
    assert forwards == sorted(m for i, m in enumerate(mids) if i != 3)
    # The other consumer's verdict stands: nothing of this one was published for race-3.
    assert not [m for m in broker.sent if m["body"].get("submission_id") == mids[3]]

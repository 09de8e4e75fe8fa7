"""``metering.period_closed``: one event per tenant and ended period, whatever restarts or races."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from services.metering.closing import RK_PERIOD_CLOSED, PeriodCloser, due_periods
from shared import db
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import INTERNAL
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

EFACTURE = str(Path(sys.executable).parent / "efacture")
TENANT = "99999999800010"
QUEUE = "test.period_closed"
TODAY = date(2027, 1, 5)


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    environment = infra.env(str(tmp_path_factory.mktemp("closing")))
    db.migrate(infra.database_url)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        # Registered on 2026-11-27, subscribed on 2026-01-31: periods Oct 31–Nov 29 and
        # Nov 30–Dec 30 are due on 2027-01-05; Sep 30–Oct 30 ended before the registration.
        conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox, created_at)"
                     " VALUES (%s, 'Test', '2026-01-31', true, '2026-11-27T10:00:00Z')",
                     (TENANT,))
        conn.execute("INSERT INTO metering.period_count VALUES"
                     " (%s, '2026-10-31', '2026-11-29', 12),"
                     " (%s, '2026-11-30', '2026-12-30', 901), (%s, '2026-09-30', '2026-10-30', 5),"
                     " (%s, '2026-08-31', '2026-09-29', 11)", (TENANT,) * 4)
    subprocess.run([EFACTURE, "topology", "apply"], env=environment, check=True,
                   capture_output=True, timeout=60)
    conn = pika.BlockingConnection(pika.URLParameters(infra.amqp_url))
    ch = conn.channel()
    ch.queue_declare(QUEUE, durable=True)
    ch.queue_bind(QUEUE, INTERNAL, RK_PERIOD_CLOSED)
    conn.close()
    return environment


def _settings(infra: Infra) -> Settings:
    return Settings(amqp_url=infra.amqp_url, database_url=infra.database_url)


async def _close_with(settings: Settings, closers: int) -> int:
    runtimes = [Runtime(settings, "metering") for _ in range(closers)]
    for rt in runtimes:
        await rt.start()
    try:
        counts = await asyncio.gather(*(PeriodCloser(rt).run(TODAY) for rt in runtimes))
    finally:
        for rt in runtimes:
            await rt.stop()
            await rt.broker.stop()
    return sum(counts)


def _events(infra: Infra) -> list[dict[str, Any]]:
    conn = pika.BlockingConnection(pika.URLParameters(infra.amqp_url))
    ch = conn.channel()
    events = []
    while True:
        method, _props, body = ch.basic_get(QUEUE, auto_ack=True)
        if method is None:
            break
        events.append(json.loads(body))
    conn.close()
    return events


def test_due_periods_are_those_ended_while_registered():
    periods = due_periods(date(2026, 1, 31), date(2026, 11, 27), TODAY)
    assert [(p.start, p.end) for p in periods] == [
        (date(2026, 10, 31), date(2026, 11, 29)), (date(2026, 11, 30), date(2026, 12, 30))]


def test_two_concurrent_closers_then_a_restart_publish_each_period_once(infra, env):
    settings = _settings(infra)
    assert asyncio.run(_close_with(settings, 2)) == 2
    assert asyncio.run(_close_with(settings, 1)) == 0
    events = _events(infra)
    assert sorted((e["period_start"], e["count"]) for e in events) == [
        ("2026-10-31", 12), ("2026-11-30", 901)]
    december = next(e for e in events if e["period_start"] == "2026-11-30")
    assert december["plan"] == "paid"
    assert december["tranches"] == 2
    assert december["previous_period_count"] == 12
    with psycopg.connect(infra.database_url) as conn:
        pending = conn.execute("SELECT count(*) FROM core.outbox WHERE routing_key = %s"
                               " AND published_at IS NULL", (RK_PERIOD_CLOSED,)).fetchone()
    assert pending == (0,)


@pytest.mark.parametrize("period", [["--period", "2026-10-15"], []])
def test_statement_command_shows_a_closed_period(infra, env, period):
    # As of 2026-11-15 the last closed period is 2026-09-30..2026-10-30 (the clock is injected).
    res = subprocess.run([EFACTURE, "usage", "statement", TENANT, *period, "--as-of",
                          "2026-11-15", "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    assert (st["period_start"], st["period_end"], st["count"]) == ("2026-09-30", "2026-10-30", 5)
    assert (st["previous_period_count"], st["plan"], st["tranches"]) == (11, "paid", 0)
    assert st["amount"] == "0.00"


def test_statement_of_the_open_period_is_refused(infra, env):
    res = subprocess.run([EFACTURE, "usage", "statement", TENANT, "--period", "2026-11-10",
                          "--as-of", "2026-11-15"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "not closed" in res.stderr

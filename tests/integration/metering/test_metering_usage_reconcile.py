"""``efacture usage SIRET`` and ``efacture usage reconcile`` against a catalogue and counters.

The archive catalogue rows are written directly (the archive service is not running here); the
counters are filled by the metering service layer itself, so the two sides agree only if the
counting rule and the reconciliation rule agree.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from services.metering.service import MeteringService
from shared import db
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.runtime import Runtime
from shared.settings import Settings
from tests.support.infra import Infra

pytestmark = pytest.mark.integration

EFACTURE = str(Path(sys.executable).parent / "efacture")
TENANT = "99999999800010"
# Paris days: Feb 27 23:30 UTC is Feb 28 00:30 in Paris, the first day of the second period.
ARCHIVED_AT = [datetime(2026, 2, 10, 9, tzinfo=UTC), datetime(2026, 2, 27, 23, 30, tzinfo=UTC),
               datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 1, 2, 9, tzinfo=UTC)]


def _catalogue_row(conn: psycopg.Connection[Any], invoice_id: uuid.UUID, at: datetime,
                   index: int, state: str) -> None:
    conn.execute(
        "INSERT INTO archive.invoice (invoice_id, tenant, submission_id, kind, content_type,"
        " size_bytes, sha256, blob_key, tenant_key_version, tsa_token, tsa_time, log_index,"
        " retain_until, transmit, state, archived_at) VALUES (%s, %s, %s, 'cii', 'application/xml',"
        " 1, %s, 'k', 1, '\\x00', %s, %s, '2036-01-01', false, %s, %s)",
        (invoice_id, TENANT, str(invoice_id), "0" * 64, at, index, state, at))


async def _count(settings: Settings, events: list[InvoiceArchived | InvoicePurged]) -> None:
    rt = Runtime(settings, "metering")
    await rt.start()
    try:
        await MeteringService(rt).count(events)
    finally:
        await rt.stop()
        await rt.broker.stop()


@pytest.fixture(scope="module")
def env(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    environment = infra.env(str(tmp_path_factory.mktemp("usage")))
    db.migrate(infra.database_url)
    ids = [uuid.uuid4() for _ in ARCHIVED_AT]
    events: list[InvoiceArchived | InvoicePurged] = []
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO core.tenant (siret, name, subscribed_on, sandbox)"
                     " VALUES (%s, 'Test', '2026-01-31', true)", (TENANT,))
        for i, (invoice_id, at) in enumerate(zip(ids, ARCHIVED_AT, strict=True)):
            _catalogue_row(conn, invoice_id, at, i, "purged" if i == 0 else "archived")
            events.append(InvoiceArchived(
                invoice_id=invoice_id, tenant=TENANT, submission_id=str(invoice_id),
                invoice_number=None, sha256="0" * 64, syntax=None, profile=None,
                transmit=False, archived_at=at))
    events.append(InvoicePurged(invoice_id=ids[0], tenant=TENANT,
                                purged_at=datetime(2026, 3, 5, tzinfo=UTC)))
    settings = Settings(amqp_url=infra.amqp_url, database_url=infra.database_url)
    asyncio.run(_count(settings, events + events))  # the repeat changes nothing
    return environment


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EFACTURE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_usage_at_a_day_reports_its_period_and_the_one_before(env):
    res = _cli(env, "usage", TENANT, "--at", "2026-03-03", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert {"tenant", "subscribed_on", "period_start", "period_end", "period_count",
            "previous_period_count", "stored", "cumulative", "plan", "tranches"} <= set(report)
    # Jan 2 is before the subscription: it counts in the first period (Jan 31 – Feb 27).
    assert (report["period_start"], report["period_end"]) == ("2026-02-28", "2026-03-30")
    assert (report["period_count"], report["previous_period_count"]) == (2, 2)
    assert (report["stored"], report["cumulative"]) == (4, 4)  # the purge is on Mar 5
    assert (report["plan"], report["tranches"]) == ("free", 0)


def test_usage_now_reports_stored_without_the_purged_invoice(env):
    report = json.loads(_cli(env, "usage", TENANT, "--json").stdout)
    assert (report["stored"], report["cumulative"]) == (3, 4)


def test_usage_of_an_unknown_tenant_fails_in_one_sentence(env):
    res = _cli(env, "usage", "12345678900000")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1


def test_reconcile_matches_when_counters_follow_the_catalogue(env):
    res = _cli(env, "usage", "reconcile", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout) == {"ok": True, "differences": []}


def test_reconcile_names_every_difference_and_exits_1(infra, env):
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE metering.period_count SET count = count + 1"
                     " WHERE tenant = %s AND period_start = '2026-02-28'", (TENANT,))
        conn.execute("UPDATE metering.tenant_count SET stored = stored - 1 WHERE tenant = %s",
                     (TENANT,))
    try:
        res = _cli(env, "usage", "reconcile", "--json")
        assert res.returncode == 1
        found = {(d["counter"], d["period_start"], d["archive"], d["metering"])
                 for d in json.loads(res.stdout)["differences"]}
        assert found == {("period", "2026-02-28", 2, 3), ("stored", None, 3, 2)}
        assert "2026-02-28" in res.stderr
        assert "stored" in res.stderr
    finally:
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            conn.execute("UPDATE metering.period_count SET count = count - 1"
                         " WHERE tenant = %s AND period_start = '2026-02-28'", (TENANT,))
            conn.execute("UPDATE metering.tenant_count SET stored = stored + 1"
                         " WHERE tenant = %s", (TENANT,))

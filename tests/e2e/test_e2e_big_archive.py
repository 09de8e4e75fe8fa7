"""The pipeline on top of a big archive filled directly in PostgreSQL
(``efacture.bench.big_archive``, what ``efacture bench --archive-entries N`` runs on): a new
invoice is archived right after the filled entries, checkpointed and transmitted, and its proof
verifies offline; the log's new checkpoint is consistent with the filled ones, and metering
still reconciles."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from efacture.bench import big_archive
from services.archive.adapters import merkle_store
from services.archive.domain import merkle_proof
from tests.support import infra as infra_mod
from tests.support.system import CORPUS, StatusListener, System

pytestmark = pytest.mark.e2e

ENTRIES = 20_000
TENANT = "99999999800010"
OTHER = "99999999800028"
DOCUMENT = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_BASICWL.pdf"
FILLED_UNTIL = datetime(2026, 11, 30, tzinfo=UTC)  # injected: the test never reads today's date


@pytest.fixture(scope="module")
def big_system(infra: infra_mod.Infra, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[System]:
    """``efacture up`` started on a database that migrations, then the big archive, filled."""
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-big"))
    sys_.cli("db", "migrate")
    filled = big_archive.fill(infra.database_url, Path(sys_.env["EFACTURE_DATA_DIR"]),
                              [TENANT, OTHER], ENTRIES, end=FILLED_UNTIL,
                              subscribed_on=date(2026, 1, 1), checkpoint_every=5_000)
    assert (filled.entries, filled.checkpoints) == (ENTRIES, 4)
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


@pytest.fixture(scope="module")
def new_invoice(big_system: System) -> dict[str, str]:
    """One corpus invoice submitted on top of the big archive: its events by kind."""
    listener = StatusListener(big_system.infra.amqp_url)
    try:
        [sub] = big_system.cli_json("submit", str(DOCUMENT), "--tenant", TENANT)
        sid = sub["submission_id"]
        events = listener.wait_for(timeout=180, predicate=lambda ev: {"archived", "transmitted"}
                                   <= {e["event"] for e in ev if e["submission_id"] == sid})
    finally:
        listener.close()
    mine = [e for e in events if e["submission_id"] == sid]
    return {"invoice_id": mine[0]["invoice_id"], "submission_id": sid,
            "kinds": ",".join(e["event"] for e in mine)}


def _one(database_url: str, query: str) -> tuple:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row


def test_a_new_invoice_is_appended_right_after_the_filled_entries(big_system, new_invoice):
    url = big_system.infra.database_url
    (index,) = _one(url, f"SELECT log_index FROM archive.invoice"  # noqa: S608
                         f" WHERE invoice_id = '{new_invoice['invoice_id']}'")
    assert index == ENTRIES
    assert _one(url, "SELECT count(*) FROM archive.invoice") == (ENTRIES + 1,)
    assert "rejected" not in new_invoice["kinds"].split(",")


def test_the_filled_rows_are_the_size_of_real_ones(big_system, new_invoice):
    """The filled catalogue rows weigh what the archive writes (its TSA token dominates)."""
    (real,) = _one(big_system.infra.database_url,
                   f"SELECT octet_length(tsa_token) FROM archive.invoice"  # noqa: S608
                   f" WHERE invoice_id = '{new_invoice['invoice_id']}'")
    assert abs(real - big_archive.TOKEN_BYTES) <= real // 4, real


def _proof(system: System, invoice_id: str, directory: Path) -> None:
    for _ in range(300):  # checkpoints are signed every second or so
        res = system.cli("proof", invoice_id, "-o", str(directory), "--json", check=False)
        if res.returncode == 0:
            return
        assert "no signed checkpoint covers this invoice yet" in res.stderr, res.stderr
        time.sleep(0.2)
    raise AssertionError("no checkpoint ever covered the new invoice")


def test_the_new_invoice_is_checkpointed_and_its_proof_verifies(big_system, new_invoice,
                                                                tmp_path):
    _proof(big_system, new_invoice["invoice_id"], tmp_path / "bundle")
    trust = tmp_path / "trust"
    big_system.cli("keys", "export-trust", "-o", str(trust))
    res = big_system.cli("verify", str(DOCUMENT), "--proof", str(tmp_path / "bundle"),
                         "--log-key", str(trust / "log.pub"), "--tsa-ca",
                         str(trust / "tsa-ca.pem"), "--json", check=False)
    assert res.returncode == 0, res.stderr
    assert '"ok": true' in res.stdout


def test_the_services_checkpoint_extends_the_filled_log_consistently(big_system, new_invoice,
                                                                     tmp_path):
    _proof(big_system, new_invoice["invoice_id"], tmp_path / "bundle")

    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(big_system.infra.database_url) as conn:
            filled = await merkle_store.checkpoint_at(conn, ENTRIES)
            latest = await merkle_store.latest_checkpoint(conn)
            assert filled is not None
            assert latest is not None
            assert latest.size > ENTRIES
            assert latest.key_id == filled.key_id  # the archive signs with the filled log's key
            proof = await merkle_store.consistency_proof(conn, ENTRIES, latest.size)
            assert merkle_proof.verify_consistency(
                ENTRIES, latest.size, bytes.fromhex(filled.root_hash),
                bytes.fromhex(latest.root_hash), proof)
            assert base64.b64decode(latest.signature)

    asyncio.run(check())


def test_metering_reconciles_with_the_big_archive(big_system, new_invoice):
    res = big_system.cli("usage", "reconcile", "--json", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    (stored,) = _one(big_system.infra.database_url,
                     f"SELECT stored FROM metering.tenant_count WHERE tenant = '{TENANT}'")  # noqa: S608
    assert stored == ENTRIES // 2 + 1
